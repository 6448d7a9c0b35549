/** Collections on the local database. */
import { Prisma } from "@prisma/client";
import type { Caller } from "../auth/principal";
import type { CollectionRecord, CreateCollectionInput, ListOptions, Page, UpdateCollectionInput } from "../api/types";
import { forbidden, notFound } from "../errors";
import { newUuid } from "../ids";
import { collectionReadable, levelOn } from "../permissions/access";
import { lockPermissionGraph } from "../permissions/closure";
import { audit } from "./audit";
import type { LocalContext } from "./context";
import { requireMove, requireWritableOwner } from "./owners";
import { COLLECTION_COLUMNS, afterClause, containsPattern, pageTail, toPage } from "./sql";

export async function collectionsGet(ctx: LocalContext, c: Caller, uuids: string[]): Promise<CollectionRecord[]> {
  if (uuids.length === 0) return [];
  return ctx.reader.rows<CollectionRecord>(Prisma.sql`
    SELECT ${COLLECTION_COLUMNS} FROM collections c WHERE c.uuid = ANY(${uuids}::text[]) AND ${collectionReadable(c.principal)}`);
}

export async function collectionList(
  ctx: LocalContext,
  c: Caller,
  o: ListOptions & { ownerUuid?: string },
): Promise<Page<CollectionRecord>> {
  const search = o.search ? Prisma.sql`AND lower(x.name) LIKE ${containsPattern(o.search)}` : Prisma.empty;
  const owner = o.ownerUuid ? Prisma.sql`AND x.owner_uuid = ${o.ownerUuid}` : Prisma.empty;
  // The page's uuids first, then its rows: the key's index carries owner_uuid (migration
  // 20261203600000), so finding the page walks that index alone, however many collections it
  // passes over that the caller may not read, and only the page's rows are fetched.
  const rows = await ctx.reader.rows<CollectionRecord>(Prisma.sql`
    SELECT ${COLLECTION_COLUMNS} FROM collections c WHERE c.uuid IN (
      SELECT x.uuid FROM collections x
      WHERE ${collectionReadable(c.principal, "x")} ${search} ${owner} ${afterClause("x", o)} ${pageTail("x", o)})
    ORDER BY c.uuid`);
  return toPage(rows, o.first);
}

export async function collectionCreate(ctx: LocalContext, c: Caller, input: CreateCollectionInput): Promise<CollectionRecord> {
  const ownerUuid = input.ownerUuid ?? c.principal.user.uuid;
  return ctx.prisma.$transaction(async (tx) => {
    await requireWritableOwner(tx, c.principal, ownerUuid);
    const created = await tx.collection.create({
      data: {
        uuid: newUuid(ctx.clusterId, "collection"),
        name: input.name,
        ownerUuid,
        manifestText: input.manifestText ?? null,
        portableDataHash: input.portableDataHash ?? null,
        properties: (input.properties ?? {}) as Prisma.InputJsonValue,
        createdByContainerUuid: c.principal.token?.containerUuid ?? null,
      },
    });
    await audit(tx, ctx.clusterId, { type: "create", objectUuid: created.uuid, actorUuid: c.principal.user.uuid });
    return created;
  });
}

/**
 * The collection, if the caller can write it: NOT_FOUND when unreadable, FORBIDDEN when
 * read-only. A container's token writes only what its own container created (its log and
 * output): its scopes allow PATCH on collections by prefix, as no scope can name a collection
 * that does not exist yet, and its user may write much more than the container should.
 */
async function writableCollection(tx: Prisma.TransactionClient, c: Caller, uuid: string) {
  const row = await tx.collection.findUnique({ where: { uuid } });
  const level = row ? await levelOn(tx, c.principal, uuid, row.ownerUuid) : 0;
  if (!row || level === 0) throw notFound("collection", uuid);
  if (level < 2) throw forbidden(`cannot change collection "${uuid}": read-only access`);
  const container = c.principal.token?.containerUuid;
  if (container && row.createdByContainerUuid !== container)
    throw forbidden(`a container's token changes only the collections its container created, not "${uuid}"`);
  return row;
}

export async function collectionUpdate(ctx: LocalContext, c: Caller, uuid: string, input: UpdateCollectionInput): Promise<CollectionRecord> {
  return ctx.prisma.$transaction(async (tx) => {
    const current = await writableCollection(tx, c, uuid);
    if (input.ownerUuid && input.ownerUuid !== current.ownerUuid) await requireMove(tx, c.principal, current.ownerUuid, input.ownerUuid);
    const data: Prisma.CollectionUpdateInput = {};
    if (input.name != null) data.name = input.name;
    if (input.ownerUuid != null) data.ownerUuid = input.ownerUuid;
    if (input.manifestText !== undefined) data.manifestText = input.manifestText;
    if (input.portableDataHash !== undefined) data.portableDataHash = input.portableDataHash;
    if (input.properties !== undefined) data.properties = (input.properties ?? {}) as Prisma.InputJsonValue;
    const updated = await tx.collection.update({ where: { uuid }, data });
    await audit(tx, ctx.clusterId, { type: "update", objectUuid: uuid, actorUuid: c.principal.user.uuid, properties: { fields: Object.keys(data) } });
    return updated;
  });
}

export async function collectionDelete(ctx: LocalContext, c: Caller, uuid: string): Promise<CollectionRecord> {
  return ctx.prisma.$transaction(async (tx) => {
    await lockPermissionGraph(tx); // a grant on it must not land after its links are gone
    const current = await writableCollection(tx, c, uuid);
    await tx.collection.delete({ where: { uuid } });
    await tx.link.deleteMany({ where: { headUuid: uuid } });
    await tx.permissionClosure.deleteMany({ where: { targetUuid: uuid } });
    await audit(tx, ctx.clusterId, { type: "delete", objectUuid: uuid, actorUuid: c.principal.user.uuid });
    return current;
  });
}
