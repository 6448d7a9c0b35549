/**
 * Containers on the local database: read by admins, by their own token and by whoever can
 * read a request they run for; locked and unlocked by a dispatcher (an admin's token, told
 * apart by its uuid); changed by their own token (state, exitCode, output, log, progress,
 * runtimeStatus) or by the dispatcher holding the lock (Running, Cancelled). Every operation
 * locks the container row first (src/containers/lifecycle.ts).
 */
import { Prisma, type Container } from "@prisma/client";
import type { ContainerAuthRecord, ContainerRecord, ContainerSecretRecord, ContainerState, Page, PageOptions, UpdateContainerInput } from "../api/types";
import { clusterScopesFromJson, clusterScopesToJson } from "../auth/authority";
import { rootTokenUuid } from "../auth/localTokens";
import { isAdmin, type Caller, type Principal } from "../auth/principal";
import { scopesFromJson, scopesToJson } from "../auth/scopes";
import { mintContainerToken, revokeContainerTokens } from "../containers/containerTokens";
import { finishContainer, lockContainer, runtimeOf, type Effects } from "../containers/lifecycle";
import { specOf, toContainerRecord } from "../containers/records";
import { secretMountsFromJson } from "../containers/secretMounts";
import { isActive, isFinal, requireContainerTransition } from "../containers/states";
import { badInput, conflict, forbidden, notFound } from "../errors";
import { clusterOf } from "../ids";
import { containerReadable } from "../permissions/access";
import { audit } from "./audit";
import type { LocalContext } from "./context";
import { afterClause, pageTail, toPage } from "./sql";

type Tx = Prisma.TransactionClient;

async function rowsOf(ctx: LocalContext, uuids: string[]): Promise<Container[]> {
  return uuids.length ? ctx.prisma.container.findMany({ where: { uuid: { in: uuids } }, orderBy: { uuid: "asc" } }) : [];
}

export async function containersGet(ctx: LocalContext, c: Caller, uuids: string[]): Promise<ContainerRecord[]> {
  if (uuids.length === 0) return [];
  const readable = await ctx.prisma.$queryRaw<{ uuid: string }[]>`
    SELECT ct.uuid FROM containers ct WHERE ct.uuid = ANY(${uuids}::text[]) AND ${containerReadable(c.principal)}`;
  return (await rowsOf(ctx, readable.map((r) => r.uuid))).map(toContainerRecord);
}

export async function containerList(ctx: LocalContext, c: Caller, o: PageOptions & { state?: ContainerState }): Promise<Page<ContainerRecord>> {
  const state = o.state ? Prisma.sql`AND ct.state = ${o.state}` : Prisma.empty;
  const page = await ctx.prisma.$queryRaw<{ uuid: string }[]>`
    SELECT ct.uuid FROM containers ct WHERE ${containerReadable(c.principal)} ${state} ${afterClause("ct", o)} ${pageTail("ct", o)}`;
  return toPage((await rowsOf(ctx, page.map((r) => r.uuid))).map(toContainerRecord), o.first);
}

/**
 * Whether the caller acts with the container's own token: bound to it, and the token its
 * current lock minted (authUuid). Read with the row, so a token of an earlier lock that a
 * cache still holds (its revocation not yet seen) cannot act as the container.
 */
function isOwnToken(p: Principal, ct: Pick<Container, "uuid" | "authUuid">): boolean {
  return p.token?.containerUuid === ct.uuid && p.token.uuid === ct.authUuid;
}

/** The container the caller's token is bound to (a container's own token), or NOT_FOUND. */
export async function currentContainer(ctx: LocalContext, c: Caller): Promise<ContainerRecord> {
  const uuid = c.principal.token?.containerUuid;
  const row = uuid ? await ctx.prisma.container.findUnique({ where: { uuid } }) : null;
  if (!row || !isOwnToken(c.principal, row)) throw notFound("current container of token", c.principal.token?.uuid ?? "system root");
  return toContainerRecord(row);
}

/** The container (of this cluster) the caller's token is bound to, read now: its state and secret mounts; NOT_FOUND for any other token. */
async function boundContainer(ctx: LocalContext, c: Caller): Promise<{ state: ContainerState; secretMounts: Prisma.JsonValue }> {
  const uuid = c.principal.token?.containerUuid;
  const row =
    uuid && clusterOf(uuid) === ctx.clusterId
      ? await ctx.prisma.container.findUnique({ where: { uuid }, select: { uuid: true, authUuid: true, state: true, secretMounts: true } })
      : null;
  if (!row || !isOwnToken(c.principal, row)) throw notFound("container of token", c.principal.token?.uuid ?? "system root");
  return { state: row.state as ContainerState, secretMounts: row.secretMounts };
}

export async function boundContainerState(ctx: LocalContext, c: Caller): Promise<ContainerState> {
  return (await boundContainer(ctx, c)).state;
}

/**
 * The values of the caller's container's secret mounts, to its own token while it is Running:
 * each read where the secret lives (through the federation, with this token), so permissions,
 * scopes and the audit of value reads apply as to any read. No other token reaches them.
 */
export async function containerSecrets(ctx: LocalContext, c: Caller): Promise<ContainerSecretRecord[]> {
  const uuid = c.principal.token?.containerUuid;
  if (!uuid) throw forbidden("containerSecrets answers a running container's own token (containerAuth), not this one");
  const row = await boundContainer(ctx, c);
  if (row.state !== "Running") throw forbidden(`container "${uuid}" is ${row.state}: its secrets are fetched only while it is Running`);
  const api = ctx.containers.federation(c);
  return Promise.all(
    secretMountsFromJson(row.secretMounts).map(async (m) => {
      const v = await api.secretValue(c, m.secretUuid, m.version);
      return { path: m.path, secretUuid: m.secretUuid, version: v.version, value: v.value };
    }),
  );
}

/** The uuid of the token the caller acts with (the root token's own record for the root token). */
function tokenUuidOf(ctx: LocalContext, p: Principal): string | undefined {
  return p.isRoot ? rootTokenUuid(ctx.clusterId) : p.token?.uuid;
}

/** Only an admin's own token (a dispatcher, never a container's token) locks and unlocks. */
function dispatcherToken(ctx: LocalContext, p: Principal): string {
  const uuid = tokenUuidOf(ctx, p);
  if (!isAdmin(p) || !uuid || p.token?.containerUuid) throw forbidden("only an admin's token (a dispatcher) can lock and unlock containers");
  return uuid;
}

/** Runs `body` in a transaction on the locked container; tokens it revoked are dropped from the caches after commit. */
async function withContainer<T>(ctx: LocalContext, uuid: string, body: (tx: Tx, ct: Container, effects: Effects) => Promise<T>): Promise<T> {
  const effects: Effects = { revokedTokens: [] };
  const result = await ctx.prisma.$transaction(async (tx) => {
    const ct = await lockContainer(tx, uuid);
    if (!ct) throw notFound("container", uuid);
    return body(tx, ct, effects);
  });
  await ctx.tokens.forgetRevoked(effects.revokedTokens);
  return result;
}

function authInfoJson(auth: ContainerAuthRecord): Prisma.InputJsonValue {
  return { expiresAt: auth.expiresAt?.toISOString() ?? null, scopes: scopesToJson(auth.scopes), clusterScopes: clusterScopesToJson(auth.clusterScopes) };
}

/**
 * Queued (with priority > 0) → Locked, recording the dispatcher's token and minting the
 * container's own token. A container whose runtime token died meanwhile cannot run: it is
 * cancelled (CONFLICT says why).
 */
export async function containerLock(ctx: LocalContext, c: Caller, uuid: string): Promise<ContainerRecord> {
  const deps = ctx.containers;
  const holder = dispatcherToken(ctx, c.principal);
  const result = await withContainer(ctx, uuid, async (tx, ct, effects) => {
    if (ct.state !== "Queued") throw conflict(`container "${uuid}" is ${ct.state}: only a Queued container can be locked`);
    if (ct.priority === 0) throw conflict(`container "${uuid}" is Queued with priority 0: no request wants it run`);
    const runtimeToken = ct.runtimeTokenSealed === null ? null : (deps.box.open(ct.runtimeTokenSealed, uuid) ?? null);
    const minted = await mintContainerToken(tx, deps, {
      ...runtimeOf(ct), uuid, runtimeTokenUuid: ct.runtimeTokenUuid, runtimeToken, mounts: specOf(ct).mounts, lockedByUuid: holder, actorUuid: c.principal.user.uuid,
      secretUuids: secretMountsFromJson(ct.secretMounts).map((m) => m.secretUuid),
    });
    if (!minted.ok) {
      await finishContainer(tx, deps, ct, "Cancelled", { runtimeStatus: { error: `cannot run: ${minted.reason}` } }, effects);
      return { refused: minted.reason };
    }
    const locked = await tx.container.update({
      where: { uuid },
      data: {
        state: "Locked", lockedByUuid: holder, lockCount: { increment: 1 },
        authUuid: minted.auth.uuid, authTokenSealed: deps.box.seal(minted.auth.token, uuid), authInfo: authInfoJson(minted.auth),
      },
    });
    await audit(tx, ctx.clusterId, { type: "lock", objectUuid: uuid, actorUuid: c.principal.user.uuid, properties: { lockedByUuid: holder } });
    return { locked };
  });
  if ("refused" in result) throw conflict(`container "${uuid}" was cancelled: ${result.refused}`);
  return toContainerRecord(result.locked);
}

/** Refuses anyone but the token holding the lock on an active container. */
function requireLockHolder(ctx: LocalContext, p: Principal, ct: Container, what: string): void {
  if (!isActive(ct.state as ContainerState) || ct.lockedByUuid !== tokenUuidOf(ctx, p))
    throw forbidden(`only the token holding the lock on container "${ct.uuid}" can ${what}`);
}

/**
 * Locked → Queued, revoking the container's token at once. At containers.maxDispatchAttempts
 * locks the container is cancelled instead, with runtimeStatus.error saying why; with priority
 * 0 (its requests were cancelled meanwhile) too.
 */
export async function containerUnlock(ctx: LocalContext, c: Caller, uuid: string): Promise<ContainerRecord> {
  const deps = ctx.containers;
  dispatcherToken(ctx, c.principal);
  return withContainer(ctx, uuid, async (tx, ct, effects) => {
    if (isActive(ct.state as ContainerState)) requireLockHolder(ctx, c.principal, ct, "unlock it");
    requireContainerTransition(uuid, ct.state as ContainerState, "Queued");
    await audit(tx, ctx.clusterId, { type: "unlock", objectUuid: uuid, actorUuid: c.principal.user.uuid, properties: { lockCount: ct.lockCount } });
    if (ct.lockCount >= deps.maxDispatchAttempts) {
      const error = `cancelled after ${ct.lockCount} dispatch attempts (containers.maxDispatchAttempts is ${deps.maxDispatchAttempts})`;
      const runtimeStatus = { ...((ct.runtimeStatus as Record<string, unknown> | null) ?? {}), error };
      return toContainerRecord(await finishContainer(tx, deps, ct, "Cancelled", { runtimeStatus }, effects));
    }
    // Its requests were cancelled while it was locked: back in the queue, nobody wants it.
    if (ct.priority === 0) return toContainerRecord(await finishContainer(tx, deps, ct, "Cancelled", {}, effects));
    effects.revokedTokens.push(...(await revokeContainerTokens(tx, deps, uuid)));
    const queued = await tx.container.update({
      where: { uuid },
      data: { state: "Queued", lockedByUuid: null, authUuid: null, authTokenSealed: null, authInfo: Prisma.DbNull },
    });
    return toContainerRecord(queued);
  });
}

/** The token the container must use: only for the token holding its lock, while Locked or Running. */
export async function containerAuth(ctx: LocalContext, c: Caller, uuid: string): Promise<ContainerAuthRecord> {
  const deps = ctx.containers;
  const ct = await ctx.prisma.container.findUnique({ where: { uuid } });
  if (!ct) throw notFound("container", uuid);
  requireLockHolder(ctx, c.principal, ct, "fetch its auth");
  const token = ct.authTokenSealed === null ? undefined : deps.box.open(ct.authTokenSealed, uuid);
  if (!ct.authUuid || token === undefined) throw conflict(`container "${uuid}" has no token: lock it again`);
  const info = (ct.authInfo ?? {}) as { expiresAt?: string | null; scopes?: unknown; clusterScopes?: unknown };
  return {
    uuid: ct.authUuid,
    token,
    expiresAt: info.expiresAt ? new Date(info.expiresAt) : null,
    scopes: scopesFromJson(info.scopes),
    clusterScopes: clusterScopesFromJson(info.clusterScopes),
  };
}

/** Who changes a container, and to which states: its own token, the dispatcher holding its lock, any other admin (to cancel it). */
const UPDATERS = {
  own: { name: "a container's own token", states: ["Running", "Complete", "Cancelled"] },
  holder: { name: "the dispatcher holding the lock", states: ["Running", "Cancelled"] },
  admin: { name: "an admin's token not holding the lock", states: ["Cancelled"] },
} as const satisfies Record<string, { name: string; states: readonly ContainerState[] }>;

function updaterOf(ctx: LocalContext, p: Principal, ct: Container): keyof typeof UPDATERS {
  if (isOwnToken(p, ct)) return "own";
  if (isActive(ct.state as ContainerState) && ct.lockedByUuid === tokenUuidOf(ctx, p)) return "holder";
  if (isAdmin(p) && !p.token?.containerUuid) return "admin";
  throw forbidden(`only the container's own token, the token holding the lock on container "${ct.uuid}" or an admin's can update it`);
}

/**
 * Who may change a container (FORBIDDEN for anyone else), then the state only through allowed
 * transitions (CONFLICT naming the current state), each updater only to its states, the other
 * fields only by its own token while it is Running.
 */
function requireUpdate(ctx: LocalContext, p: Principal, ct: Container, input: UpdateContainerInput): void {
  const updater = updaterOf(ctx, p, ct);
  const from = ct.state as ContainerState;
  const target = input.state && input.state !== from ? input.state : undefined;
  if (target) requireContainerTransition(ct.uuid, from, target);
  const fields = Object.keys(input).filter((k) => k !== "state" && input[k as keyof UpdateContainerInput] !== undefined);
  const { name, states } = UPDATERS[updater];
  if (updater !== "own" && fields.length) throw forbidden(`${name} may set only the state, not ${fields.join(", ")}`);
  if (target && !(states as readonly ContainerState[]).includes(target)) throw forbidden(`${name} cannot set state ${target}`);
  const running = from === "Running" || input.state === "Running";
  if (fields.length && !running) throw conflict(`container "${ct.uuid}" is ${from}: ${fields.join(", ")} can be set only while it is Running`);
}

/** A container's log is a collection its own token created here (its dispatcher saves it so), not any collection it can name. */
async function requireOwnLog(tx: Tx, ct: Container, log: string): Promise<void> {
  const row = await tx.collection.findUnique({ where: { uuid: log }, select: { createdByContainerUuid: true } });
  if (row?.createdByContainerUuid !== ct.uuid) throw badInput(`log: "${log}" is not a collection container "${ct.uuid}" created`);
}

export async function containerUpdate(ctx: LocalContext, c: Caller, uuid: string, input: UpdateContainerInput): Promise<ContainerRecord> {
  const deps = ctx.containers;
  return withContainer(ctx, uuid, async (tx, ct, effects) => {
    requireUpdate(ctx, c.principal, ct, input);
    const from = ct.state as ContainerState;
    const to = input.state ?? from;
    if (to === "Complete" && (input.exitCode ?? ct.exitCode) === null) throw badInput("exitCode: needed to complete a container");
    if (input.log) await requireOwnLog(tx, ct, input.log);
    const data: Prisma.ContainerUpdateInput = {};
    if (input.exitCode !== undefined) data.exitCode = input.exitCode;
    if (input.output !== undefined) data.output = input.output;
    if (input.log !== undefined) data.log = input.log;
    if (input.progress !== undefined) data.progress = input.progress;
    if (input.runtimeStatus !== undefined) data.runtimeStatus = input.runtimeStatus === null ? Prisma.DbNull : (input.runtimeStatus as Prisma.InputJsonValue);
    await audit(tx, ctx.clusterId, { type: "update", objectUuid: uuid, actorUuid: c.principal.user.uuid, properties: { state: to, fields: Object.keys(data) } });
    if (isFinal(to) && to !== from) return toContainerRecord(await finishContainer(tx, deps, ct, to as "Complete" | "Cancelled", data, effects));
    if (to === "Running" && from !== "Running") data.startedAt = new Date();
    return toContainerRecord(await tx.container.update({ where: { uuid }, data: { ...data, state: to } }));
  });
}
