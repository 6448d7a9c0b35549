/** What the container operations need from the cluster around them. */
import type { ClusterApi } from "../api/clusterApi";
import type { Authenticator } from "../auth/authenticator";
import type { LocalTokens } from "../auth/localTokens";
import type { Caller, Principal } from "../auth/principal";
import type { SecretBox } from "../auth/secretBox";
import type { ClusterConfig } from "../config/config";
import type { ContainerTokenDeps } from "./containerTokens";

export interface ContainerDeps extends ContainerTokenDeps {
  /** Seals runtime tokens and container tokens at rest (the row's uuid as associated data). */
  box: SecretBox;
  /** containers.maxDispatchAttempts: an unlock at this lock count cancels the container. */
  maxDispatchAttempts: number;
  /** Validates a runtime token as a request bearing it would be (local, or at its home cluster). */
  authenticate(token: string): Promise<Principal>;
  /** The federation acting for `caller` (secrets a request mounts, or a container reads, may live elsewhere). */
  federation(caller: Caller): ClusterApi;
}

/** `federation`: the router acting for a caller (runtime tokens homed elsewhere are minted from there). */
export function containerDeps(
  config: ClusterConfig, tokens: LocalTokens, box: SecretBox, authenticator: Authenticator, federation: (caller: Caller) => ClusterApi,
): ContainerDeps {
  return {
    clusterId: config.clusterId,
    tokens,
    box,
    runtimeTokenTTLSeconds: config.containers.runtimeTokenTTL,
    maxDispatchAttempts: config.containers.maxDispatchAttempts,
    authenticate: (token) => authenticator.authenticate(token),
    federation,
    countSaltedUse: (cluster, tokenUuid) => authenticator.countSaltedLookup(cluster, tokenUuid),
    actingWith: async (token) => {
      const caller = { principal: await authenticator.authenticate(token), token };
      return { caller, api: federation(caller) };
    },
  };
}
