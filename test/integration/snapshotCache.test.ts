/**
 * The reader's answers kept while the database is unchanged (src/db/snapshotCache.ts): an
 * unchanged read is answered from memory without PostgreSQL running the statement, and every
 * committed change (on this connection pool or another process's) is read at once, an
 * uncommitted one never. On whichever database the suite runs on; the races (another pool
 * writing while this one reads and keeps) on PostgreSQL, where they can happen.
 */
import { Prisma } from "@prisma/client";
import { openDatabase, type Database } from "../../src/db/database";
import { migrate } from "../../src/db/migrate";
import { gated, readCacheLimits, type SnapshotCachedReader } from "../../src/db/snapshotCache";
import { createTestDatabase, type TestDatabaseUrl } from "../helpers/database";

let url: TestDatabaseUrl;
let db: Database;
const onPostgres = Boolean(process.env.DATABASE_URL);

beforeAll(async () => {
  url = await createTestDatabase();
  db = await openDatabase({ databaseUrl: url.databaseUrl });
  await migrate(db);
  await db.prisma.user.create({ data: { uuid: "zzzzz-tpzed-snapshotowner01", email: "owner@cache.example" } });
});
afterAll(async () => {
  await db?.close();
  await url?.dispose();
});

let n = 0;
async function collection(name: string, on = db): Promise<string> {
  const uuid = `zzzzz-4zz18-snapshot${String(n++).padStart(7, "0")}`;
  await on.prisma.collection.create({ data: { uuid, name, ownerUuid: "zzzzz-tpzed-snapshotowner01" } });
  return uuid;
}
const nameOf = (uuid: string) => Prisma.sql`SELECT c.uuid, c.name FROM collections c WHERE c.uuid = ${uuid}`;
const stats = () => ({ ...db.reader.stats });
const counts = () => ({ hits: db.reader.stats.hits, misses: db.reader.stats.misses });

/**
 * The statement's answer from memory: read until a read is a hit. Transaction ids are counted
 * for the whole PostgreSQL server, so another test file writing to its own database between two
 * reads makes the second a miss; on an unchanged database the second read is already a hit.
 */
async function fromMemory<T>(reader: SnapshotCachedReader, sql: Prisma.Sql): Promise<T[]> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const hits = reader.stats.hits;
    const rows = await reader.rows<T>(sql);
    if (reader.stats.hits === hits + 1) return rows;
  }
  throw new Error("never answered from memory");
}

it("answers an unchanged read from memory, and the same rows", async () => {
  const uuid = await collection("kept");
  const first = await db.reader.rows(nameOf(uuid));
  const again = await fromMemory(db.reader, nameOf(uuid));
  expect(again).toEqual(first);
  expect(again).toEqual([{ uuid, name: "kept" }]);
});

it("does not run the statement when the snapshot is the kept one (PostgreSQL's plan: never executed)", async () => {
  const uuid = await collection("gate");
  const explain = (snapshot: string | null) => {
    const sql = gated(nameOf(uuid), snapshot);
    return db.prisma.$queryRawUnsafe<{ "QUERY PLAN": string }[]>(`EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) ${sql.text}`, ...sql.values);
  };
  const [{ snapshot }] = await db.prisma.$queryRaw<{ snapshot: string }[]>`SELECT pg_current_snapshot()::text AS snapshot`;
  const plan = (rows: { "QUERY PLAN": string }[]) => rows.map((r) => r["QUERY PLAN"]).join("\n");
  const kept = plan(await explain(snapshot));
  const other = plan(await explain("1:1:"));
  expect(kept).toMatch(/on collections c \(never executed\)/);
  expect(other).toMatch(/on collections c \(actual rows=1(?:\.00)? loops=1\)/);
});

it("reads a committed change at once: a write between two reads is never answered from memory", async () => {
  const uuid = await collection("v0");
  for (let i = 1; i <= 20; i++) {
    expect(await db.reader.rows(nameOf(uuid))).toEqual([{ uuid, name: `v${i - 1}` }]);
    await db.prisma.collection.update({ where: { uuid }, data: { name: `v${i}` } });
    expect(await db.reader.rows(nameOf(uuid))).toEqual([{ uuid, name: `v${i}` }]);
  }
});

it("checks many concurrent reads of kept answers with one probe of the snapshot (and one more for those that come while it is out)", async () => {
  const uuid = await collection("crowd");
  await db.reader.rows(nameOf(uuid));
  await fromMemory(db.reader, nameOf(uuid));
  const before = stats();
  const answers = await Promise.all(Array.from({ length: 30 }, () => db.reader.rows(nameOf(uuid))));
  for (const a of answers) expect(a).toEqual([{ uuid, name: "crowd" }]);
  expect(stats().probes - before.probes).toBeLessThanOrEqual(2);
  expect(stats().probes - before.probes).toBeGreaterThanOrEqual(1);
});

it("sends no probes while the database keeps changing: a read then costs one statement, as without the cache", async () => {
  const uuid = await collection("w0");
  await db.reader.rows(nameOf(uuid));
  const before = stats();
  for (let i = 1; i <= 20; i++) {
    await db.prisma.collection.update({ where: { uuid }, data: { name: `w${i}` } });
    expect(await db.reader.rows(nameOf(uuid))).toEqual([{ uuid, name: `w${i}` }]);
  }
  // At most the first read after the first write probes (and finds the snapshot moved).
  expect(stats().probes - before.probes).toBeLessThanOrEqual(1);
  // Once the database is quiet, kept answers are checked with probes again.
  await fromMemory(db.reader, nameOf(uuid));
});

it("runs most reads as written while few are answered from memory, and keeps answers again once the database is quiet", async () => {
  const storm = await openDatabase({ databaseUrl: url.databaseUrl });
  try {
    const uuid = await collection("s0", storm);
    for (let i = 1; i <= 300; i++) {
      await storm.prisma.collection.update({ where: { uuid }, data: { name: `s${i}` } });
      expect(await storm.reader.rows(nameOf(uuid))).toEqual([{ uuid, name: `s${i}` }]);
    }
    // Every read a miss: after the first RECENT_READS / 4, seven in eight run as written.
    expect(storm.reader.stats.bypasses).toBeGreaterThan(150);
    expect(storm.reader.stats.misses).toBeLessThan(150);
    await fromMemory(storm.reader, nameOf(uuid));
  } finally {
    await storm.close();
  }
});

it("keeps each answer under its statement and its values: other values are other answers", async () => {
  const a = await collection("a");
  const b = await collection("b");
  for (let i = 0; i < 3; i++) {
    expect(await db.reader.rows(nameOf(a))).toEqual([{ uuid: a, name: "a" }]);
    expect(await db.reader.rows(nameOf(b))).toEqual([{ uuid: b, name: "b" }]);
  }
  expect(await db.reader.rows(Prisma.sql`SELECT c.uuid, c.name FROM collections c WHERE c.uuid = ${"zzzzz-4zz18-nosuchcollectn"}`)).toEqual([]);
});

it("keeps empty answers too, and answers them from memory", async () => {
  const none = Prisma.sql`SELECT c.uuid FROM collections c WHERE c.name = ${"no such name"}`;
  expect(await db.reader.rows(none)).toEqual([]);
  expect(await fromMemory(db.reader, none)).toEqual([]);
});

it("shares frozen rows: no request can change another's answer", async () => {
  const uuid = await collection("frozen");
  await db.reader.rows(nameOf(uuid));
  const [row] = await fromMemory<{ name: string }>(db.reader, nameOf(uuid));
  expect(() => {
    row.name = "changed";
  }).toThrow(TypeError);
  const list = await fromMemory<{ name: string }>(db.reader, nameOf(uuid));
  list.pop(); // the list itself is the caller's own
  expect(await db.reader.rows(nameOf(uuid))).toEqual([{ uuid, name: "frozen" }]);
});

it("does not keep answers holding binary values (a byte array cannot be frozen), and gives them whole", async () => {
  const bytes = Prisma.sql`SELECT c.uuid, decode('0102ff', 'hex') AS b FROM collections c WHERE c.uuid = ${await collection("bytes")}`;
  for (let i = 0; i < 3; i++) {
    const before = counts();
    const [row] = await db.reader.rows<{ b: Uint8Array }>(bytes);
    expect([...row.b]).toEqual([1, 2, 255]);
    expect(counts()).toEqual({ hits: before.hits, misses: before.misses + 1 });
  }
});

it("always runs statements that read the clock, chance or the session", async () => {
  for (const sql of [
    Prisma.sql`SELECT clock_timestamp() AS t`,
    Prisma.sql`SELECT random() AS r`,
    Prisma.sql`SELECT pg_backend_pid() AS pid`,
    Prisma.sql`SELECT current_setting('application_name') AS a`,
  ]) {
    await db.reader.rows(sql);
    const before = stats();
    await db.reader.rows(sql);
    expect([sql.text, stats()]).toEqual([sql.text, before]); // no hit, no miss, no probe: run as it is
  }
  const [t1] = await db.reader.rows<{ t: Date }>(Prisma.sql`SELECT clock_timestamp() AS t`);
  await new Promise((r) => setTimeout(r, 5));
  const [t2] = await db.reader.rows<{ t: Date }>(Prisma.sql`SELECT clock_timestamp() AS t`);
  expect(t2.t.getTime()).toBeGreaterThan(t1.t.getTime());
});

it("keeps at most maxEntries answers, none over maxAnswerBytes", async () => {
  // On PGlite this is a database of its own (in memory), on PostgreSQL the same one.
  const small = await openDatabase({ databaseUrl: url.databaseUrl, readCache: { maxEntries: 2, maxBytes: 1 << 20, maxAnswerBytes: 1000 } });
  try {
    const [x, y, z] = [await collection("x", small), await collection("y", small), await collection("z", small)];
    const hitsOf = async (sql: Prisma.Sql) => {
      const before = small.reader.stats.hits;
      await small.reader.rows(sql);
      return small.reader.stats.hits - before;
    };
    for (const u of [x, y, z]) await small.reader.rows(nameOf(u));
    // y and z are kept (answered from memory once the server is quiet), x was let go when z came.
    await fromMemory(small.reader, nameOf(z));
    await fromMemory(small.reader, nameOf(y));
    expect(await hitsOf(nameOf(x))).toBe(0);
    // Reading x kept it and let z go (the least recently used).
    await fromMemory(small.reader, nameOf(x));
    expect(await hitsOf(nameOf(z))).toBe(0);
    const big = Prisma.sql`SELECT c.uuid, repeat(c.name, 1000) AS name FROM collections c WHERE c.uuid = ${x}`;
    for (let i = 0; i < 20; i++) expect(await hitsOf(big)).toBe(0); // over maxAnswerBytes: never kept
  } finally {
    await small.close();
  }
});

it("keeps nothing with readCacheMegabytes 0: every read runs as written", async () => {
  const off = await openDatabase({ databaseUrl: url.databaseUrl, readCache: readCacheLimits(0) });
  try {
    const uuid = await collection("off", off);
    for (let i = 0; i < 3; i++) expect(await off.reader.rows(nameOf(uuid))).toEqual([{ uuid, name: "off" }]);
    expect(off.reader.stats).toEqual({ hits: 0, misses: 0, probes: 0, bypasses: 0 });
  } finally {
    await off.close();
  }
});

it("keeps answers of at most maxBytes in all", async () => {
  const small = await openDatabase({ databaseUrl: url.databaseUrl, readCache: { maxEntries: 100, maxBytes: 1500, maxAnswerBytes: 1000 } });
  try {
    const uuids = [];
    for (let i = 0; i < 10; i++) uuids.push(await collection(`m${i}`, small));
    for (const u of uuids) await small.reader.rows(nameOf(u));
    // Each answer takes a few hundred bytes: the last few fit, the first is long gone.
    await fromMemory(small.reader, nameOf(uuids[9]));
    const before = small.reader.stats.hits;
    await small.reader.rows(nameOf(uuids[0]));
    expect(small.reader.stats.hits).toBe(before);
  } finally {
    await small.close();
  }
});

(onPostgres ? describe : describe.skip)("another process writing while this one reads (PostgreSQL only: set DATABASE_URL)", () => {
  let writer: Database;
  beforeAll(async () => {
    writer = await openDatabase({ databaseUrl: url.databaseUrl, readCache: { maxEntries: 0, maxBytes: 0, maxAnswerBytes: 0 } });
  });
  afterAll(() => writer?.close());

  it("never answers a write's predecessor once the write has committed, over many rounds with readers racing", async () => {
    const uuid = await collection("r0");
    let stop = false;
    // Readers keep filling the cache with whatever they see while the writer writes.
    const racing = Array.from({ length: 4 }, async () => {
      while (!stop) await db.reader.rows(nameOf(uuid));
    });
    try {
      for (let i = 1; i <= 200; i++) {
        await writer.prisma.collection.update({ where: { uuid }, data: { name: `r${i}` } });
        expect(await db.reader.rows(nameOf(uuid))).toEqual([{ uuid, name: `r${i}` }]);
      }
    } finally {
      stop = true;
      await Promise.all(racing);
    }
  }, 60_000);

  it("does not see a write until it commits, and sees it as soon as it has", async () => {
    const uuid = await collection("before");
    let commit!: () => void;
    const committed = new Promise<void>((r) => (commit = r));
    let updated!: () => void;
    const written = new Promise<void>((r) => (updated = r));
    const tx = writer.prisma.$transaction(async (t) => {
      await t.collection.update({ where: { uuid }, data: { name: "after" } });
      updated();
      await committed;
    });
    await written;
    for (let i = 0; i < 3; i++) expect(await db.reader.rows(nameOf(uuid))).toEqual([{ uuid, name: "before" }]);
    commit();
    await tx;
    expect(await db.reader.rows(nameOf(uuid))).toEqual([{ uuid, name: "after" }]);
  });
});
