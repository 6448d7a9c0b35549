/** Federation plumbing visible in the schema: the cluster's id and revocation hints. */
import { uuidArg } from "../args";
import type { RequestContext } from "../context";

export interface FederationHooks {
  /** Forget what this cluster cached about a remote token; it is validated again on next use. */
  forgetRemoteToken(uuid: string): void;
}

export function federationResolvers(hooks: FederationHooks) {
  return {
    Query: {
      clusterId: (_: unknown, __: unknown, ctx: RequestContext) => ctx.clusterId,
    },
    Mutation: {
      // Anyone may send the hint: it only costs one validation at the home cluster.
      dropCachedToken: (_: unknown, a: { uuid: string }) => {
        hooks.forgetRemoteToken(uuidArg(a.uuid, "uuid", "token"));
        return true;
      },
    },
  };
}
