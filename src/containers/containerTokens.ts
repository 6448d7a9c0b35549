/**
 * The token a container gets: minted at each Queued → Locked, bound to the container (its
 * wire form carries the container uuid as 4th field, and it works only while the container is
 * Locked or Running), revoked when the container leaves those states. With a runtime token
 * the container gets a child of it (never the runtime token itself): no broader, expiring
 * with it or after `containers.runtimeTokenTTL`, whichever is first. Without one, a token of
 * the runtime user (the requester) with the requesting token's scopes.
 *
 * Every container token carries the default cluster scopes (src/containers/clusterScopes.ts),
 * narrowed by the request's runtimeClusterScopes and by the runtime token. A runtime token
 * homed on another cluster is minted from by its home, over the federation
 * (src/containers/federatedTokens.ts), and asked to revoke the child when the container ends.
 *
 * This is the one place that decides what a container's token is.
 */
import type { Prisma } from "@prisma/client";
import type { ContainerAuthRecord } from "../api/types";
import { clusterScopesFromJson, type ClusterScopes } from "../auth/authority";
import type { LocalTokens } from "../auth/localTokens";
import { scopesFromJson, type ScopeSet } from "../auth/scopes";
import type { SecretBox } from "../auth/secretBox";
import { clusterOf } from "../ids";
import { asChildAuthority, defaultClusterScopes, narrowClusterScopes, withinToken } from "./clusterScopes";
import { childFromHome, revokeAtHome, type AskHomeDeps } from "./federatedTokens";

export interface ContainerTokenDeps extends AskHomeDeps {
  clusterId: string;
  tokens: LocalTokens;
  /** containers.runtimeTokenTTL, in seconds. */
  runtimeTokenTTLSeconds: number;
  /** Opens the runtime token stored sealed on a container (its uuid as associated data). */
  box: SecretBox;
  /** Counts (and limits, UNAVAILABLE) a salted token's use by the cluster it is salted for, as salted look-ups are. */
  countSaltedUse(cluster: string, tokenUuid: string): void;
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
  /** The secrets its secret mounts name: read at their homes like inputs. */
  secretUuids: string[];
}

/** A minted token, or why none can be (the runtime token was revoked or has expired: the container cannot run). */
export type MintResult = { ok: true; auth: ContainerAuthRecord } | { ok: false; reason: string };

type Tx = Prisma.TransactionClient;

/** Mints the token container `c` will use, in the locking transaction. */
export async function mintContainerToken(tx: Tx, deps: ContainerTokenDeps, c: ContainerForToken): Promise<MintResult> {
  const wanted = narrowClusterScopes(
    defaultClusterScopes({ runsOn: deps.clusterId, containerUuid: c.uuid, mounts: c.mounts, secretUuids: c.secretUuids }),
    c.runtimeClusterScopes,
  );
  if (c.runtimeTokenUuid && clusterOf(c.runtimeTokenUuid) === deps.clusterId) return childOfLocalRuntimeToken(tx, deps, c, c.runtimeTokenUuid, wanted);
  if (c.runtimeTokenUuid) return childOfRemoteRuntimeToken(deps, c, wanted);
  const minted = await deps.tokens.mintBound(
    tx,
    { userUuid: c.runtimeUserUuid, scopes: c.runtimeAuthScopes, clusterScopes: wanted, expiresAt: null, parentUuid: null, containerUuid: c.uuid },
    c.actorUuid,
  );
  return { ok: true, auth: { ...minted, scopes: c.runtimeAuthScopes, clusterScopes: wanted } };
}

function ttlEnd(deps: ContainerTokenDeps): Date {
  return new Date(Date.now() + deps.runtimeTokenTTLSeconds * 1000);
}

/**
 * A child minted by the runtime token's home cluster (it reached us salted for us), asked with
 * that salted token: our cluster scopes within the runtime token's, our TTL (the home bounds it too).
 */
async function childOfRemoteRuntimeToken(deps: ContainerTokenDeps, c: ContainerForToken, wanted: ClusterScopes): Promise<MintResult> {
  if (!c.runtimeToken) return { ok: false, reason: "its runtime token is no longer stored" };
  const r = await childFromHome(deps, c.runtimeToken, (runtime) => ({ containerUuid: c.uuid, clusterScopes: withinToken(wanted, runtime), expiresAt: ttlEnd(deps) }));
  return r.ok ? { ok: true, auth: r.value } : r;
}

/**
 * A child of a runtime token issued here: its scopes and cluster scopes, its expiry bounded by
 * the TTL. Its parent row is read FOR SHARE, so a revocation of the runtime token either came
 * first (and is seen) or finds this child among its children. A runtime token bound to a
 * container (the token of the container that requested this one) counts as what it is, a
 * container's token (its entry here applies, not its home's blanket scopes), with its own
 * container record read as this container's (`asChildAuthority`): the child is no broader
 * than the requesting container's token on any cluster, and dies with it.
 */
async function childOfLocalRuntimeToken(tx: Tx, deps: ContainerTokenDeps, c: ContainerForToken, parentUuid: string, wanted: ClusterScopes): Promise<MintResult> {
  const [parent] = await tx.$queryRaw<{ scopes: unknown; cluster_scopes: unknown; expires_at: Date | null; revoked_at: Date | null; container_uuid: string | null }[]>`
    SELECT scopes, cluster_scopes, expires_at, revoked_at, container_uuid FROM api_tokens WHERE uuid = ${parentUuid} FOR SHARE`;
  const now = Date.now();
  if (!parent || parent.revoked_at) return { ok: false, reason: "its runtime token has been revoked" };
  if (parent.expires_at && parent.expires_at.getTime() <= now) return { ok: false, reason: "its runtime token has expired" };
  const bound = ttlEnd(deps);
  const expiresAt = parent.expires_at && parent.expires_at < bound ? parent.expires_at : bound;
  const scopes = scopesFromJson(parent.scopes);
  const authority = { homeCluster: deps.clusterId, scopes, clusterScopes: clusterScopesFromJson(parent.cluster_scopes), expiresAt: parent.expires_at };
  const clusterScopes = withinToken(
    wanted,
    parent.container_uuid ? asChildAuthority({ ...authority, containerUuid: parent.container_uuid }, c.uuid) : authority,
  );
  const minted = await deps.tokens.mintBound(tx, { userUuid: c.runtimeUserUuid, scopes, clusterScopes, expiresAt, parentUuid, containerUuid: c.uuid }, c.actorUuid);
  return { ok: true, auth: { ...minted, scopes, clusterScopes } };
}

/**
 * In the transaction that moves a container out of Locked/Running: revokes its tokens at once
 * (a child minted by a runtime token's home elsewhere: asked of that home, best effort; this
 * cluster refuses it anyway once its container is not active). Returns the revoked uuids, to
 * pass to `tokens.forgetRevoked` after commit.
 */
export async function revokeContainerTokens(tx: Tx, deps: ContainerTokenDeps, containerUuid: string): Promise<string[]> {
  const revoked = await deps.tokens.revokeBound(tx, containerUuid);
  const ct = await tx.container.findUnique({ where: { uuid: containerUuid }, select: { authUuid: true, runtimeTokenSealed: true } });
  if (ct?.authUuid && clusterOf(ct.authUuid) !== deps.clusterId && ct.runtimeTokenSealed !== null) {
    const runtimeToken = deps.box.open(ct.runtimeTokenSealed, containerUuid);
    if (runtimeToken !== undefined) await revokeAtHome(deps, runtimeToken, ct.authUuid);
  }
  return revoked;
}
