/**
 * Container requests on the local database: owned like any object (read and written through
 * the permission closure), committed into a container (src/containers/lifecycle.ts), their
 * runtime token validated when given and stored only sealed.
 */
import { Prisma, type ContainerRequest } from "@prisma/client";
import stableStringify from "fast-json-stable-stringify";
import type {
  ContainerRequestFields, ContainerRequestRecord, ContainerRequestState, CreateContainerRequestInput, ListOptions, Page, SecretMount, UpdateContainerRequestInput,
} from "../api/types";
import { clusterScopesFromJson, clusterScopesToJson } from "../auth/authority";
import type { Caller, Principal } from "../auth/principal";
import { saltToken } from "../auth/salt";
import { scopesFromJson, scopesToJson, type ScopeSet } from "../auth/scopes";
import { narrowingByContainerToken } from "../containers/clusterScopes";
import type { ContainerDeps } from "../containers/deps";
import { attachContainer, finalizeRequests, lockContainer, recomputePriority, releaseRuntimeTokens, type Effects } from "../containers/lifecycle";
import { specOf, toRequestRecord } from "../containers/records";
import { requireMutable, requireRequestTransition } from "../containers/states";
import { pinSecretMounts, requireSecretMountsApart, secretMountsFromJson, secretMountsToJson } from "../containers/secretMounts";
import { requireCommittable } from "../containers/validation";
import { badInput, codeOf, conflict, ErrorCode, forbidden, notFound } from "../errors";
import { clusterOf, newUuid } from "../ids";
import { containerRequestReadable, levelOn } from "../permissions/access";
import { audit } from "./audit";
import type { LocalContext } from "./context";
import { requireMove, requireWritableOwner } from "./owners";
import { afterClause, containsPattern, pageTail, toPage } from "./sql";

type Tx = Prisma.TransactionClient;

/** Rows by uuid, in uuid order (the permission filter already applied to `uuids`). */
async function rowsOf(sql: Tx | LocalContext["prisma"], uuids: string[]): Promise<ContainerRequest[]> {
  return uuids.length ? sql.containerRequest.findMany({ where: { uuid: { in: uuids } }, orderBy: { uuid: "asc" } }) : [];
}

export async function containerRequestsGet(ctx: LocalContext, c: Caller, uuids: string[]): Promise<ContainerRequestRecord[]> {
  if (uuids.length === 0) return [];
  const readable = await ctx.prisma.$queryRaw<{ uuid: string }[]>`
    SELECT r.uuid FROM container_requests r WHERE r.uuid = ANY(${uuids}::text[]) AND ${containerRequestReadable(c.principal)}`;
  return (await rowsOf(ctx.prisma, readable.map((r) => r.uuid))).map(toRequestRecord);
}

export async function containerRequestList(
  ctx: LocalContext,
  c: Caller,
  o: ListOptions & { state?: ContainerRequestState },
): Promise<Page<ContainerRequestRecord>> {
  const search = o.search ? Prisma.sql`AND lower(r.name) LIKE ${containsPattern(o.search)}` : Prisma.empty;
  const state = o.state ? Prisma.sql`AND r.state = ${o.state}` : Prisma.empty;
  const page = await ctx.prisma.$queryRaw<{ uuid: string }[]>`
    SELECT r.uuid FROM container_requests r
    WHERE ${containerRequestReadable(c.principal)} ${search} ${state} ${afterClause("r", o)} ${pageTail("r", o)}`;
  return toPage((await rowsOf(ctx.prisma, page.map((r) => r.uuid))).map(toRequestRecord), o.first);
}

/** Whom the container runs as, and the runtime token to store (salted for this cluster when homed elsewhere). */
interface Runtime {
  runtimeUserUuid: string;
  runtimeAuthScopes: ScopeSet;
  runtimeTokenUuid: string | null;
  runtimeToken: string | null;
  /** The user who gave the runtime token (null without one). */
  givenByUuid: string | null;
}

/**
 * Without a runtime token, the container runs as the caller (who creates or commits the
 * request) with the caller's token's scopes, as Arvados. A container's token (a workflow
 * runner submitting a child) is itself the runtime token: the child's container token is
 * minted from it, so it is no broader than the requesting container's on any cluster and is
 * revoked with it (src/containers/containerTokens.ts). Only its home can mint from it, so one
 * homed on another cluster is refused here (that home refuses to mint from a container's token).
 */
function callerRuntime(deps: ContainerDeps, c: Caller): Runtime {
  const p = c.principal;
  const t = p.token;
  if (!t?.containerUuid) return { runtimeUserUuid: p.user.uuid, runtimeAuthScopes: t?.scopes ?? null, runtimeTokenUuid: null, runtimeToken: null, givenByUuid: null };
  if (t.homeCluster !== deps.clusterId || !c.token)
    throw forbidden(`a container's token homed on cluster ${t.homeCluster} cannot commit container requests on ${deps.clusterId}: its child's token could only be minted there`);
  return { runtimeUserUuid: p.user.uuid, runtimeAuthScopes: t.scopes, runtimeTokenUuid: t.uuid, runtimeToken: c.token, givenByUuid: p.user.uuid };
}

/**
 * A runtime token is checked as a request bearing it would be (here, or at its home cluster);
 * an invalid, expired or revoked one is BAD_USER_INPUT. Without one, the container runs as
 * the requester with the requesting token's scopes (as Arvados).
 */
async function runtimeOf(deps: ContainerDeps, c: Caller, token: string | null | undefined): Promise<Runtime> {
  if (token == null) return callerRuntime(deps, c);
  let rt: Principal;
  try {
    rt = await deps.authenticate(token);
  } catch (e) {
    if (codeOf(e) === ErrorCode.UNAUTHENTICATED || codeOf(e) === ErrorCode.FORBIDDEN) throw badInput(`runtimeToken: ${(e as Error).message}`);
    throw e;
  }
  if (!rt.token) throw badInput("runtimeToken: the system root token cannot be a runtime token");
  if (rt.token.containerUuid && rt.token.homeCluster !== deps.clusterId)
    throw badInput(`runtimeToken: a container's token homed on cluster ${rt.token.homeCluster} cannot be a runtime token on ${deps.clusterId}`);
  // Never keep another cluster's real secret: what its home needs from us is the salted form.
  return {
    runtimeUserUuid: rt.user.uuid, runtimeAuthScopes: rt.token.scopes, runtimeTokenUuid: rt.token.uuid, runtimeToken: saltToken(token, deps.clusterId), givenByUuid: c.principal.user.uuid,
  };
}

function runtimeColumns(deps: ContainerDeps, uuid: string, r: Runtime) {
  return {
    runtimeUserUuid: r.runtimeUserUuid,
    runtimeAuthScopes: scopesToJson(r.runtimeAuthScopes) ?? Prisma.DbNull,
    runtimeTokenUuid: r.runtimeTokenUuid,
    runtimeTokenSealed: r.runtimeToken === null ? null : deps.box.seal(r.runtimeToken, uuid),
    runtimeTokenGivenByUuid: r.runtimeToken === null ? null : r.givenByUuid,
  };
}

/** Fields that do not change what the container runs, or with what authority. */
const BOOKKEEPING: ReadonlySet<keyof ContainerRequestFields> = new Set(["name", "description", "properties", "priority", "containerCountMax", "ownerUuid"]);

/**
 * Whom the container runs as once this update commits the request or changes what it runs
 * (undefined: as the row says). A runtime token given in the update decides. Without one in
 * the row, the caller becomes the runtime user (its token's scopes), so whoever may write a
 * request cannot make it run as someone else. With one in the row, given by another user, the
 * caller must give a runtime token again (FORBIDDEN).
 */
function runtimeAfterUpdate(
  deps: ContainerDeps, c: Caller, cr: ContainerRequest, given: Runtime | undefined, committing: boolean, changed: (keyof ContainerRequestFields)[],
): Runtime | undefined {
  const p = c.principal;
  if (given) return given;
  if (!committing && !changed.some((f) => !BOOKKEEPING.has(f))) return undefined;
  if (cr.runtimeTokenSealed === null) return callerRuntime(deps, c);
  if (cr.runtimeTokenGivenByUuid !== p.user.uuid)
    throw forbidden(`container request "${cr.uuid}" holds a runtime token that another user gave: give runtimeToken in this update to ${committing ? "commit it" : "change what it runs"}`);
  return undefined;
}

/** The columns a field of the input sets (undefined: not given). Nullable text clears with null; the rest ignore null. */
function columnsOf(i: ContainerRequestFields): Partial<Record<keyof ContainerRequestFields, unknown>> {
  const given = <T>(v: T | null | undefined) => (v === null ? undefined : v);
  return {
    name: i.name,
    description: i.description,
    ownerUuid: given(i.ownerUuid),
    properties: i.properties === null ? {} : i.properties,
    priority: given(i.priority),
    command: given(i.command),
    cwd: given(i.cwd),
    environment: given(i.environment),
    containerImage: given(i.containerImage),
    mounts: given(i.mounts),
    outputPath: given(i.outputPath),
    runtimeConstraints: given(i.runtimeConstraints),
    schedulingParameters: given(i.schedulingParameters),
    useExisting: given(i.useExisting),
    containerCountMax: given(i.containerCountMax),
    runtimeClusterScopes: i.runtimeClusterScopes === undefined ? undefined : clusterScopesToJson(i.runtimeClusterScopes),
    secretMounts: i.secretMounts === undefined ? undefined : secretMountsToJson(i.secretMounts ?? []),
  };
}

/** What committing needs of the request's row (its secret mounts already pinned). */
function requireCommittableRow(cr: ContainerRequest): void {
  requireCommittable(specOf(cr));
  requireSecretMountsApart(specOf(cr), secretMountsFromJson(cr.secretMounts));
}

/**
 * As a request whose runtime token is a container's token commits, its runtimeClusterScopes
 * become the narrowing that token imposes on the child's container token (what it may do on
 * each cluster, its own record aside). The minted token is held within the parent anyway; the
 * narrowing is recorded so that it is part of the reuse key: the child reuses only a container
 * whose token could do exactly as much (a run with broader authority, e.g. the user's own,
 * could have read what the parent cannot, and its output would carry it), while children of
 * different containers with the same authority over the child's inputs still share one.
 */
async function narrowedByContainerToken(tx: Tx, deps: ContainerDeps, cr: ContainerRequest): Promise<ContainerRequest> {
  const t = cr.runtimeTokenUuid && clusterOf(cr.runtimeTokenUuid) === deps.clusterId
    ? await tx.apiToken.findUnique({ where: { uuid: cr.runtimeTokenUuid }, select: { scopes: true, clusterScopes: true, expiresAt: true, containerUuid: true } })
    : null;
  if (!t?.containerUuid) return cr;
  const narrowing = narrowingByContainerToken(
    { runsOn: deps.clusterId, mounts: specOf(cr).mounts, secretUuids: secretMountsFromJson(cr.secretMounts).map((m) => m.secretUuid) },
    clusterScopesFromJson(cr.runtimeClusterScopes),
    { homeCluster: deps.clusterId, scopes: scopesFromJson(t.scopes), clusterScopes: clusterScopesFromJson(t.clusterScopes), expiresAt: t.expiresAt, containerUuid: t.containerUuid },
  );
  return tx.containerRequest.update({ where: { uuid: cr.uuid }, data: { runtimeClusterScopes: clusterScopesToJson(narrowing) ?? Prisma.DbNull } });
}

/**
 * Secret mounts checked (the requester reads each one) before the transaction, since secrets
 * may live on other clusters: pinned when the request commits, as given otherwise.
 */
async function checkedSecretMounts(ctx: LocalContext, c: Caller, mounts: SecretMount[], committing: boolean): Promise<SecretMount[]> {
  const pinned = await pinSecretMounts(ctx.containers.federation(c), c, mounts, ctx.clusterId);
  return committing ? pinned : mounts;
}

function defined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

export async function containerRequestCreate(ctx: LocalContext, c: Caller, input: CreateContainerRequestInput): Promise<ContainerRequestRecord> {
  const deps = ctx.containers;
  const p = c.principal;
  const state = input.state ?? "Uncommitted";
  if (state === "Final") throw badInput("state: a container request is created Uncommitted or Committed");
  const runtime = await runtimeOf(deps, c, input.runtimeToken);
  const secretMounts = await checkedSecretMounts(ctx, c, input.secretMounts ?? [], state === "Committed");
  const uuid = newUuid(ctx.clusterId, "containerRequest");
  const ownerUuid = input.ownerUuid ?? p.user.uuid;
  const data = {
    cwd: ".",
    environment: {},
    mounts: {},
    runtimeConstraints: {},
    schedulingParameters: {},
    properties: {},
    ...defined(columnsOf(input)),
    runtimeClusterScopes: clusterScopesToJson(input.runtimeClusterScopes ?? null) ?? Prisma.DbNull,
    secretMounts: secretMountsToJson(secretMounts),
    uuid,
    ownerUuid,
    state,
    requestingContainerUuid: p.token?.containerUuid ?? null,
    createdByUuid: p.user.uuid,
    ...runtimeColumns(deps, uuid, runtime),
  } as Prisma.ContainerRequestUncheckedCreateInput;
  const effects: Effects = { revokedTokens: [] };
  const row = await ctx.prisma.$transaction(async (tx) => {
    await requireWritableOwner(tx, p, ownerUuid);
    const cr = await tx.containerRequest.create({ data });
    if (state === "Committed") {
      requireCommittableRow(cr);
      await attachContainer(tx, deps, await narrowedByContainerToken(tx, deps, cr), p, effects);
    }
    await audit(tx, ctx.clusterId, { type: "create", objectUuid: uuid, actorUuid: p.user.uuid, properties: { state } });
    return (await tx.containerRequest.findUnique({ where: { uuid } }))!;
  });
  await ctx.tokens.forgetRevoked(effects.revokedTokens);
  return toRequestRecord(row);
}

/**
 * The request locked for update, its container locked first (the order every container
 * operation takes). A request given another container meanwhile (a retry) is a CONFLICT: ask again.
 */
async function lockRequest(tx: Tx, uuid: string): Promise<ContainerRequest | undefined> {
  const peek = await tx.containerRequest.findUnique({ where: { uuid }, select: { containerUuid: true } });
  if (!peek) return undefined;
  if (peek.containerUuid) await lockContainer(tx, peek.containerUuid);
  await tx.$queryRaw`SELECT uuid FROM container_requests WHERE uuid = ${uuid} FOR UPDATE`;
  const row = (await tx.containerRequest.findUnique({ where: { uuid } }))!;
  if (row.containerUuid !== peek.containerUuid) throw conflict(`container request "${uuid}" got a new container while being updated: try again`);
  return row;
}

/** The fields whose given value differs from the row's (the runtime token, write-only, always counts). */
function changedFields(row: ContainerRequest, columns: Record<string, unknown>, input: UpdateContainerRequestInput): (keyof ContainerRequestFields)[] {
  const current = row as unknown as Record<string, unknown>;
  const changed = Object.keys(columns).filter((k) => stableStringify(columns[k] ?? null) !== stableStringify(current[k] ?? null)) as (keyof ContainerRequestFields)[];
  return input.runtimeToken != null ? [...changed, "runtimeToken"] : changed;
}

/**
 * For an update that gives secret mounts or commits: the mounts the row had when read
 * (`read`: unchanged by the time the transaction locks it, else CONFLICT) and the mounts to
 * store, checked and, when committing, pinned. Read through the permission filter first, so
 * nothing is asked about a request the caller cannot see.
 */
async function updatedSecretMounts(
  ctx: LocalContext, c: Caller, uuid: string, input: UpdateContainerRequestInput,
): Promise<{ read: SecretMount[]; checked: SecretMount[] } | undefined> {
  if (input.secretMounts === undefined && input.state !== "Committed") return undefined;
  const [current] = await containerRequestsGet(ctx, c, [uuid]);
  if (!current) throw notFound("container request", uuid);
  const committing = input.state === "Committed" && current.state === "Uncommitted";
  if (input.secretMounts === undefined && !committing) return undefined;
  const wanted = input.secretMounts === undefined ? current.secretMounts : (input.secretMounts ?? []);
  return { read: current.secretMounts, checked: await checkedSecretMounts(ctx, c, wanted, committing) };
}

export async function containerRequestUpdate(ctx: LocalContext, c: Caller, uuid: string, input: UpdateContainerRequestInput): Promise<ContainerRequestRecord> {
  const deps = ctx.containers;
  const p = c.principal;
  const runtime = input.runtimeToken != null ? await runtimeOf(deps, c, input.runtimeToken) : undefined;
  const mounts = await updatedSecretMounts(ctx, c, uuid, input);
  const columns = defined({ ...columnsOf(input), ...(mounts ? { secretMounts: secretMountsToJson(mounts.checked) } : {}) });
  const effects: Effects = { revokedTokens: [] };
  const row = await ctx.prisma.$transaction(async (tx) => {
    const cr = await lockRequest(tx, uuid);
    const level = cr ? await levelOn(tx, p, uuid, cr.ownerUuid) : 0;
    if (!cr || level === 0) throw notFound("container request", uuid);
    if (level < 2) throw forbidden(`cannot change container request "${uuid}": read-only access`);
    if (mounts && stableStringify(secretMountsFromJson(cr.secretMounts)) !== stableStringify(mounts.read))
      throw conflict(`container request "${uuid}": its secret mounts changed while being checked: try again`);
    const from = cr.state as ContainerRequestState;
    const to = input.state ?? from;
    const changed = changedFields(cr, defined(columnsOf(input)), input);
    requireMutable(uuid, from, changed);
    if (to !== from) requireRequestTransition(uuid, from, to);
    const runtimeNow = from === "Uncommitted" ? runtimeAfterUpdate(deps, c, cr, runtime, to === "Committed", changed) : undefined;
    if (columns.ownerUuid !== undefined && columns.ownerUuid !== cr.ownerUuid) await requireMove(tx, p, cr.ownerUuid, columns.ownerUuid as string);

    const updated = await tx.containerRequest.update({
      where: { uuid },
      data: {
        ...columns,
        ...(columns.runtimeClusterScopes === null ? { runtimeClusterScopes: Prisma.DbNull } : {}),
        ...(runtimeNow ? runtimeColumns(deps, uuid, runtimeNow) : {}),
        state: to,
      } as Prisma.ContainerRequestUncheckedUpdateInput,
    });
    if (from === "Uncommitted" && to === "Committed") {
      requireCommittableRow(updated);
      await attachContainer(tx, deps, await narrowedByContainerToken(tx, deps, updated), p, effects);
    } else if (from === "Committed" && updated.containerUuid) {
      // Cancelling (priority 0, or Final by hand) lets a Queued container nobody wants go.
      if (to === "Final") await releaseRuntimeTokens(tx, deps, await finalizeRequests(tx, [uuid], null));
      if (to === "Final" || columns.priority !== undefined)
        await recomputePriority(tx, deps, updated.containerUuid, to === "Final" || columns.priority === 0, effects);
    }
    await audit(tx, ctx.clusterId, { type: "update", objectUuid: uuid, actorUuid: p.user.uuid, properties: { fields: Object.keys(columns), state: to } });
    return (await tx.containerRequest.findUnique({ where: { uuid } }))!;
  });
  await ctx.tokens.forgetRevoked(effects.revokedTokens);
  return toRequestRecord(row);
}
