/**
 * Secrets on the local database: metadata, sealed versions, and response wrapping. Access is
 * the collection rule over the permission closure (the secret's level or its owner's): can_read
 * reads a value and wraps it, can_write adds versions, can_manage deletes (and grants, in
 * permissions.ts). A caller without access is told NOT_FOUND, with the uuid only. Every value
 * read, and every unwrap attempt, is audited; no value is ever in an audit row or a log line.
 */
import { Prisma } from "@prisma/client";
import type { Caller } from "../auth/principal";
import { parseToken } from "../auth/tokenString";
import type {
  CreateSecretInput, ListOptions, Page, SecretRecord, SecretValueRecord, SecretVersionRecord, UpdateSecretInput, WrappedSecretRecord, WrappingInfoRecord,
} from "../api/types";
import { ErrorCode, apiError, badInput, codeOf, forbidden, notFound } from "../errors";
import { newUuid } from "../ids";
import { levelOn, secretReadable } from "../permissions/access";
import { lockPermissionGraph } from "../permissions/closure";
import type { ClusterConfig } from "../config/config";
import { SecretKeyring } from "../secrets/keyring";
import { newWrappingToken, wrappingTokenHash, wrappingTokenNotFound } from "../secrets/wrappingToken";
import { audit } from "./audit";
import type { LocalContext } from "./context";
import { requireWritableOwner } from "./owners";
import { afterClause, containsPattern, pageTail, toPage } from "./sql";

type Tx = Prisma.TransactionClient;

/** What the local secret store needs beyond the database. */
export interface SecretStoreOptions {
  keyring: SecretKeyring;
  maxWrapTtlSeconds: number;
}

export function secretStoreOptions(config: ClusterConfig): SecretStoreOptions {
  return { keyring: SecretKeyring.fromConfig(config.secrets, Boolean(config.databaseUrl || config.dataDir)), maxWrapTtlSeconds: config.secrets.maxWrapTtlSeconds };
}

const SECRET_COLUMNS = Prisma.sql`s.uuid, s.name, s.description, s.owner_uuid AS "ownerUuid", s.current_version AS "currentVersion",
  s.created_at AS "createdAt", s.modified_at AS "modifiedAt",
  COALESCE((SELECT json_agg(json_build_object('version', v.version, 'createdAt', v.created_at, 'createdByUuid', v.created_by_uuid) ORDER BY v.version)
    FROM secret_versions v WHERE v.secret_uuid = s.uuid), '[]'::json) AS versions`;

type SecretRow = Omit<SecretRecord, "versions"> & { versions: unknown };

function toRecord(row: SecretRow): SecretRecord {
  const versions = (typeof row.versions === "string" ? JSON.parse(row.versions) : row.versions) as { version: number; createdAt: string; createdByUuid: string }[];
  return { ...row, versions: versions.map((v): SecretVersionRecord => ({ version: v.version, createdAt: new Date(v.createdAt), createdByUuid: v.createdByUuid })) };
}

async function selectSecrets(sql: Pick<Tx, "$queryRaw">, where: Prisma.Sql, tail: Prisma.Sql = Prisma.empty): Promise<SecretRecord[]> {
  return (await sql.$queryRaw<SecretRow[]>`SELECT ${SECRET_COLUMNS} FROM secrets s WHERE ${where} ${tail}`).map(toRecord);
}

export async function secretsGet(ctx: LocalContext, c: Caller, uuids: string[]): Promise<SecretRecord[]> {
  if (uuids.length === 0) return [];
  return selectSecrets(ctx.prisma, Prisma.sql`s.uuid = ANY(${uuids}::text[]) AND ${secretReadable(c.principal, "s")}`);
}

export async function secretList(ctx: LocalContext, c: Caller, o: ListOptions & { ownerUuid?: string }): Promise<Page<SecretRecord>> {
  const search = o.search ? Prisma.sql`AND lower(s.name) LIKE ${containsPattern(o.search)}` : Prisma.empty;
  const owner = o.ownerUuid ? Prisma.sql`AND s.owner_uuid = ${o.ownerUuid}` : Prisma.empty;
  const rows = await selectSecrets(ctx.prisma, Prisma.sql`${secretReadable(c.principal, "s")} ${search} ${owner} ${afterClause("s", o)}`, pageTail("s", o));
  return toPage(rows, o.first);
}

const NEEDS = { 2: "can_write", 3: "can_manage" } as const;

/**
 * The secret's row, if the caller holds at least `need` on it: NOT_FOUND when unreadable,
 * FORBIDDEN when short. `lock` holds the row to the end of the transaction: FOR UPDATE while
 * writing a version, FOR SHARE while adding a wrap (a delete waits for either, then finds it).
 */
async function secretWithLevel(tx: Pick<Tx, "secret" | "$queryRaw">, c: Caller, uuid: string, need: 1 | 2 | 3, doing: string, lock?: "update" | "share") {
  if (lock === "update") await tx.$queryRaw`SELECT 1 FROM secrets WHERE uuid = ${uuid} FOR UPDATE`;
  if (lock === "share") await tx.$queryRaw`SELECT 1 FROM secrets WHERE uuid = ${uuid} FOR SHARE`;
  const row = await tx.secret.findUnique({ where: { uuid } });
  const level = row ? await levelOn(tx, c.principal, uuid, row.ownerUuid) : 0;
  if (!row || level === 0) throw notFound("secret", uuid);
  if (level < need) throw forbidden(`${doing} secret "${uuid}" needs ${NEEDS[need as 2 | 3]}`);
  return row;
}

async function recordOf(tx: Tx, uuid: string): Promise<SecretRecord> {
  return (await selectSecrets(tx, Prisma.sql`s.uuid = ${uuid}`))[0];
}

export async function secretCreate(ctx: LocalContext, c: Caller, input: CreateSecretInput): Promise<SecretRecord> {
  const ownerUuid = input.ownerUuid ?? c.principal.user.uuid;
  const uuid = newUuid(ctx.clusterId, "secret");
  const sealed = ctx.secrets.keyring.seal(input.value, uuid, 1); // before anything is written: no key, no row
  return ctx.prisma.$transaction(async (tx) => {
    await requireWritableOwner(tx, c.principal, ownerUuid);
    await tx.secret.create({
      data: {
        uuid,
        name: input.name,
        ownerUuid,
        description: input.description ?? null,
        currentVersion: 1,
        versions: { create: { version: 1, keyId: sealed.keyId, valueSealed: sealed.sealed, createdByUuid: c.principal.user.uuid } },
      },
    });
    await audit(tx, ctx.clusterId, { type: "create", objectUuid: uuid, actorUuid: c.principal.user.uuid, properties: { version: 1 } });
    return recordOf(tx, uuid);
  });
}

export async function secretUpdate(ctx: LocalContext, c: Caller, uuid: string, input: UpdateSecretInput): Promise<SecretRecord> {
  return ctx.prisma.$transaction(async (tx) => {
    // Locked first: concurrent writers get consecutive versions, and a delete waits.
    const current = await secretWithLevel(tx, c, uuid, 2, "changing", "update");
    const data: Prisma.SecretUpdateInput = {};
    if (input.name != null) data.name = input.name;
    if (input.description !== undefined) data.description = input.description;
    let version: number | undefined;
    if (input.value != null) {
      version = current.currentVersion + 1;
      data.currentVersion = version;
      const sealed = ctx.secrets.keyring.seal(input.value, uuid, version);
      await tx.secretVersion.create({ data: { secretUuid: uuid, version, keyId: sealed.keyId, valueSealed: sealed.sealed, createdByUuid: c.principal.user.uuid } });
    }
    if (Object.keys(data).length) await tx.secret.update({ where: { uuid }, data });
    const fields = Object.keys(data).map((k) => (k === "currentVersion" ? "value" : k));
    await audit(tx, ctx.clusterId, { type: "update", objectUuid: uuid, actorUuid: c.principal.user.uuid, properties: { fields, ...(version ? { version } : {}) } });
    return recordOf(tx, uuid);
  });
}

/** Deletes the secret with every version, its wrapping tokens and the permission links to it. */
export async function secretDelete(ctx: LocalContext, c: Caller, uuid: string): Promise<SecretRecord> {
  return ctx.prisma.$transaction(async (tx) => {
    await lockPermissionGraph(tx); // a grant on it must not land after its links are gone
    await secretWithLevel(tx, c, uuid, 3, "deleting");
    const record = await recordOf(tx, uuid);
    await tx.secret.delete({ where: { uuid } });
    await tx.link.deleteMany({ where: { headUuid: uuid } });
    await tx.permissionClosure.deleteMany({ where: { targetUuid: uuid } });
    await audit(tx, ctx.clusterId, { type: "delete", objectUuid: uuid, actorUuid: c.principal.user.uuid });
    return record;
  });
}

/** The container a caller's token is bound to, if any: its record's binding, or (a remote token's) the 4th field it came with. */
function containerOf(c: Caller): string | null {
  return c.principal.token?.containerUuid ?? (c.token ? parseToken(c.token)?.containerUuid : undefined) ?? null;
}

/** Who read a value, for the audit row: user (the actor), token, container. Never the value. */
function readerOf(c: Caller | null): { actorUuid?: string; properties: { tokenUuid: string | null; containerUuid: string | null } } {
  return { actorUuid: c?.principal.user.uuid, properties: { tokenUuid: c?.principal.token?.uuid ?? null, containerUuid: c ? containerOf(c) : null } };
}

/** The value of one stored version and when it was written (UNAVAILABLE if its key is missing or it was altered). */
async function openVersion(ctx: LocalContext, tx: Pick<Tx, "secretVersion">, uuid: string, version: number): Promise<{ value: string; createdAt: Date } | undefined> {
  const stored = await tx.secretVersion.findUnique({ where: { secretUuid_version: { secretUuid: uuid, version } } });
  return stored ? { value: ctx.secrets.keyring.open({ keyId: stored.keyId, sealed: stored.valueSealed }, uuid, version), createdAt: stored.createdAt } : undefined;
}

/**
 * A container's token reads (or wraps) a value only while its container is Running, asked now
 * where the container runs: here, or its cluster over the federation, never cached (a
 * container that ended elsewhere may not have got its token's revocation to us). A cluster
 * that cannot be asked makes the read UNAVAILABLE; any refusal there, FORBIDDEN here.
 */
async function requireRunningContainer(ctx: LocalContext, c: Caller): Promise<void> {
  const uuid = containerOf(c);
  if (!uuid) return;
  let state: string | undefined;
  try {
    state = await ctx.containers.federation(c).boundContainerState(c);
  } catch (e) {
    const code = codeOf(e);
    if (code !== ErrorCode.UNAUTHENTICATED && code !== ErrorCode.FORBIDDEN && code !== ErrorCode.NOT_FOUND) throw e;
  }
  if (state !== "Running") throw forbidden(`container "${uuid}" is not Running: its token reads no secret value`);
}

const versionNotFound = (uuid: string, version: number) => apiError(ErrorCode.NOT_FOUND, `secret "${uuid}" has no version ${version}`);

/** A version's value (default: the current one), to a caller who can read the secret; audited. */
export async function secretValue(ctx: LocalContext, c: Caller, uuid: string, version: number | null | undefined): Promise<SecretValueRecord> {
  const row = await secretWithLevel(ctx.prisma, c, uuid, 1, "reading");
  await requireRunningContainer(ctx, c);
  const v = version ?? row.currentVersion;
  const opened = await openVersion(ctx, ctx.prisma, uuid, v);
  if (opened === undefined) throw versionNotFound(uuid, v);
  const reader = readerOf(c);
  await audit(ctx.prisma, ctx.clusterId, { type: "secret_read", objectUuid: uuid, actorUuid: reader.actorUuid, properties: { ...reader.properties, version: v } });
  return { uuid, version: v, ...opened };
}

/**
 * A single-use token for one version (default: the current one, pinned now). Nothing but its
 * hash is stored: the value is read from the store when it is unwrapped, so a wrap holds no
 * copy of it (a deleted secret unwraps to nothing).
 */
export async function secretWrap(ctx: LocalContext, c: Caller, uuid: string, version: number | null | undefined, ttlSeconds: number): Promise<WrappedSecretRecord> {
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > ctx.secrets.maxWrapTtlSeconds)
    throw badInput(`ttlSeconds: must be between 1 and ${ctx.secrets.maxWrapTtlSeconds} (secrets.maxWrapTtlSeconds)`);
  await requireRunningContainer(ctx, c);
  const token = newWrappingToken(ctx.clusterId);
  return ctx.prisma.$transaction(async (tx) => {
    const row = await secretWithLevel(tx, c, uuid, 1, "wrapping", "share");
    const v = version ?? row.currentVersion;
    if (!(await tx.secretVersion.findUnique({ where: { secretUuid_version: { secretUuid: uuid, version: v } }, select: { version: true } })))
      throw versionNotFound(uuid, v);
    const [{ expiresAt }] = await tx.$queryRaw<{ expiresAt: Date }[]>`
      INSERT INTO secret_wraps (token_hash, secret_uuid, version, creator_uuid, creator_token_uuid, expires_at)
      VALUES (${wrappingTokenHash(token)}, ${uuid}, ${v}, ${c.principal.user.uuid}, ${c.principal.token?.uuid ?? null}, now() + make_interval(secs => ${ttlSeconds}))
      RETURNING expires_at AS "expiresAt"`;
    await audit(tx, ctx.clusterId, { type: "secret_wrap", objectUuid: uuid, actorUuid: c.principal.user.uuid, properties: { version: v, expiresAt: expiresAt.toISOString(), tokenUuid: c.principal.token?.uuid ?? null } });
    return { token, expiresAt };
  });
}

/**
 * The wrapped value, once: one conditional UPDATE claims the token (a concurrent claim waits
 * for this one's row lock, then finds it taken), in the transaction that reads the value, so a
 * value that cannot be opened leaves the token unused. Every attempt is audited.
 */
export async function secretUnwrap(ctx: LocalContext, c: Caller | null, token: string): Promise<SecretValueRecord> {
  const hash = wrappingTokenHash(token);
  const reader = readerOf(c);
  const unwrapped = await ctx.prisma.$transaction(async (tx) => {
    const [claimed] = await tx.$queryRaw<{ secretUuid: string; version: number }[]>`
      UPDATE secret_wraps SET unwrapped_at = now() WHERE token_hash = ${hash} AND unwrapped_at IS NULL AND expires_at > now()
      RETURNING secret_uuid AS "secretUuid", version`;
    if (!claimed) return undefined;
    const opened = await openVersion(ctx, tx, claimed.secretUuid, claimed.version);
    if (opened === undefined) return undefined; // cannot happen: versions go only with their secret (and its wraps)
    await audit(tx, ctx.clusterId, { type: "secret_unwrap", objectUuid: claimed.secretUuid, actorUuid: reader.actorUuid, properties: { ...reader.properties, version: claimed.version, wrap: hash.slice(0, 16) } });
    return { uuid: claimed.secretUuid, version: claimed.version, ...opened };
  });
  if (unwrapped) return unwrapped;
  const known = await ctx.prisma.secretWrap.findUnique({ where: { tokenHash: hash }, select: { secretUuid: true, unwrappedAt: true } });
  const reason = !known ? "unknown" : known.unwrappedAt ? "used" : "expired";
  await audit(ctx.prisma, ctx.clusterId, { type: "secret_unwrap_failed", objectUuid: known?.secretUuid, actorUuid: reader.actorUuid, properties: { ...reader.properties, reason, ...(known ? { wrap: hash.slice(0, 16) } : {}) } });
  throw wrappingTokenNotFound();
}

/** What a wrapping token is for, to whoever holds it: never the value. */
export async function wrappingLookup(ctx: LocalContext, token: string): Promise<WrappingInfoRecord> {
  const row = await ctx.prisma.secretWrap.findUnique({ where: { tokenHash: wrappingTokenHash(token) } });
  if (!row) throw wrappingTokenNotFound();
  return { secretUuid: row.secretUuid, version: row.version, creatorUuid: row.creatorUuid, createdAt: row.createdAt, expiresAt: row.expiresAt, unwrapped: row.unwrappedAt !== null };
}
