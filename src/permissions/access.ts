/**
 * What a user may read or change, as SQL over the maintained closure. One place defines each
 * rule; the local backend composes these fragments into its queries.
 *  - a collection: the highest of the user's level on it and on its owner; an owner manages it;
 *  - a group: the user's level on it (ownership and membership are in the closure);
 *  - a user: visible to itself, to users with a level on it, and to fellow members of a role group.
 * A user from another cluster also holds what its home groups hold here (`subjectsOf`).
 * Admins bypass every rule.
 */
import { Prisma } from "@prisma/client";
import type { Principal } from "../auth/principal";
import { isAdmin, subjectCapsOf, subjectsOf } from "../auth/principal";

const TRUE = Prisma.sql`TRUE`;

export function collectionReadable(p: Principal, alias = "c"): Prisma.Sql {
  if (isAdmin(p)) return TRUE;
  const c = Prisma.raw(alias);
  const subjects = subjectsOf(p);
  // Two equality probes, not `target_uuid IN (uuid, owner_uuid)`: PostgreSQL turns that into an
  // array condition on the closure's key that costs ~5x as much per row, and a list probes the
  // closure for every row it passes over in uuid order until a page is full.
  return Prisma.sql`(${c}.owner_uuid = ${p.user.uuid}
    OR EXISTS (SELECT 1 FROM permission_closure pc WHERE pc.user_uuid = ANY(${subjects}::text[]) AND pc.target_uuid = ${c}.uuid)
    OR EXISTS (SELECT 1 FROM permission_closure pc WHERE pc.user_uuid = ANY(${subjects}::text[]) AND pc.target_uuid = ${c}.owner_uuid))`;
}

/** A secret follows the collection rule: the highest of the user's level on it and on its owner. */
export const secretReadable = collectionReadable;

/** Container requests are owned like collections (by a user or project): the same rule. */
export function containerRequestReadable(p: Principal, alias = "r"): Prisma.Sql {
  return collectionReadable(p, alias);
}

/** A container: to admins, to its own token, and to whoever can read a request it runs for. */
export function containerReadable(p: Principal, alias = "ct"): Prisma.Sql {
  if (isAdmin(p)) return TRUE;
  const ct = Prisma.raw(alias);
  const own = p.token?.containerUuid ?? null;
  return Prisma.sql`(${ct}.uuid = ${own} OR EXISTS (
    SELECT 1 FROM container_requests r WHERE r.container_uuid = ${ct}.uuid AND ${containerRequestReadable(p, "r")}))`;
}

export function groupReadable(p: Principal, alias = "g"): Prisma.Sql {
  if (isAdmin(p)) return TRUE;
  const g = Prisma.raw(alias);
  return Prisma.sql`EXISTS (SELECT 1 FROM permission_closure pc WHERE pc.user_uuid = ANY(${subjectsOf(p)}::text[]) AND pc.target_uuid = ${g}.uuid)`;
}

export function userVisible(p: Principal, alias = "u"): Prisma.Sql {
  if (isAdmin(p)) return TRUE;
  const u = Prisma.raw(alias);
  const subjects = subjectsOf(p);
  // Uncorrelated, so PostgreSQL computes the set once (a hashed subplan), not once per user row.
  return Prisma.sql`(${u}.uuid = ${p.user.uuid} OR ${u}.uuid IN (
    SELECT pc.target_uuid FROM permission_closure pc WHERE pc.user_uuid = ANY(${subjects}::text[])
    UNION
    SELECT theirs.user_uuid FROM permission_closure mine
      JOIN groups r ON r.uuid = mine.target_uuid AND r.group_class = 'role'
      JOIN permission_closure theirs ON theirs.target_uuid = mine.target_uuid
    WHERE mine.user_uuid = ANY(${subjects}::text[])))`;
}

/**
 * The user's level (0 none, 1 read, 2 write, 3 manage) on an object with this uuid and owner.
 * `ownerUuid` is the object's owner (null for groups/users, whose ownership is in the closure).
 */
export async function levelOn(
  sql: Pick<Prisma.TransactionClient, "$queryRaw">,
  p: Principal,
  uuid: string,
  ownerUuid: string | null,
): Promise<number> {
  if (isAdmin(p)) return 3;
  const me = p.user.uuid;
  if (uuid === me || ownerUuid === me) return 3;
  const targets = ownerUuid ? [uuid, ownerUuid] : [uuid];
  // Through a home group, a remote user holds no more than its own level in that group.
  const rows = await sql.$queryRaw<{ level: number | null }[]>`
    SELECT max(LEAST(pc.level, s.cap))::int AS level
    FROM permission_closure pc JOIN unnest(${subjectsOf(p)}::text[], ${subjectCapsOf(p)}::int[]) AS s(uuid, cap) ON pc.user_uuid = s.uuid
    WHERE pc.target_uuid = ANY(${targets}::text[])`;
  return rows[0]?.level ?? 0;
}
