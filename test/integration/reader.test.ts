/**
 * The hot-read path (src/db/reader.ts) outside Prisma: for the same statements over the same
 * rows it gives exactly what Prisma's `$queryRaw` gives (int8 as BigInt, timestamptz as Date,
 * json parsed, NULLs, arrays), on whichever database the suite runs on, and its statements
 * count towards a request's database-time budget like Prisma's.
 */
import { Prisma } from "@prisma/client";
import { DatabaseClock } from "../../src/db/queryBudget";
import { budgetedReader } from "../../src/db/reader";
import { COLLECTION_COLUMNS, GROUP_COLUMNS, USER_COLUMNS } from "../../src/localdb/sql";
import { createUserWithToken, ok, gql, startTestCluster, type TestCluster } from "../helpers/federation";

let z: TestCluster;
let alice: { uuid: string; token: string };
const made: string[] = [];

beforeAll(async () => {
  z = await startTestCluster("zzzzz");
  alice = await createUserWithToken(z, "alice@example.org");
  const create = `mutation($i: CreateCollectionInput!) { createCollection(input: $i) { uuid } }`;
  for (const input of [
    { name: "full", manifestText: ". d41d8cd98f00b204e9800998ecf8427e+0 0:0:é.txt\n", portableDataHash: "d41d8cd98f00b204e9800998ecf8427e+0",
      properties: { n: 1, f: 2.5, big: 12345678901234, s: "ü", list: [1, "x", null, { deep: true }], none: null } },
    { name: "bare" },
  ])
    made.push((await ok(gql(z.url, create, { i: input }, alice.token))).createCollection.uuid);
  await z.root(`mutation { createGroup(input: { name: "p", groupClass: "project" }) { uuid } }`);
});
afterAll(() => z?.stop());

const statements = (): [string, Prisma.Sql][] => [
  ["collections", Prisma.sql`SELECT ${COLLECTION_COLUMNS} FROM collections c WHERE c.uuid = ANY(${made}::text[]) ORDER BY c.uuid`],
  ["one collection", Prisma.sql`SELECT ${COLLECTION_COLUMNS} FROM collections c WHERE c.uuid = ANY(${[made[1]]}::text[])`],
  ["groups", Prisma.sql`SELECT ${GROUP_COLUMNS} FROM groups g ORDER BY g.uuid LIMIT ${10}`],
  ["users", Prisma.sql`SELECT ${USER_COLUMNS} FROM users u WHERE u.email LIKE ${"%@%"} ORDER BY u.uuid`],
  ["scalars", Prisma.sql`SELECT count(*) AS n, 7::int AS i, 9007199254740993::bigint AS b, true AS t, NULL::text AS z, NULL::bigint AS zb,
      ARRAY['a', 'b']::text[] AS arr, '2026-12-02 10:11:12.345+00'::timestamptz(3) AS ts,
      '{"a": [1, 2.5, "x", null]}'::jsonb AS j, '[1, {"b": 2}]'::json AS js, ${"param"}::text AS p FROM users`],
];

it("gives the rows Prisma's $queryRaw gives, value for value and type for type", async () => {
  for (const [name, sql] of statements()) {
    const mine = await z.db.reader.rows<Record<string, unknown>>(sql);
    const prismas = await z.db.prisma.$queryRaw<Record<string, unknown>[]>(sql);
    expect([name, mine]).toStrictEqual([name, prismas]);
    expect(mine.length).toBeGreaterThan(0);
  }
  const [scalars] = await z.db.reader.rows<Record<string, unknown>>(statements()[4][1]);
  expect(typeof scalars.n).toBe("bigint");
  expect(scalars.b).toBe(9007199254740993n);
  expect(scalars.ts).toEqual(new Date("2026-12-02T10:11:12.345Z"));
  const [full] = await z.db.reader.rows<Record<string, unknown>>(statements()[0][1]);
  expect(full.createdAt).toBeInstanceOf(Date);
});

it("answers the same statement with other values correctly (a prepared statement is reused, not its result)", async () => {
  for (const uuid of [made[0], made[1], made[0]]) {
    const sql = Prisma.sql`SELECT c.uuid, c.name FROM collections c WHERE c.uuid = ANY(${[uuid]}::text[])`;
    expect(await z.db.reader.rows(sql)).toStrictEqual(await z.db.prisma.$queryRaw(sql));
    expect(await z.db.reader.rows<{ uuid: string }>(sql)).toEqual([expect.objectContaining({ uuid })]);
  }
});

it("charges its statements to the request's database-time budget", async () => {
  const clock = new DatabaseClock(5);
  const reader = budgetedReader(z.db.reader, clock);
  const seen: string[] = [];
  for (let i = 0; i < 3; i++) {
    try {
      await reader.rows(Prisma.sql`SELECT pg_sleep(0.02)::text AS slept`);
      seen.push("ok");
    } catch (e) {
      seen.push((e as { extensions?: { code?: string } }).extensions?.code ?? String(e));
    }
  }
  expect(seen).toEqual(["ok", "QUERY_TOO_COMPLEX", "QUERY_TOO_COMPLEX"]);
  await budgetedReader(z.db.reader, new DatabaseClock(5)).rows(Prisma.sql`SELECT 1 AS one`);
});

it("plans its statements once (generic plans: its own sessions on PostgreSQL, each statement's own setting on PGlite), while Prisma's keep the default", async () => {
  const setting = Prisma.sql`SELECT current_setting('plan_cache_mode') AS mode`;
  const [read] = await z.db.reader.rows<{ mode: string }>(setting);
  const [prisma] = await z.db.prisma.$queryRaw<{ mode: string }[]>(setting);
  expect(prisma.mode).toBe("auto");
  expect(read.mode).toBe("force_generic_plan");
});

// PostgreSQL only (PGlite is one session that never closes): a lull longer than pg's default
// 10 s idle timeout does not close the reader's connection, so the next read finds its session.
(process.env.DATABASE_URL ? it : it.skip)("keeps an idle connection open through a lull longer than pg's default 10 s (PostgreSQL only)", async () => {
  const backend = Prisma.sql`SELECT pg_backend_pid() AS pid`;
  const [before] = await z.db.reader.rows<{ pid: number }>(backend);
  await new Promise((r) => setTimeout(r, 11_000));
  const [after] = await z.db.reader.rows<{ pid: number }>(backend);
  expect(after.pid).toBe(before.pid);
}, 20_000);
