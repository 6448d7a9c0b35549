/** The federation's container-token calls (schema/containerTokens.graphql): inputs checked, then the router. */
import type { Caller } from "../../auth/principal";
import { unauthenticated } from "../../errors";
import { uuidArg } from "../args";
import type { RequestContext } from "../context";
import { clusterScopesArg } from "./tokens";

type ScopeInput = { method: string; path: string };
type MintArgs = { input: { containerUuid: string; clusterScopes: { cluster: string; scopes: ScopeInput[] }[]; expiresAt?: Date | null } };

/** These fields are `public` for the scope check only (see the SDL): they still need a token. */
function bearer(ctx: RequestContext, needs = "a runtime token salted for the asking cluster"): Caller {
  if (!ctx.caller) throw unauthenticated(`this operation needs ${needs}`);
  return ctx.caller;
}

export const containerTokenResolvers = {
  Query: {
    boundContainerState: (_: unknown, __: unknown, ctx: RequestContext) => ctx.api.boundContainerState(bearer(ctx, "a container's token")),
  },
  Mutation: {
    mintContainerToken: (_: unknown, a: MintArgs, ctx: RequestContext) =>
      ctx.api.containerTokenMint(bearer(ctx), {
        containerUuid: uuidArg(a.input.containerUuid, "input.containerUuid", "container"),
        clusterScopes: clusterScopesArg(a.input.clusterScopes)!,
        expiresAt: a.input.expiresAt ?? null,
      }),
    revokeContainerToken: (_: unknown, a: { uuid: string }, ctx: RequestContext) =>
      ctx.api.containerTokenRevoke(bearer(ctx), uuidArg(a.uuid, "uuid", "token")),
  },
};
