import type { CreateSecretInput, UpdateSecretInput } from "../../api/types";
import { badInput } from "../../errors";
import { clustersArg, pageArgs, searchArg, uuidArg, uuidsArg } from "../args";
import { callerOf, type RequestContext } from "../context";
import { clusterField, connection, one } from "./shared";

/** Largest value, in UTF-8 bytes. */
export const MAX_SECRET_VALUE_BYTES = 64 * 1024;

type ListArgs = { search?: string | null; ownerUuid?: string | null; clusters?: string[] | null; first?: number | null; after?: string | null };

const ownerArg = (v: string | null | undefined, name: string) => (v == null ? undefined : uuidArg(v, name, "user", "group"));
const secretArg = (v: string) => uuidArg(v, "uuid", "secret");

function versionArg(v: number | null | undefined): number | null {
  if (v == null) return null;
  if (v < 1) throw badInput("version: must be 1 or more");
  return v;
}

function nameArg(v: string | null | undefined): void {
  if (v != null && !v.trim()) throw badInput("input.name: must not be blank");
}

/** The value's size is checked before anything else reads it (never echoed in the error). */
function valueArg(v: string | null | undefined): void {
  if (v != null && Buffer.byteLength(v, "utf8") > MAX_SECRET_VALUE_BYTES) throw badInput(`input.value: at most ${MAX_SECRET_VALUE_BYTES} bytes (UTF-8)`);
}

export const secretResolvers = {
  Query: {
    secret: (_: unknown, a: { uuid: string }, ctx: RequestContext) => one("secret", secretArg(a.uuid), (u) => ctx.api.secretsGet(callerOf(ctx), u)),
    secretsByUuid: (_: unknown, a: { uuids: string[] }, ctx: RequestContext) => ctx.api.secretsGet(callerOf(ctx), uuidsArg(a.uuids, ctx.limits, "secret")),
    secrets: async (_: unknown, a: ListArgs, ctx: RequestContext) =>
      connection(ctx, await ctx.api.secretList(callerOf(ctx), {
        ...pageArgs(a, ctx.limits), search: searchArg(a.search), clusters: clustersArg(a.clusters), ownerUuid: ownerArg(a.ownerUuid, "ownerUuid"),
      })),
    secretValue: (_: unknown, a: { uuid: string; version?: number | null }, ctx: RequestContext) =>
      ctx.api.secretValue(callerOf(ctx), secretArg(a.uuid), versionArg(a.version)),
    containerSecrets: (_: unknown, __: unknown, ctx: RequestContext) => ctx.api.containerSecrets(callerOf(ctx)),
    wrappingInfo: (_: unknown, a: { token: string }, ctx: RequestContext) => ctx.api.wrappingLookup(ctx.caller, a.token),
  },
  Mutation: {
    createSecret: (_: unknown, a: { input: CreateSecretInput }, ctx: RequestContext) => {
      nameArg(a.input.name);
      valueArg(a.input.value);
      return ctx.api.secretCreate(callerOf(ctx), { ...a.input, ownerUuid: ownerArg(a.input.ownerUuid, "input.ownerUuid") });
    },
    updateSecret: (_: unknown, a: { uuid: string; input: UpdateSecretInput }, ctx: RequestContext) => {
      nameArg(a.input.name);
      valueArg(a.input.value);
      return ctx.api.secretUpdate(callerOf(ctx), secretArg(a.uuid), a.input);
    },
    deleteSecret: (_: unknown, a: { uuid: string }, ctx: RequestContext) => ctx.api.secretDelete(callerOf(ctx), secretArg(a.uuid)),
    wrapSecret: (_: unknown, a: { uuid: string; version?: number | null; ttlSeconds: number }, ctx: RequestContext) =>
      ctx.api.secretWrap(callerOf(ctx), secretArg(a.uuid), versionArg(a.version), a.ttlSeconds),
    unwrapSecret: (_: unknown, a: { token: string }, ctx: RequestContext) => ctx.api.secretUnwrap(ctx.caller, a.token),
  },
  Secret: clusterField,
};
