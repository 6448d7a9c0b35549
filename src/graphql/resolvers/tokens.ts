import type { TokenRecord } from "../../api/types";
import type { ClusterScopes } from "../../auth/authority";
import { clusterScopesToJson } from "../../auth/authority";
import { rootTokenRecord } from "../../auth/localTokens";
import { normaliseScope, ScopeFormatError, type ScopeSet } from "../../auth/scopes";
import { badInput } from "../../errors";
import { CLUSTER_ID_RE } from "../../ids";
import { MAX_CLUSTERS, pageArgs, uuidArg } from "../args";
import { callerOf, type RequestContext } from "../context";
import { connection } from "./shared";

type ScopeInput = { method: string; path: string };
type CreateTokenArgs = {
  input: {
    scopes?: ScopeInput[] | null;
    clusterScopes?: { cluster: string; scopes: ScopeInput[] }[] | null;
    expiresAt?: Date | null;
    userUuid?: string | null;
  };
};

/** Scope checks are linear in a token's scopes, on every field: keep them few. */
const MAX_SCOPES = 100;

export function scopesArg(list: ScopeInput[] | null | undefined, name: string): ScopeSet {
  if (list == null) return null;
  if (list.length > MAX_SCOPES) throw badInput(`${name}: at most ${MAX_SCOPES} scopes`);
  try {
    return list.map((s) => normaliseScope(s.method, s.path));
  } catch (e) {
    if (e instanceof ScopeFormatError) throw badInput(`${name}: ${e.message}`);
    throw e;
  }
}

export function clusterScopesArg(list: CreateTokenArgs["input"]["clusterScopes"], name = "input.clusterScopes"): ClusterScopes | null {
  if (list == null) return null;
  if (list.length > MAX_CLUSTERS) throw badInput(`${name}: at most ${MAX_CLUSTERS} clusters`);
  const out: ClusterScopes = {};
  for (const [i, entry] of list.entries()) {
    if (!CLUSTER_ID_RE.test(entry.cluster)) throw badInput(`${name}[${i}].cluster: "${entry.cluster.slice(0, 32)}" is not a cluster id`);
    if (entry.cluster in out) throw badInput(`${name}: cluster ${entry.cluster} is listed twice`);
    out[entry.cluster] = scopesArg(entry.scopes, `${name}[${i}].scopes`);
  }
  return out;
}

export const tokenResolvers = {
  Query: {
    currentToken: (_: unknown, __: unknown, ctx: RequestContext) => {
      const { token, isRoot } = callerOf(ctx).principal;
      return isRoot ? rootTokenRecord(ctx.clusterId) : token;
    },
    tokens: async (_: unknown, a: { userUuid?: string | null; first?: number | null; after?: string | null }, ctx: RequestContext) => {
      const userUuid = a.userUuid == null ? undefined : uuidArg(a.userUuid, "userUuid", "user");
      return connection(ctx, await ctx.api.tokenList(callerOf(ctx), { ...pageArgs(a, ctx.limits), userUuid }));
    },
  },
  Mutation: {
    createToken: (_: unknown, a: CreateTokenArgs, ctx: RequestContext) =>
      ctx.api.tokenCreate(callerOf(ctx), {
        scopes: scopesArg(a.input.scopes, "input.scopes"),
        clusterScopes: clusterScopesArg(a.input.clusterScopes),
        expiresAt: a.input.expiresAt ?? null,
        userUuid: a.input.userUuid == null ? undefined : uuidArg(a.input.userUuid, "input.userUuid", "user"),
      }),
    revokeToken: (_: unknown, a: { uuid: string }, ctx: RequestContext) =>
      ctx.api.tokenRevoke(callerOf(ctx), uuidArg(a.uuid, "uuid", "token")),
  },
  Token: {
    scopes: (t: TokenRecord) => t.scopes,
    clusterScopes: (t: TokenRecord) => clusterScopesToJson(t.clusterScopes),
  },
};
