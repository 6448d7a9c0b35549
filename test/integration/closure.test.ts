/**
 * The maintained permission closure against its definition: random graphs changed step by
 * step (new links, raised levels, new groups incrementally; revocations and moves by
 * recompute) must leave exactly the rows a full recomputation gives.
 */
import type { PrismaClient } from "@prisma/client";
import { openDatabase, type Database } from "../../src/db/database";
import { migrate } from "../../src/db/migrate";
import { addEdge, lockPermissionGraph, recomputeUsers, refreshClosure } from "../../src/permissions/closure";
import { LEVELS } from "../../src/permissions/levels";
import { createTestDatabase } from "../helpers/database";

/** A small deterministic PRNG (mulberry32), so a failure can be replayed. */
function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const id = (cluster: string, infix: string, n: number) => `${cluster}-${infix}-${String(n).padStart(15, "0")}`;
const users = Array.from({ length: 8 }, (_, i) => id("zzzzz", "tpzed", i));
const remoteGroups = Array.from({ length: 2 }, (_, i) => id("yyyyy", "j7d0g", i));

let target: Awaited<ReturnType<typeof createTestDatabase>>;
let db: Database;
let prisma: PrismaClient;

beforeAll(async () => {
  target = await createTestDatabase();
  db = await openDatabase({ databaseUrl: target.databaseUrl });
  await migrate(db);
  prisma = db.prisma;
});
afterAll(async () => {
  await db?.close();
  await target?.dispose();
});

type Row = { user_uuid: string; target_uuid: string; level: number };
const snapshot = () =>
  prisma.$queryRaw<Row[]>`SELECT user_uuid, target_uuid, level::int AS level FROM permission_closure ORDER BY user_uuid, target_uuid`;

/** The closure recomputed from scratch for every subject, inside a transaction that is rolled back. */
async function expected(): Promise<Row[]> {
  let rows: Row[] = [];
  const rollback = new Error("rollback");
  await prisma
    .$transaction(async (tx) => {
      await recomputeUsers(tx, [...users, ...remoteGroups]);
      rows = await tx.$queryRaw<Row[]>`SELECT user_uuid, target_uuid, level::int AS level FROM permission_closure ORDER BY user_uuid, target_uuid`;
      throw rollback;
    })
    .catch((e) => {
      if (e !== rollback) throw e;
    });
  return rows;
}

it.each([1, 2, 3])("matches a full recomputation after every change (seed %i)", async (seed) => {
  const rand = prng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
  await prisma.$executeRaw`TRUNCATE permission_closure, links, groups, users`;
  for (const u of users) await prisma.user.create({ data: { uuid: u, isActive: true } });
  const groups: string[] = [];
  let linkNo = 0;

  for (let step = 0; step < 45; step++) {
    const links = await prisma.link.findMany();
    const op = rand();
    await prisma.$transaction(async (tx) => {
      await lockPermissionGraph(tx);
      if (op < 0.25 || groups.length < 2) {
        // a new group, owned by a user or an earlier group: added incrementally
        const g = id("zzzzz", "j7d0g", groups.length);
        const owner = groups.length && rand() < 0.5 ? pick(groups) : pick(users);
        await tx.group.create({ data: { uuid: g, name: g, groupClass: rand() < 0.5 ? "role" : "project", ownerUuid: owner } });
        groups.push(g);
        await addEdge(tx, owner, g, 3, "owner");
      } else if (op < 0.7) {
        // a new link from a user, a group or a remote group: added incrementally
        const tail = pick([...users, ...groups, ...remoteGroups]);
        const head = pick([...groups, ...users]);
        if (tail === head || links.some((l) => l.tailUuid === tail && l.headUuid === head)) return;
        const level = pick([...LEVELS]);
        await tx.link.create({ data: { uuid: id("zzzzz", "o0j2j", linkNo++), linkClass: "permission", name: level, tailUuid: tail, headUuid: head, ownerUuid: users[0] } });
        await addEdge(tx, tail, head, LEVELS.indexOf(level) + 1, "link");
      } else if (op < 0.82 && links.length) {
        // a raised level: incremental
        const l = pick(links);
        const rank = LEVELS.indexOf(l.name as (typeof LEVELS)[number]) + 1;
        if (rank === 3) return;
        await tx.link.update({ where: { uuid: l.uuid }, data: { name: LEVELS[rank] } });
        await addEdge(tx, l.tailUuid, l.headUuid, rank + 1, "link");
      } else if (op < 0.92 && links.length) {
        // a revocation: recomputed
        const l = pick(links);
        await tx.link.delete({ where: { uuid: l.uuid } });
        await refreshClosure(tx, [l.tailUuid]);
      } else {
        // a move to another owner (never under itself): recomputed
        const g = pick(groups);
        const owner = pick(users);
        await tx.group.update({ where: { uuid: g }, data: { ownerUuid: owner } });
        await refreshClosure(tx, [g, owner]);
      }
    });
    expect({ step, rows: await snapshot() }).toEqual({ step, rows: await expected() });
  }
  expect((await snapshot()).length).toBeGreaterThan(10);
});
