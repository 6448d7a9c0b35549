/**
 * An in-memory PGlite database starts from a dump of a database initialised and migrated in a
 * child process, cached in the temp folder by PGlite build and migration set
 * (src/db/pgliteTemplate.ts), so neither initdb's nor the migrations' memory stays in the
 * server's process. Each database is still its own.
 */
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { openDatabase, type Database } from "../../src/db/database";
import { listMigrations, migrate, MIGRATIONS_DIR } from "../../src/db/migrate";
import { forgetTemplates, pgliteTemplate, templateFs } from "../../src/db/pgliteTemplate";
import { log } from "../../src/log";

log.configure({ level: "error" });

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

const tables = async (db: Database) =>
  (await db.prisma.$queryRawUnsafe<{ t: string }[]>(`SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`)).map((r) => r.t);

it("holds the project's migrations, recorded as migrate() records them: migrate() finds nothing to do", async () => {
  const db = await openDatabase({ pgliteTemplateDir: folder });
  opened.push(db);
  const rows = await db.prisma.$queryRawUnsafe<{ migration_name: string; checksum: string; applied_steps_count: number }[]>(
    `SELECT migration_name, checksum, applied_steps_count FROM "_prisma_migrations" WHERE finished_at IS NOT NULL ORDER BY migration_name`,
  );
  expect(rows).toEqual(listMigrations().map((m) => ({ migration_name: m.name, checksum: m.checksum, applied_steps_count: 1 })));
  expect(await migrate(db)).toEqual([]);
  expect(await tables(db)).toEqual(expect.arrayContaining(["users", "collections", "_prisma_migrations"]));
  expect(await db.prisma.user.count()).toBe(0);
});

it("makes a new dump when the migrations change (and removes dumps unused for a week)", async () => {
  const migrations = mkdtempSync(join(tmpdir(), "fedgate-template-migrations-"));
  try {
    cpSync(MIGRATIONS_DIR, migrations, { recursive: true });
    const before = await openDatabase({ pgliteTemplateDir: folder, pgliteMigrations: migrations });
    opened.push(before);
    const first = dumps();
    const stale = join(own(), "fedgate-pglite-0.0.0-1-1.tar");
    writeFileSync(stale, "");
    utimesSync(stale, new Date(Date.now() - 8 * 24 * 3600_000), new Date(Date.now() - 8 * 24 * 3600_000));
    expect(await tables(before)).not.toContain("template_probe");

    mkdirSync(join(migrations, "29990101000000_template_probe"));
    writeFileSync(join(migrations, "29990101000000_template_probe", "migration.sql"), `CREATE TABLE "template_probe" ("id" INTEGER PRIMARY KEY);`);
    const after = await openDatabase({ pgliteTemplateDir: folder, pgliteMigrations: migrations });
    opened.push(after);
    expect(await tables(after)).toContain("template_probe");
    expect(await migrate(after, migrations)).toEqual([]);
    const now = dumps();
    expect(now.filter((f) => !first.includes(f))).toHaveLength(1); // the new set's dump
    expect(first.every((f) => now.includes(f))).toBe(true); // the other set's, in use, kept
    expect(now).not.toContain("fedgate-pglite-0.0.0-1-1.tar");

    // The database opened before keeps its own files: the removed dump was read once.
    await before.prisma.$executeRawUnsafe(`CREATE TABLE "only_before" ("id" INTEGER)`);
    expect(await tables(before)).toContain("only_before");
    expect(await tables(after)).not.toContain("only_before");
  } finally {
    rmSync(migrations, { recursive: true, force: true });
  }
});

it("loads the dump once: each file of the in-memory database is a view of that one read (no copies)", async () => {
  const path = await pgliteTemplate({ folder });
  expect(path).toBeDefined();
  const pg = await PGlite.create({ fs: templateFs(path!) });
  try {
    expect((await pg.query<{ n: number }>(`SELECT count(*)::int AS n FROM "_prisma_migrations"`)).rows[0].n).toBe(listMigrations().length);
    const FS = pg.Module.FS;
    const buffer = (file: string) => (FS.lookupPath(`/pglite/data/${file}`, {}).node as unknown as { contents: Uint8Array }).contents.buffer;
    expect(buffer("PG_VERSION")).toBe(buffer("global/pg_control"));
    expect(buffer("PG_VERSION").byteLength).toBe(statSync(path!).size);
  } finally {
    await pg.close();
  }
});

it("falls back to a database made in this process when the cached dump is corrupt", async () => {
  const path = await pgliteTemplate({ folder });
  const saved = join(folder, "saved.tar");
  cpSync(path!, saved);
  try {
    writeFileSync(path!, "not a dump");
    const db = await openDatabase({ pgliteTemplateDir: folder });
    opened.push(db);
    expect((await migrate(db)).length).toBe(listMigrations().length);
    expect(await db.prisma.user.count()).toBe(0);
  } finally {
    cpSync(saved, path!);
    forgetTemplates();
  }
});

it("holds only the database fedgate uses: no template databases to keep in memory", async () => {
  const db = await openDatabase({ pgliteTemplateDir: folder });
  opened.push(db);
  expect(await db.prisma.$queryRawUnsafe(`SELECT datname FROM pg_database ORDER BY 1`)).toEqual([{ datname: "postgres" }]);
});
