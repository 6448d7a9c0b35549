/**
 * An in-memory PGlite database starts from a dump of PGlite's initialised database, made once
 * in a child process and cached in the temp folder (src/db/pgliteTemplate.ts), so initdb's
 * memory never stays in the server's process. Each database is still its own.
 */
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase, type Database } from "../../src/db/database";
import { migrate } from "../../src/db/migrate";

let folder: string;
const opened: Database[] = [];

beforeAll(() => {
  folder = mkdtempSync(join(tmpdir(), "fedgate-template-test-"));
});
afterAll(async () => {
  await Promise.all(opened.map((db) => db.close()));
  rmSync(folder, { recursive: true, force: true });
});

async function fresh(): Promise<Database> {
  const db = await openDatabase({ pgliteTemplateDir: folder });
  opened.push(db);
  await migrate(db);
  return db;
}

const own = () => join(folder, `fedgate-${process.getuid!()}`);
const dumps = () => readdirSync(own()).filter((f) => /^fedgate-pglite-.*\.tar$/.test(f));

it("makes the dump once, starts each in-memory database from it, and keeps them apart", async () => {
  const first = await fresh();
  expect(dumps()).toHaveLength(1);
  expect(readdirSync(own()).filter((f) => f.endsWith(".partial"))).toEqual([]);
  expect(statSync(own()).mode & 0o777).toBe(0o700);
  const made = statSync(join(own(), dumps()[0])).mtimeMs;

  const second = await fresh();
  expect(statSync(join(own(), dumps()[0])).mtimeMs).toBe(made);
  await first.prisma.user.create({ data: { uuid: "zzzzz-tpzed-000000000000042", email: "only@first", isAdmin: false, isActive: true } });
  expect(await first.prisma.user.count({ where: { email: "only@first" } })).toBe(1);
  expect(await second.prisma.user.count({ where: { email: "only@first" } })).toBe(0);
});

it("uses no dump from a folder others can write (one could be planted there), and still opens the database", async () => {
  const shared = mkdtempSync(join(tmpdir(), "fedgate-template-shared-"));
  const planted = join(shared, `fedgate-${process.getuid!()}`);
  mkdirSync(planted);
  chmodSync(planted, 0o777);
  try {
    const db = await openDatabase({ pgliteTemplateDir: shared });
    opened.push(db);
    await migrate(db);
    expect(await db.prisma.user.count({ where: { email: "nobody@here" } })).toBe(0);
    expect(readdirSync(planted)).toEqual([]);
  } finally {
    rmSync(shared, { recursive: true, force: true });
  }
});
