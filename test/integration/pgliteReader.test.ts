/**
 * The PGlite side of the hot-read path (src/db/reader.ts): named prepared statements on PGlite's
 * one session, run with one call each. These open their own in-memory PGlite, whichever
 * database the rest of the suite runs on: that one session is shared with Prisma, so the reader
 * must never run inside a transaction of Prisma's, and a failed statement must not leave the
 * session in a failed state. The snapshot cache in front of it (src/db/snapshotCache.ts) is off
 * here, so each call reaches the reader itself with the statement as written.
 */
import { Prisma } from "@prisma/client";
import { openDatabase, type Database } from "../../src/db/database";
import { migrate } from "../../src/db/migrate";

let db: Database;

beforeAll(async () => {
  db = await openDatabase({ readCache: { maxEntries: 0, maxBytes: 0, maxAnswerBytes: 0 } });
  await migrate(db);
});
afterAll(() => db?.close());

const userByEmail = (email: string) => Prisma.sql`SELECT u.uuid, u.email FROM users u WHERE u.email = ${email}`;

async function addUser(tx: Prisma.TransactionClient, n: number): Promise<string> {
  const email = `u${n}@reader.example`;
  await tx.user.create({ data: { uuid: `zzzzz-tpzed-reader${String(n).padStart(10, "0")}`, email } });
  return email;
}

it("parses each statement text once and runs it with each call's values", async () => {
  const emails = [];
  for (let n = 0; n < 3; n++) emails.push(await addUser(db.prisma, n));
  for (const email of [...emails, emails[0]]) expect(await db.reader.rows(userByEmail(email))).toEqual([expect.objectContaining({ email })]);
  const prepared = await db.prisma.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM pg_prepared_statements WHERE statement = ${userByEmail("").text}`;
  expect(prepared[0].n).toBe(1n);
});

it("plans its statements once (generic plans), and leaves the session's plan_cache_mode to Prisma", async () => {
  const email = await addUser(db.prisma, 5);
  for (let i = 0; i < 7; i++) expect(await db.reader.rows(userByEmail(email))).toEqual([expect.objectContaining({ email })]);
  const [plans] = await db.prisma.$queryRaw<{ generic: bigint; custom: bigint }[]>`
    SELECT generic_plans AS generic, custom_plans AS custom FROM pg_prepared_statements WHERE statement = ${userByEmail("").text}`;
  expect(plans.custom).toBe(0n);
  expect(plans.generic).toBeGreaterThanOrEqual(7n);
  const [mode] = await db.prisma.$queryRaw<{ mode: string }[]>`SELECT current_setting('plan_cache_mode') AS mode`;
  expect(mode.mode).toBe("auto");
});

it("leaves the session's plan_cache_mode as it was after a statement that fails", async () => {
  await expect(db.reader.rows(Prisma.sql`SELECT 1 / ${0}::int AS x`)).rejects.toThrow(/division by zero/);
  const [mode] = await db.prisma.$queryRaw<{ mode: string }[]>`SELECT current_setting('plan_cache_mode') AS mode`;
  expect(mode.mode).toBe("auto");
});

/**
 * A Prisma transaction that has added a user and stays open until `release`, then runs `end`
 * (returning commits it, throwing rolls it back).
 */
async function openTransactionWithUser(n: number, end: () => void) {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let added!: (email: string) => void;
  const inserted = new Promise<string>((r) => (added = r));
  const tx = db.prisma.$transaction(async (t) => {
    added(await addUser(t, n));
    await gate;
    end();
  });
  return { email: await inserted, release, tx };
}

it("waits for an open transaction to end instead of reading inside it (committed)", async () => {
  const events: string[] = [];
  const { email, release, tx } = await openTransactionWithUser(10, () => events.push("commit"));
  const read = db.reader.rows(userByEmail(email)).then((rows) => (events.push("read"), rows));
  await new Promise((r) => setTimeout(r, 50));
  release();
  await tx;
  expect(await read).toHaveLength(1);
  expect(events).toEqual(["commit", "read"]);
});

it("does not see what a transaction rolls back", async () => {
  const { email, release, tx } = await openTransactionWithUser(11, () => {
    throw new Error("rolled back");
  });
  const read = db.reader.rows(userByEmail(email));
  release();
  await expect(tx).rejects.toThrow("rolled back");
  expect(await read).toEqual([]);
});

it("leaves the session usable after a statement fails, in its values or in its text", async () => {
  await expect(db.reader.rows(Prisma.sql`SELECT ${"x"}::int AS n`)).rejects.toMatchObject({ code: "22P02" });
  await expect(db.reader.rows(Prisma.sql`SELEC 1`)).rejects.toMatchObject({ code: "42601" });
  expect(await db.reader.rows(Prisma.sql`SELECT ${"7"}::int AS n`)).toEqual([{ n: 7 }]);
  expect(await db.reader.rows(Prisma.sql`SELECT ${"x"}::text AS s, ${2}::int AS n`)).toEqual([{ s: "x", n: 2 }]);
  await expect(db.prisma.$queryRaw`SELECT 1 AS one`).resolves.toEqual([{ one: 1 }]);
});
