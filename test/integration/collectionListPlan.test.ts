/**
 * How PostgreSQL finds a page of collections for a user who may read few of them: it walks the
 * primary key's index, which carries owner_uuid, without visiting the table for the collections
 * it passes over, and fetches only the page's rows (migration 20261203600000, collectionList).
 * On whichever database the suite runs (PGlite is PostgreSQL too).
 */
import { Prisma } from "@prisma/client";
import { systemUser } from "../../src/auth/authenticator";
import type { Caller } from "../../src/auth/principal";
import type { Reader } from "../../src/db/reader";
import type { LocalContext } from "../../src/localdb/context";
import { collectionList } from "../../src/localdb/collections";
import { createUserWithToken, startTestCluster, type TestCluster } from "../helpers/federation";

let z: TestCluster;
let alice: { uuid: string };

beforeAll(async () => {
  z = await startTestCluster("zzzzz");
  alice = await createUserWithToken(z, "alice@example.org");
  // 3,000 collections alice may not read, 30 of her own among them (every hundredth in uuid order).
  await z.db.prisma.$executeRawUnsafe(`INSERT INTO collections (uuid, name, owner_uuid)
    SELECT 'zzzzz-4zz18-' || lpad(i::text, 15, '0'), 'c' || i, CASE WHEN i % 100 = 50 THEN '${alice.uuid}' ELSE '${systemUser("zzzzz").uuid}' END
    FROM generate_series(0, 2999) AS i`);
  await z.db.prisma.$executeRawUnsafe("ANALYZE collections");
});
afterAll(() => z?.stop());

/** collectionList's statement, and its answer, as alice. */
async function aliceList(first: number, after?: string) {
  const statements: Prisma.Sql[] = [];
  const reader: Reader = { rows: (sql) => (statements.push(sql), z.db.reader.rows(sql)) };
  const caller: Caller = { principal: { user: { uuid: alice.uuid, email: "", fullName: "", isActive: true, isAdmin: false }, isRoot: false, token: null, scopeSets: [] } };
  const page = await collectionList({ reader } as unknown as LocalContext, caller, { first, after });
  return { page, sql: statements[0] };
}

type PlanNode = { "Node Type": string; "Index Name"?: string; "Relation Name"?: string; Plans?: PlanNode[] };
const nodesOf = (n: PlanNode): PlanNode[] => [n, ...(n.Plans ?? []).flatMap(nodesOf)];

it("walks the key index-only to find the page, and reads the table only for the page's rows", async () => {
  const { page, sql } = await aliceList(10);
  expect(page.nodes.map((c) => c.name)).toEqual(Array.from({ length: 10 }, (_, k) => `c${k * 100 + 50}`));
  expect(page.hasNextPage).toBe(true);
  const [explained] = await z.db.prisma.$queryRawUnsafe<{ "QUERY PLAN": [{ Plan: PlanNode }] }[]>(`EXPLAIN (FORMAT JSON) ${sql.text}`, ...sql.values);
  const scans = nodesOf(explained["QUERY PLAN"][0].Plan).filter((n) => n["Relation Name"] === "collections");
  expect(scans.map((n) => [n["Node Type"], n["Index Name"]])).toEqual(
    expect.arrayContaining([["Index Only Scan", "collections_pkey"]]),
  );
  expect(scans.filter((n) => n["Node Type"] === "Seq Scan")).toEqual([]);
});

it("pages on from a cursor to the end", async () => {
  const first = await aliceList(25);
  const rest = await aliceList(25, first.page.endCursor!);
  expect([...first.page.nodes, ...rest.page.nodes].map((c) => c.name)).toEqual(Array.from({ length: 30 }, (_, k) => `c${k * 100 + 50}`));
  expect(rest.page.hasNextPage).toBe(false);
});
