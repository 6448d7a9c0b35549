/** Federation plumbing visible in the schema: the cluster's id and revocation hints. */
import { badInput } from "../../errors";
import { uuidArg } from "../args";
import type { RequestContext } from "../context";

/** Uuids one dropCachedTokens may name (home clusters send at most HINT_CHUNK, 200). */
const MAX_DROPPED = 1000;

export interface FederationHooks {
  /** Forget what this cluster (every replica) cached about remote tokens; each is validated again on next use. */
  forgetRemoteTokens(uuids: string[]): Promise<void>;
}

export function federationResolvers(hooks: FederationHooks) {
  return {
    Query: {
      clusterId: (_: unknown, __: unknown, ctx: RequestContext) => ctx.clusterId,
    },
    // Anyone may send a hint: it only costs one validation at the home cluster.
    Mutation: {
      dropCachedToken: async (_: unknown, a: { uuid: string }) => {
        await hooks.forgetRemoteTokens([uuidArg(a.uuid, "uuid", "token")]);
        return true;
      },
      dropCachedTokens: async (_: unknown, a: { uuids: string[] }) => {
        if (a.uuids.length > MAX_DROPPED) throw badInput(`uuids: at most ${MAX_DROPPED} at once`);
        // All checked before any is dropped: a bad uuid changes nothing.
        const uuids = a.uuids.map((u, i) => uuidArg(u, `uuids[${i}]`, "token"));
        await hooks.forgetRemoteTokens(uuids);
        return uuids.length;
      },
    },
  };
}
