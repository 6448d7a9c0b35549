/** Role groups and projects on the local database. */
import { Prisma } from "@prisma/client";
import type { Caller } from "../auth/principal";
import type { CollectionRecord, ContentRecord, CreateGroupInput, GroupClass, GroupRecord, ListOptions, Page, PageOptions, UpdateGroupInput } from "../api/types";
import { conflict, forbidden, notFound } from "../errors";
import { newUuid } from "../ids";
import { collectionReadable, groupReadable, levelOn } from "../permissions/access";
import { addEdge, lockPermissionGraph, refreshClosure } from "../permissions/closure";
import { audit } from "./audit";
import type { LocalContext } from "./context";
import { requireMove, requireWritableOwner } from "./owners";
import { mergeContents } from "./sharing";
import { COLLECTION_COLUMNS, GROUP_COLUMNS, afterClause, containsPattern, pageTail, toPage } from "./sql";

export async function groupsGet(ctx: LocalContext, c: Caller, uuids: string[]): Promise<GroupRecord[]> {
  if (uuids.length === 0) return [];
  return ctx.reader.rows<GroupRecord>(Prisma.sql`
    SELECT ${GROUP_COLUMNS} FROM groups g WHERE g.uuid = ANY(${uuids}::text[]) AND ${groupReadable(c.principal)}`);
}

export async function groupList(
  ctx: LocalContext,
  c: Caller,
  o: ListOptions & { groupClass?: GroupClass },
): Promise<Page<GroupRecord>> {
  const search = o.search ? Prisma.sql`AND lower(g.name) LIKE ${containsPattern(o.search)}` : Prisma.empty;
  const cls = o.groupClass ? Prisma.sql`AND g.group_class = ${o.groupClass}` : Prisma.empty;
  const rows = await ctx.reader.rows<GroupRecord>(Prisma.sql`
    SELECT ${GROUP_COLUMNS} FROM groups g
    WHERE ${groupReadable(c.principal)} ${search} ${cls} ${afterClause("g", o)} ${pageTail("g", o)}`);
  return toPage(rows, o.first);
}

export async function groupCreate(ctx: LocalContext, c: Caller, input: CreateGroupInput): Promise<GroupRecord> {
  const ownerUuid = input.ownerUuid ?? c.principal.user.uuid;
  return ctx.prisma.$transaction(async (tx) => {
    await lockPermissionGraph(tx);
    await requireWritableOwner(tx, c.principal, ownerUuid);
    const g = await tx.group.create({
      data: {
        uuid: newUuid(ctx.clusterId, "group"),
        name: input.name,
        groupClass: input.groupClass,
        ownerUuid,
        description: input.description ?? null,
      },
    });
    await addEdge(tx, ownerUuid, g.uuid, 3, "owner");
    await audit(tx, ctx.clusterId, { type: "create", objectUuid: g.uuid, actorUuid: c.principal.user.uuid });
    return { ...g, groupClass: g.groupClass as GroupClass };
  });
}

/** A project's subprojects and collections, ordered by uuid; NOT_FOUND if the viewer cannot read it. */
export async function groupContents(ctx: LocalContext, c: Caller, uuid: string, o: PageOptions): Promise<Page<ContentRecord>> {
  const [group] = await groupsGet(ctx, c, [uuid]);
  if (!group) throw notFound("group", uuid);
  // Everything a readable project owns is readable through ownership; the filters restate
  // that for the rows themselves so a change in the rules cannot leak through here.
  const [groups, collections] = await Promise.all([
    ctx.reader.rows<GroupRecord>(Prisma.sql`
      SELECT ${GROUP_COLUMNS} FROM groups g
      WHERE g.owner_uuid = ${uuid} AND ${groupReadable(c.principal)} ${afterClause("g", o)} ${pageTail("g", o)}`),
    ctx.reader.rows<CollectionRecord>(Prisma.sql`
      SELECT ${COLLECTION_COLUMNS} FROM collections c
      WHERE c.owner_uuid = ${uuid} AND ${collectionReadable(c.principal)} ${afterClause("c", o)} ${pageTail("c", o)}`),
  ]);
  return toPage(mergeContents(groups, collections), o.first);
}

/** The group, if the caller holds at least `need` on it: NOT_FOUND when unreadable, FORBIDDEN when short. */
async function groupWithLevel(tx: Prisma.TransactionClient, c: Caller, uuid: string, need: 2 | 3) {
  const row = await tx.group.findUnique({ where: { uuid } });
  const level = row ? await levelOn(tx, c.principal, uuid, null) : 0;
  if (!row || level === 0) throw notFound("group", uuid);
  if (level < need) throw forbidden(`changing group "${uuid}" needs ${need === 3 ? "can_manage" : "can_write"}`);
  return row;
}

export async function groupUpdate(ctx: LocalContext, c: Caller, uuid: string, input: UpdateGroupInput): Promise<GroupRecord> {
  return ctx.prisma.$transaction(async (tx) => {
    await lockPermissionGraph(tx);
    const current = await groupWithLevel(tx, c, uuid, 2);
    const moving = input.ownerUuid != null && input.ownerUuid !== current.ownerUuid;
    if (moving) {
      // A role group's owner manages who is in it, and its members hold whatever it is granted,
      // wherever: handing it to a new owner is a grant, so it needs can_manage on the group.
      // (Arvados asks only can_write, which a project's writer holds on the roles it owns.)
      if (current.groupClass === "role" && (await levelOn(tx, c.principal, uuid, null)) < 3)
        throw forbidden(`moving role group "${uuid}" needs can_manage on it`);
      await requireMove(tx, c.principal, current.ownerUuid, input.ownerUuid!);
      const [cycle] = await tx.$queryRaw<{ found: boolean }[]>`
        WITH RECURSIVE below(uuid) AS (SELECT ${uuid}::text UNION SELECT g.uuid FROM groups g JOIN below ON g.owner_uuid = below.uuid)
        SELECT EXISTS (SELECT 1 FROM below WHERE uuid = ${input.ownerUuid}) AS found`;
      if (cycle.found) throw conflict(`cannot move group "${uuid}" under itself or one of its subprojects`);
    }
    const g = await tx.group.update({
      where: { uuid },
      data: {
        ...(input.name != null ? { name: input.name } : {}),
        ...(moving ? { ownerUuid: input.ownerUuid! } : {}),
        ...(input.description !== undefined ? { description: input.description } : {}),
      },
    });
    if (moving) await refreshClosure(tx, [uuid, input.ownerUuid!]);
    await audit(tx, ctx.clusterId, { type: "update", objectUuid: uuid, actorUuid: c.principal.user.uuid, properties: moving ? { ownerUuid: input.ownerUuid! } : {} });
    return { ...g, groupClass: g.groupClass as GroupClass };
  });
}

/** Deletes an empty group and the permission links to and from it. */
export async function groupDelete(ctx: LocalContext, c: Caller, uuid: string): Promise<GroupRecord> {
  return ctx.prisma.$transaction(async (tx) => {
    await lockPermissionGraph(tx);
    const current = await groupWithLevel(tx, c, uuid, 3);
    // FOR UPDATE waits for anyone putting an object in it (they hold it FOR SHARE), so the count below sees them.
    await tx.$queryRaw`SELECT uuid FROM groups WHERE uuid = ${uuid} FOR UPDATE`;
    const owned =
      (await tx.group.count({ where: { ownerUuid: uuid } })) + (await tx.collection.count({ where: { ownerUuid: uuid } })) + (await tx.secret.count({ where: { ownerUuid: uuid } })) +
      (await tx.containerRequest.count({ where: { ownerUuid: uuid } }));
    if (owned > 0) throw conflict(`group "${uuid}" is not empty (${owned} items): move or delete them first`);
    await tx.link.deleteMany({ where: { OR: [{ headUuid: uuid }, { tailUuid: uuid }] } });
    await tx.group.delete({ where: { uuid } });
    await refreshClosure(tx, [uuid]);
    await audit(tx, ctx.clusterId, { type: "delete", objectUuid: uuid, actorUuid: c.principal.user.uuid });
    return { ...current, groupClass: current.groupClass as GroupClass };
  });
}
