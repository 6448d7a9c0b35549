/**
 * Applies the SQL migrations under prisma/migrations in name order, one transaction each, and
 * records them in `_prisma_migrations` exactly as Prisma does, so `prisma migrate status`
 * agrees on a host that has Prisma's native engine (which cannot be downloaded here).
 */
import { createHash, randomUUID } from "node:crypto";
import { readdirSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import type { Database } from "./database";

export const MIGRATIONS_DIR = join(__dirname, "..", "..", "prisma", "migrations");

/** Any number; all fedgate processes sharing a database serialise their migrations on it. */
const MIGRATION_LOCK = 72707369;

const BOOKKEEPING_DDL = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id" VARCHAR(36) PRIMARY KEY NOT NULL,
  "checksum" VARCHAR(64) NOT NULL,
  "finished_at" TIMESTAMPTZ,
  "migration_name" VARCHAR(255) NOT NULL,
  "logs" TEXT,
  "rolled_back_at" TIMESTAMPTZ,
  "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
  "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`;

interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

export function listMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(dir, d.name, "migration.sql")))
    .map((d) => d.name)
    .sort()
    .map((name) => {
      const sql = readFileSync(join(dir, name, "migration.sql"), "utf8");
      return { name, sql, checksum: createHash("sha256").update(sql).digest("hex") };
    });
}

function quote(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** What migrate() runs for one migration: it and its record, in one transaction. */
function migrationScript(m: Migration, id: string): string {
  return `BEGIN;\n${m.sql}\n;INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, finished_at, applied_steps_count)
         VALUES (${quote(id)}, ${quote(m.checksum)}, ${quote(m.name)}, now(), now(), 1);\nCOMMIT;`;
}

/**
 * The scripts migrate() runs on an empty database, in order (for a database made elsewhere,
 * src/db/pgliteTemplate.ts), and a digest of them that changes with any migration or with how
 * they are recorded.
 */
export function freshDatabaseScripts(dir = MIGRATIONS_DIR): { scripts: string[]; digest: string } {
  const migrations = listMigrations(dir);
  const digest = createHash("sha256").update(BOOKKEEPING_DDL);
  for (const m of migrations) digest.update("\0").update(migrationScript(m, ""));
  return { scripts: [`${BOOKKEEPING_DDL};`, ...migrations.map((m) => migrationScript(m, randomUUID()))], digest: digest.digest("hex") };
}

/** Applies pending migrations; returns the names applied. */
export async function migrate(db: Database, dir = MIGRATIONS_DIR): Promise<string[]> {
  const runner = await db.openSqlRunner();
  try {
    await runner.exec(`SELECT pg_advisory_lock(${MIGRATION_LOCK}); ${BOOKKEEPING_DDL};`);
    const applied = new Set(
      (await db.prisma.$queryRawUnsafe<{ migration_name: string }[]>(
        `SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`,
      )).map((r) => r.migration_name),
    );
    const done: string[] = [];
    for (const m of listMigrations(dir)) {
      if (applied.has(m.name)) continue;
      await runner.exec(migrationScript(m, randomUUID()));
      done.push(m.name);
    }
    return done;
  } catch (e) {
    await runner.exec("ROLLBACK").catch(() => undefined);
    throw e;
  } finally {
    await runner.exec(`SELECT pg_advisory_unlock(${MIGRATION_LOCK})`).catch(() => undefined);
    await runner.close();
  }
}
