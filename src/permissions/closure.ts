/**
 * Maintains `permission_closure`: for each user, the highest level it holds on every group,
 * user or object it reaches through permission links (tail → head, the lowest level along a
 * path) and group ownership (an owner manages what it owns). Links are followed from the
 * subject itself and from groups, never from another user reached on the way: a permission on
 * a user reaches what that user owns, not the groups that user belongs to. Reads never compute
 * the graph; every change that can alter it updates the closure in the same transaction:
 * additions incrementally (`addEdge`), removals by recomputing the affected subjects
 * (`refreshClosure`).
 *
 * Which users must be recomputed: a change at node N (a link from N, a group owned by N, N
 * moved or deleted) can only alter the closure of users that reach N, which the closure
 * still records (it is not yet updated), plus N itself when N is a user.
 */
import { Prisma } from "@prisma/client";
import { kindOf } from "../ids";

/** The client or transaction to run in. */
type Sql = Pick<Prisma.TransactionClient, "$queryRaw" | "$executeRaw">;

/** Serialises graph changes, so two concurrent changes cannot each miss the other's edge. */
const GRAPH_LOCK = 72707370;

export async function lockPermissionGraph(tx: Sql): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(${GRAPH_LOCK})`;
}

/**
 * The closure's subjects affected by a change at `nodes`: those that reach them, and the nodes
 * themselves when they are subjects: users, and groups of other clusters (a user from another
 * cluster holds what its home groups hold here, so those groups get closure rows of their own).
 */
async function subjectsReaching(tx: Sql, nodes: string[]): Promise<string[]> {
  const rows = await tx.$queryRaw<{ user_uuid: string }[]>`
    SELECT DISTINCT user_uuid FROM permission_closure WHERE target_uuid = ANY(${nodes}::text[])`;
  const subjects = new Set(rows.map((r) => r.user_uuid));
  const groups = nodes.filter((n) => kindOf(n) === "group");
  const local = new Set(
    groups.length ? (await tx.$queryRaw<{ uuid: string }[]>`SELECT uuid FROM groups WHERE uuid = ANY(${groups}::text[])`).map((r) => r.uuid) : [],
  );
  for (const n of nodes) if (kindOf(n) === "user" || (kindOf(n) === "group" && !local.has(n))) subjects.add(n);
  return [...subjects];
}

/** Recomputes the closure rows of `users` from links and group ownership. */
export async function recomputeUsers(tx: Sql, users: string[]): Promise<void> {
  if (users.length === 0) return;
  await tx.$executeRaw`DELETE FROM permission_closure WHERE user_uuid = ANY(${users}::text[])`;
  await tx.$executeRaw`
    INSERT INTO permission_closure (user_uuid, target_uuid, level)
    WITH RECURSIVE reach(user_uuid, node, level) AS (
      SELECT u, u, 3 FROM unnest(${users}::text[]) AS u
      UNION
      SELECT r.user_uuid, e.dst, LEAST(r.level, e.level)
      FROM reach r CROSS JOIN LATERAL (
        SELECT l.head_uuid AS dst,
               CASE l.name WHEN 'can_manage' THEN 3 WHEN 'can_write' THEN 2 ELSE 1 END AS level
          FROM links l WHERE l.link_class = 'permission' AND l.tail_uuid = r.node
           AND (r.node = r.user_uuid OR substr(r.node, 7, 5) <> 'tpzed')
        UNION ALL
        SELECT g.uuid, 3 FROM groups g WHERE g.owner_uuid = r.node
      ) e
    )
    SELECT user_uuid, node, max(level)::smallint FROM reach WHERE node <> user_uuid GROUP BY user_uuid, node`;
}

/**
 * Call after changing links or group ownership at `nodes` (tail of a link, owner of a group,
 * a moved or deleted group), inside the transaction that made the change, after `lockPermissionGraph`.
 */
export async function refreshClosure(tx: Sql, nodes: string[]): Promise<void> {
  await recomputeUsers(tx, await subjectsReaching(tx, nodes));
}

/** Users, and groups of other clusters (not in the local groups table), hold closure rows. */
async function isSubject(tx: Sql, uuid: string): Promise<boolean> {
  const kind = kindOf(uuid);
  if (kind === "user") return true;
  if (kind !== "group") return false;
  return (await tx.$queryRaw<unknown[]>`SELECT 1 FROM groups WHERE uuid = ${uuid}`).length === 0;
}

/**
 * Adds what one new edge `tail → head` at `level` (1..3) gives, without recomputing anyone:
 * every subject S that passes through `tail` gains, on everything X that `head` leads to,
 * min(S's level on tail, level, head's level on X), where that is more than S holds. A link is
 * followed out of `tail` only when tail is a group or the subject itself; ownership (`kind:
 * "owner"`, a new group owned by tail) out of any node. Only for additions (a new link, a
 * raised level, a new group): anything that removes a path goes through `refreshClosure`.
 * Call in the transaction that added the edge, after `lockPermissionGraph`.
 */
export async function addEdge(tx: Sql, tail: string, head: string, level: number, kind: "link" | "owner"): Promise<void> {
  const tailIsSubject = await isSubject(tx, tail);
  const passThrough = kind === "owner" || kindOf(tail) !== "user";
  await tx.$executeRaw`
    INSERT INTO permission_closure (user_uuid, target_uuid, level)
    WITH RECURSIVE from_head(node, level) AS (
      SELECT ${head}::text, ${level}::int
      UNION
      SELECT e.dst, LEAST(f.level, e.level)
      FROM from_head f CROSS JOIN LATERAL (
        SELECT l.head_uuid AS dst,
               CASE l.name WHEN 'can_manage' THEN 3 WHEN 'can_write' THEN 2 ELSE 1 END AS level
          FROM links l WHERE l.link_class = 'permission' AND l.tail_uuid = f.node AND substr(f.node, 7, 5) <> 'tpzed'
        UNION ALL
        SELECT g.uuid, 3 FROM groups g WHERE g.owner_uuid = f.node
      ) e
    ),
    reachers(user_uuid, level) AS (
      SELECT pc.user_uuid, pc.level::int FROM permission_closure pc WHERE pc.target_uuid = ${tail} AND ${passThrough}::boolean
      UNION ALL
      SELECT ${tail}::text, 3 WHERE ${tailIsSubject}::boolean
    )
    SELECT r.user_uuid, f.node, max(LEAST(r.level, f.level))::smallint
    FROM reachers r CROSS JOIN from_head f
    WHERE f.node <> r.user_uuid
    GROUP BY r.user_uuid, f.node
    ON CONFLICT (user_uuid, target_uuid) DO UPDATE SET level = GREATEST(permission_closure.level, EXCLUDED.level)`;
}
