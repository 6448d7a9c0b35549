/**
 * An in-memory PGlite database starts from a dump of PGlite's initialised database, made once
 * in a child process and cached in the temp folder (src/db/pgliteTemplate.ts), so initdb's
 * memory never stays in the server's process. Each database is still its own.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
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

const dumps = () => readdirSync(folder).filter((f) => /^fedgate-pglite-.*\.tar$/.test(f));

it("makes the dump once, starts each in-memory database from it, and keeps them apart", async () => {
  const first = await fresh();
  expect(dumps()).toHaveLength(1);
  expect(readdirSync(folder).filter((f) => f.endsWith(".partial"))).toEqual([]);
  const made = statSync(join(folder, dumps()[0])).mtimeMs;

  const second = await fresh();
  expect(statSync(join(folder, dumps()[0])).mtimeMs).toBe(made);
  await first.prisma.user.create({ data: { uuid: "zzzzz-tpzed-000000000000042", email: "only@first", isAdmin: false, isActive: true } });
  expect(await first.prisma.user.count({ where: { email: "only@first" } })).toBe(1);
  expect(await second.prisma.user.count({ where: { email: "only@first" } })).toBe(0);
});
