/** Role groups and projects on the local database. */
import { Prisma } from "@prisma/client";
import type { Caller } from "../auth/principal";
import type { CollectionRecord, ContentRecord, CreateGroupInput, GroupClass, GroupRecord, ListOptions, Page, PageOptions } from "../api/types";
import { notFound } from "../errors";
import { newUuid } from "../ids";
import { collectionReadable, groupReadable } from "../permissions/access";
import { lockPermissionGraph, refreshClosure } from "../permissions/closure";
import { audit } from "./audit";
import type { LocalContext } from "./context";
import { requireWritableOwner } from "./owners";
import { COLLECTION_COLUMNS, GROUP_COLUMNS, afterClause, containsPattern, pageTail, toPage } from "./sql";

export async function groupsGet(ctx: LocalContext, c: Caller, uuids: string[]): Promise<GroupRecord[]> {
  if (uuids.length === 0) return [];
  return ctx.prisma.$queryRaw<GroupRecord[]>`
    SELECT ${GROUP_COLUMNS} FROM groups g WHERE g.uuid = ANY(${uuids}::text[]) AND ${groupReadable(c.principal)}`;
}

export async function groupList(
  ctx: LocalContext,
  c: Caller,
  o: ListOptions & { groupClass?: GroupClass },
): Promise<Page<GroupRecord>> {
  const search = o.search ? Prisma.sql`AND lower(g.name) LIKE ${containsPattern(o.search)}` : Prisma.empty;
  const cls = o.groupClass ? Prisma.sql`AND g.group_class = ${o.groupClass}` : Prisma.empty;
  const rows = await ctx.prisma.$queryRaw<GroupRecord[]>`
    SELECT ${GROUP_COLUMNS} FROM groups g
    WHERE ${groupReadable(c.principal)} ${search} ${cls} ${afterClause("g", o)} ${pageTail("g", o)}`;
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
    await refreshClosure(tx, [ownerUuid]);
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
    ctx.prisma.$queryRaw<GroupRecord[]>`
      SELECT ${GROUP_COLUMNS} FROM groups g
      WHERE g.owner_uuid = ${uuid} AND ${groupReadable(c.principal)} ${afterClause("g", o)} ${pageTail("g", o)}`,
    ctx.prisma.$queryRaw<CollectionRecord[]>`
      SELECT ${COLLECTION_COLUMNS} FROM collections c
      WHERE c.owner_uuid = ${uuid} AND ${collectionReadable(c.principal)} ${afterClause("c", o)} ${pageTail("c", o)}`,
  ]);
  const merged: ContentRecord[] = [
    ...groups.map((g) => ({ kind: "group" as const, ...g })),
    ...collections.map((x) => ({ kind: "collection" as const, ...x })),
  ].sort((a, b) => (a.uuid < b.uuid ? -1 : 1));
  return toPage(merged, o.first);
}
