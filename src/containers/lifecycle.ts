/**
 * How requests and containers move each other (Arvados' container.rb and
 * container_request.rb): a committed request gets a container (reused or new); a container's
 * priority is the highest of the committed requests that want it; a final container finalises
 * its requests, or, when Cancelled, is retried with a new one for each request still wanting it
 * (priority > 0) below its containerCountMax. Runtime tokens are carried to a retry and
 * scrubbed from what is final; one homed on another cluster that nothing here holds any more
 * is handed back to its home to revoke (`releaseRuntimeTokens`).
 *
 * Every function runs in the caller's transaction. Locks are taken container row first, then
 * its requests' rows (in uuid order), everywhere, so no two transactions wait on each other.
 */
import type { Container, ContainerRequest, Prisma } from "@prisma/client";
import type { ContainerState } from "../api/types";
import { clusterScopesFromJson } from "../auth/authority";
import type { Principal } from "../auth/principal";
import { scopesFromJson } from "../auth/scopes";
import { clusterOf, newUuid } from "../ids";
import { revokeContainerTokens } from "./containerTokens";
import type { ContainerDeps } from "./deps";
import { releaseAtHome } from "./federatedTokens";
import { specOf } from "./records";
import { findReusable, reuseHash, type RuntimeIdentity } from "./reuse";
import { secretMountsFromJson, secretMountsKey } from "./secretMounts";
import { isFinal, requireContainerTransition } from "./states";

type Tx = Prisma.TransactionClient;

/** What a transaction did that must be acted on once it has committed. */
export interface Effects {
  /** Container tokens revoked: dropped from the caches after commit. */
  revokedTokens: string[];
}

/** A runtime token a row let go of when it became final, as sealed on that row (its uuid the associated data). */
export interface DroppedRuntimeToken {
  tokenUuid: string;
  sealed: string;
  rowUuid: string;
}

type RuntimeTokenHolder = Pick<Container, "uuid" | "runtimeTokenUuid" | "runtimeTokenSealed">;

function droppedBy(rows: RuntimeTokenHolder[]): DroppedRuntimeToken[] {
  return rows.flatMap((r) => (r.runtimeTokenUuid && r.runtimeTokenSealed !== null ? [{ tokenUuid: r.runtimeTokenUuid, sealed: r.runtimeTokenSealed, rowUuid: r.uuid }] : []));
}

export function runtimeOf(row: ContainerRequest | Container): RuntimeIdentity {
  return {
    runtimeUserUuid: row.runtimeUserUuid,
    runtimeAuthScopes: scopesFromJson(row.runtimeAuthScopes),
    runtimeClusterScopes: clusterScopesFromJson(row.runtimeClusterScopes),
  };
}

/** The container row, locked FOR UPDATE until the transaction ends. */
export async function lockContainer(tx: Tx, uuid: string): Promise<Container | undefined> {
  const locked = await tx.$queryRaw<{ uuid: string }[]>`SELECT uuid FROM containers WHERE uuid = ${uuid} FOR UPDATE`;
  return locked.length ? ((await tx.container.findUnique({ where: { uuid } })) ?? undefined) : undefined;
}

/** A new Queued container for request `cr`, with its runtime token (resealed for the container). */
async function newContainer(tx: Tx, deps: ContainerDeps, cr: ContainerRequest, hash: string): Promise<Container> {
  const uuid = newUuid(deps.clusterId, "container");
  const runtimeToken = cr.runtimeTokenSealed === null ? undefined : deps.box.open(cr.runtimeTokenSealed, cr.uuid);
  const spec = specOf(cr);
  return tx.container.create({
    data: {
      uuid,
      state: "Queued",
      priority: 0,
      command: spec.command,
      cwd: spec.cwd,
      environment: spec.environment,
      containerImage: spec.containerImage,
      mounts: spec.mounts as Prisma.InputJsonValue,
      outputPath: spec.outputPath,
      runtimeConstraints: spec.runtimeConstraints as Prisma.InputJsonValue,
      schedulingParameters: spec.schedulingParameters as Prisma.InputJsonValue,
      reuseHash: hash,
      runtimeUserUuid: cr.runtimeUserUuid,
      runtimeAuthScopes: cr.runtimeAuthScopes ?? undefined,
      runtimeClusterScopes: cr.runtimeClusterScopes ?? undefined,
      secretMounts: cr.secretMounts ?? [],
      runtimeTokenUuid: runtimeToken === undefined ? null : cr.runtimeTokenUuid,
      runtimeTokenSealed: runtimeToken === undefined ? null : deps.box.seal(runtimeToken, uuid),
    },
  });
}

/**
 * Gives committed request `cr` (locked by the caller) its container: the best reusable one
 * when it asks for reuse, else a new one. A reused container that is already Complete
 * finalises the request at once.
 */
export async function attachContainer(tx: Tx, deps: ContainerDeps, cr: ContainerRequest, requester: Principal, effects: Effects): Promise<void> {
  const hash = reuseHash(specOf(cr), runtimeOf(cr), secretMountsKey(secretMountsFromJson(cr.secretMounts)));
  const reused = cr.useExisting ? await findReusable(tx, hash, requester) : undefined;
  const container = reused ? (await tx.container.findUnique({ where: { uuid: reused } }))! : await newContainer(tx, deps, cr, hash);
  await tx.containerRequest.update({ where: { uuid: cr.uuid }, data: { containerUuid: container.uuid, containerCount: { increment: 1 } } });
  if (isFinal(container.state as ContainerState)) await releaseRuntimeTokens(tx, deps, await finalizeRequests(tx, [cr.uuid], container));
  else await recomputePriority(tx, deps, container.uuid, false, effects);
}

/**
 * Sets the container's priority to the highest of its committed requests' (0 when none).
 * `cancelIfZero`: a request was cancelled or finalised, so a Queued container nobody wants
 * any more is cancelled (a request committed with priority 0 merely waits).
 */
export async function recomputePriority(tx: Tx, deps: ContainerDeps, uuid: string, cancelIfZero: boolean, effects: Effects): Promise<void> {
  const [row] = await tx.$queryRaw<{ state: string; priority: number }[]>`
    UPDATE containers SET
      priority = COALESCE((SELECT max(r.priority) FROM container_requests r WHERE r.container_uuid = ${uuid} AND r.state = 'Committed'), 0),
      modified_at = now()
    WHERE uuid = ${uuid} RETURNING state, priority`;
  if (cancelIfZero && row?.state === "Queued" && row.priority === 0) {
    const container = await lockContainer(tx, uuid);
    await finishContainer(tx, deps, container!, "Cancelled", {}, effects);
  }
}

/**
 * Moves the locked container `c` to Complete or Cancelled: its tokens are revoked, its
 * secrets scrubbed, its requests finalised or retried, the requests it submitted cancelled,
 * and the runtime tokens nothing holds any more released.
 */
export async function finishContainer(
  tx: Tx,
  deps: ContainerDeps,
  c: Container,
  to: "Complete" | "Cancelled",
  fields: Prisma.ContainerUpdateInput,
  effects: Effects,
): Promise<Container> {
  requireContainerTransition(c.uuid, c.state as ContainerState, to);
  effects.revokedTokens.push(...(await revokeContainerTokens(tx, deps, c.uuid)));
  const done = await tx.container.update({
    where: { uuid: c.uuid },
    data: { ...fields, state: to, finishedAt: new Date(), lockedByUuid: null, authTokenSealed: null, runtimeTokenSealed: null },
  });
  await releaseRuntimeTokens(tx, deps, await settleRequests(tx, deps, done, droppedBy([c]), effects));
  await cancelChildren(tx, deps, c.uuid, effects);
  return done;
}

/**
 * A container's end cancels the committed requests it submitted (Arvados' handle_completed):
 * their priority drops to 0, so a Queued child container nobody else wants is cancelled (and
 * its own children with it), and a running one is stopped by its dispatcher, which sees
 * priority 0. Their tokens, minted from the parent's, died with it already. Each child
 * container is locked before its requests, as everywhere.
 */
async function cancelChildren(tx: Tx, deps: ContainerDeps, parentUuid: string, effects: Effects): Promise<void> {
  const children = await tx.$queryRaw<{ container_uuid: string }[]>`
    SELECT DISTINCT container_uuid FROM container_requests
    WHERE requesting_container_uuid = ${parentUuid} AND state = 'Committed' AND priority > 0 AND container_uuid IS NOT NULL
    ORDER BY container_uuid`;
  for (const { container_uuid: uuid } of children) {
    if (!(await lockContainer(tx, uuid))) continue;
    await tx.$executeRaw`
      UPDATE container_requests SET priority = 0, modified_at = now()
      WHERE requesting_container_uuid = ${parentUuid} AND container_uuid = ${uuid} AND state = 'Committed'`;
    await recomputePriority(tx, deps, uuid, true, effects);
  }
}

/**
 * The committed requests of a final container: retried (Cancelled, still wanted, below their
 * max) or finalised. Returns the runtime tokens let go of: the finalised requests', and the
 * container's own (`own`) unless a retried request carries it on.
 */
async function settleRequests(tx: Tx, deps: ContainerDeps, c: Container, own: DroppedRuntimeToken[], effects: Effects): Promise<DroppedRuntimeToken[]> {
  const locked = await tx.$queryRaw<{ uuid: string }[]>`
    SELECT uuid FROM container_requests WHERE container_uuid = ${c.uuid} AND state = 'Committed' ORDER BY uuid FOR UPDATE`;
  if (locked.length === 0) return own;
  const requests = await tx.containerRequest.findMany({ where: { uuid: { in: locked.map((r) => r.uuid) } }, orderBy: { uuid: "asc" } });
  const retry = c.state === "Cancelled" ? requests.filter((r) => r.priority > 0 && r.containerCount < r.containerCountMax) : [];
  const dropped = [...own, ...(await finalizeRequests(tx, requests.filter((r) => !retry.includes(r)).map((r) => r.uuid), c))];
  if (retry.length === 0) return dropped;
  const next = await newContainer(tx, deps, retry[0], c.reuseHash);
  await tx.containerRequest.updateMany({ where: { uuid: { in: retry.map((r) => r.uuid) } }, data: { containerUuid: next.uuid, containerCount: { increment: 1 } } });
  await recomputePriority(tx, deps, next.uuid, false, effects);
  const carried = new Set(retry.map((r) => r.runtimeTokenUuid));
  return dropped.filter((d) => !carried.has(d.tokenUuid));
}

/**
 * Final: only names, descriptions and properties change from now on; the runtime token is
 * scrubbed; the log and output of the container they ended with (if any) are theirs. Returns
 * the runtime tokens they let go of, for `releaseRuntimeTokens`.
 */
export async function finalizeRequests(tx: Tx, uuids: string[], last: Container | null): Promise<DroppedRuntimeToken[]> {
  if (uuids.length === 0) return [];
  const holders = await tx.containerRequest.findMany({
    where: { uuid: { in: uuids }, runtimeTokenSealed: { not: null } }, select: { uuid: true, runtimeTokenUuid: true, runtimeTokenSealed: true },
  });
  const outputUuid = last ? await outputCollection(tx, last) : undefined;
  await tx.containerRequest.updateMany({
    where: { uuid: { in: uuids } },
    data: { state: "Final", runtimeTokenSealed: null, ...(last?.log ? { logUuid: last.log } : {}), ...(outputUuid ? { outputUuid } : {}) },
  });
  return droppedBy(holders);
}

/**
 * After rows let go of runtime tokens (in their transaction): each one homed on another
 * cluster that no container here still holds (a reused container runs on for the requests
 * left) is handed back to its home to revoke, which it does only for a token it minted for a
 * request delegated here (`releaseAtHome`: best effort, a short wait, never failing this).
 * Only a container can still hold one that matters: a token minted for a request is given to
 * no other request, and a retried request carries its own on (left out by `settleRequests`);
 * a user's token held by other requests too is refused by its home anyway.
 */
export async function releaseRuntimeTokens(tx: Tx, deps: ContainerDeps, dropped: DroppedRuntimeToken[]): Promise<void> {
  const elsewhere = new Map(dropped.filter((d) => clusterOf(d.tokenUuid) !== deps.clusterId).map((d) => [d.tokenUuid, d]));
  for (const d of elsewhere.values()) {
    const held = await tx.container.findFirst({ where: { runtimeTokenUuid: d.tokenUuid, runtimeTokenSealed: { not: null } }, select: { uuid: true } });
    const token = held ? undefined : deps.box.open(d.sealed, d.rowUuid);
    if (token !== undefined) await releaseAtHome(deps, token);
  }
}

/**
 * The output of a Complete container as a collection: one of its runtime user's (who ran it)
 * with the output's portable data hash, the one naming the container in its properties first
 * (as the dispatcher makes it), else the newest. Only a uuid: reading it is checked as always.
 */
async function outputCollection(tx: Tx, c: Container): Promise<string | undefined> {
  if (c.state !== "Complete" || !c.output) return undefined;
  const [row] = await tx.$queryRaw<{ uuid: string }[]>`
    SELECT uuid FROM collections WHERE portable_data_hash = ${c.output} AND owner_uuid = ${c.runtimeUserUuid}
    ORDER BY (properties->>'container_uuid' = ${c.uuid}) DESC NULLS LAST, created_at DESC, uuid LIMIT 1`;
  return row?.uuid;
}
