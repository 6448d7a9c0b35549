/**
 * The token a container gets: minted at each Queued → Locked, bound to the container (its
 * wire form carries the container uuid as 4th field, and it works only while the container is
 * Locked or Running), revoked when the container leaves those states. With a runtime token
 * the container gets a child of it (never the runtime token itself): no broader, expiring
 * with it or after `containers.runtimeTokenTTL`, whichever is first. Without one, a token of
 * the runtime user (the requester) with the requesting token's scopes.
 *
 * This is the one place that decides what a container's token is; the federation part
 * (a runtime token homed on another cluster, cluster scopes) extends it here.
 */
import type { Prisma } from "@prisma/client";
import type { ContainerAuthRecord } from "../api/types";
import { clusterScopesFromJson, type ClusterScopes } from "../auth/authority";
import type { LocalTokens } from "../auth/localTokens";
import { scopesFromJson, type ScopeSet } from "../auth/scopes";
import { clusterOf } from "../ids";

export interface ContainerTokenDeps {
  clusterId: string;
  tokens: LocalTokens;
  /** containers.runtimeTokenTTL, in seconds. */
  runtimeTokenTTLSeconds: number;
}

/** A container as minting its token needs it. */
export interface ContainerForToken {
  uuid: string;
  runtimeUserUuid: string;
  runtimeAuthScopes: ScopeSet;
  runtimeClusterScopes: ClusterScopes | null;
  runtimeTokenUuid: string | null;
  /** The runtime token as it was presented (salted for this cluster when homed elsewhere), unsealed. */
  runtimeToken: string | null;
  mounts: Record<string, unknown>;
  /** The dispatcher's token uuid, recorded as the lock holder. */
  lockedByUuid: string;
  /** The dispatcher's user, audited as the new token's creator. */
  actorUuid: string;
}

/** A minted token, or why none can be (the runtime token was revoked or has expired: the container cannot run). */
export type MintResult = { ok: true; auth: ContainerAuthRecord } | { ok: false; reason: string };

type Tx = Prisma.TransactionClient;

/** Mints the token container `c` will use, in the locking transaction. */
export async function mintContainerToken(tx: Tx, deps: ContainerTokenDeps, c: ContainerForToken): Promise<MintResult> {
  if (c.runtimeTokenUuid && clusterOf(c.runtimeTokenUuid) === deps.clusterId) return childOfLocalRuntimeToken(tx, deps, c, c.runtimeTokenUuid);
  const minted = await deps.tokens.mintBound(
    tx,
    { userUuid: c.runtimeUserUuid, scopes: c.runtimeAuthScopes, clusterScopes: c.runtimeClusterScopes, expiresAt: null, parentUuid: null, containerUuid: c.uuid },
    c.actorUuid,
  );
  return { ok: true, auth: { ...minted, scopes: c.runtimeAuthScopes, clusterScopes: c.runtimeClusterScopes } };
}

/**
 * A child of a runtime token issued here: its scopes and cluster scopes, its expiry bounded by
 * the TTL. Its parent row is read FOR SHARE, so a revocation of the runtime token either came
 * first (and is seen) or finds this child among its children.
 */
async function childOfLocalRuntimeToken(tx: Tx, deps: ContainerTokenDeps, c: ContainerForToken, parentUuid: string): Promise<MintResult> {
  const [parent] = await tx.$queryRaw<{ scopes: unknown; cluster_scopes: unknown; expires_at: Date | null; revoked_at: Date | null }[]>`
    SELECT scopes, cluster_scopes, expires_at, revoked_at FROM api_tokens WHERE uuid = ${parentUuid} FOR SHARE`;
  const now = Date.now();
  if (!parent || parent.revoked_at) return { ok: false, reason: "its runtime token has been revoked" };
  if (parent.expires_at && parent.expires_at.getTime() <= now) return { ok: false, reason: "its runtime token has expired" };
  const ttlEnd = new Date(now + deps.runtimeTokenTTLSeconds * 1000);
  const expiresAt = parent.expires_at && parent.expires_at < ttlEnd ? parent.expires_at : ttlEnd;
  const scopes = scopesFromJson(parent.scopes);
  const clusterScopes = clusterScopesFromJson(parent.cluster_scopes);
  const minted = await deps.tokens.mintBound(tx, { userUuid: c.runtimeUserUuid, scopes, clusterScopes, expiresAt, parentUuid, containerUuid: c.uuid }, c.actorUuid);
  return { ok: true, auth: { ...minted, scopes, clusterScopes } };
}

/**
 * In the transaction that moves a container out of Locked/Running: revokes its tokens at once.
 * Returns the revoked uuids, to pass to `tokens.forgetRevoked` after commit.
 */
export function revokeContainerTokens(tx: Tx, deps: ContainerTokenDeps, containerUuid: string): Promise<string[]> {
  return deps.tokens.revokeBound(tx, containerUuid);
}
