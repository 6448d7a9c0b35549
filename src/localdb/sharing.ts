/**
 * What a sharing dialog and a workbench need from the local database: which users and groups
 * the caller can see, and what other users shared with it.
 */
import { Prisma } from "@prisma/client";
import { systemUser } from "../auth/authenticator";
import { subjectsOf, type Caller } from "../auth/principal";
import type { CollectionRecord, ContentRecord, GroupLevel, GroupRecord, ListOptions, Page, SubjectRecord } from "../api/types";
import { levelFromRank } from "../permissions/levels";
import { groupReadable, userVisible } from "../permissions/access";
import type { LocalContext } from "./context";
import { COLLECTION_COLUMNS, GROUP_COLUMNS, afterClause, pageTail, prefixPattern, toPage } from "./sql";

/** Bound on the groups one caller's visibility answer carries across the federation. */
export const MAX_VISIBLE_GROUPS = 1000;

export async function subjectsVisible(ctx: LocalContext, c: Caller, uuids: string[], viaGroups: string[] = []): Promise<string[]> {
  if (uuids.length === 0) return [];
  const via = viaGroups.length
    ? Prisma.sql`OR EXISTS (SELECT 1 FROM links l WHERE l.link_class = 'permission' AND (
          (l.tail_uuid = s.uuid AND l.head_uuid = ANY(${viaGroups}::text[])) OR (l.head_uuid = s.uuid AND l.tail_uuid = ANY(${viaGroups}::text[]))))
       OR EXISTS (SELECT 1 FROM permission_closure pc WHERE pc.user_uuid = s.uuid AND pc.target_uuid = ANY(${viaGroups}::text[]))`
    : Prisma.empty;
  const rows = await ctx.reader.rows<{ uuid: string }>(Prisma.sql`
    SELECT s.uuid FROM unnest(${uuids}::text[]) AS s(uuid)
    WHERE EXISTS (SELECT 1 FROM users u WHERE u.uuid = s.uuid AND ${userVisible(c.principal)})
       OR EXISTS (SELECT 1 FROM groups g WHERE g.uuid = s.uuid AND ${groupReadable(c.principal)})
       ${via}`);
  return rows.map((r) => r.uuid);
}

/**
 * The caller's own memberships, from its closure only: an admin's power to see every group is
 * not membership, and another cluster must not grant it what those groups hold there.
 */
export async function visibleGroups(ctx: LocalContext, c: Caller): Promise<GroupLevel[]> {
  const rows = await ctx.reader.rows<{ uuid: string; level: number }>(Prisma.sql`
    SELECT pc.target_uuid AS uuid, pc.level::int AS level FROM permission_closure pc
    JOIN groups g ON g.uuid = pc.target_uuid AND g.group_class = 'role'
    WHERE pc.user_uuid = ${c.principal.user.uuid}
    ORDER BY pc.target_uuid LIMIT ${MAX_VISIBLE_GROUPS}`);
  return rows.map((r) => ({ uuid: r.uuid, level: levelFromRank(r.level) }));
}

export async function subjectList(ctx: LocalContext, c: Caller, o: ListOptions): Promise<Page<SubjectRecord>> {
  const p = o.search ? prefixPattern(o.search) : undefined;
  const userSearch = p ? Prisma.sql`AND (lower(u.email) LIKE ${p} OR lower(u.full_name) LIKE ${p})` : Prisma.empty;
  const groupSearch = p ? Prisma.sql`AND lower(g.name) LIKE ${p}` : Prisma.empty;
  const system = systemUser(ctx.clusterId).uuid;
  const rows = await ctx.reader.rows<SubjectRecord>(Prisma.sql`
    SELECT * FROM (
      SELECT u.uuid, 'user' AS kind, u.full_name AS name, u.email, NULL AS "groupClass" FROM users u
      WHERE ${userVisible(c.principal)} AND u.uuid <> ${system} ${userSearch} ${afterClause("u", o)}
      UNION ALL
      SELECT g.uuid, 'group', g.name, NULL, g.group_class FROM groups g
      WHERE ${groupReadable(c.principal)} ${groupSearch} ${afterClause("g", o)}
    ) s ${pageTail("s", o)}`);
  return toPage(rows, o.first);
}

/** Projects and collections that reach the caller through a permission link (to it or to a role it is in), not its own. */
export async function sharedWithMe(ctx: LocalContext, c: Caller, o: ListOptions): Promise<Page<ContentRecord>> {
  const me = c.principal.user.uuid;
  const subjects = subjectsOf(c.principal);
  const shared = Prisma.sql`SELECT l.head_uuid FROM links l WHERE l.link_class = 'permission' AND (l.tail_uuid = ANY(${subjects}::text[])
      OR l.tail_uuid IN (SELECT pc.target_uuid FROM permission_closure pc JOIN groups r ON r.uuid = pc.target_uuid AND r.group_class = 'role' WHERE pc.user_uuid = ANY(${subjects}::text[])))`;
  const [groups, collections] = await Promise.all([
    ctx.reader.rows<GroupRecord>(Prisma.sql`
      SELECT ${GROUP_COLUMNS} FROM groups g WHERE g.group_class = 'project' AND g.owner_uuid <> ${me} AND g.uuid IN (${shared})
      ${afterClause("g", o)} ${pageTail("g", o)}`),
    ctx.reader.rows<CollectionRecord>(Prisma.sql`
      SELECT ${COLLECTION_COLUMNS} FROM collections c WHERE c.owner_uuid <> ${me} AND c.uuid IN (${shared})
      ${afterClause("c", o)} ${pageTail("c", o)}`),
  ]);
  return toPage(mergeContents(groups, collections), o.first);
}

export function mergeContents(groups: GroupRecord[], collections: CollectionRecord[]): ContentRecord[] {
  return [
    ...groups.map((g) => ({ kind: "group" as const, ...g })),
    ...collections.map((x) => ({ kind: "collection" as const, ...x })),
  ].sort((a, b) => (a.uuid < b.uuid ? -1 : 1));
}

