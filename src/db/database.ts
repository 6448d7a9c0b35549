/**
 * Opens the cluster's database: PostgreSQL when a URL is configured, otherwise an embedded
 * PGlite (in memory, or in a data folder). Both run the same Prisma client and migrations.
 */
import { PrismaClient } from "@prisma/client";
import { PrismaPg } from "@prisma/adapter-pg";
import { PGlite } from "@electric-sql/pglite";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { Client as PgClient, Pool } from "pg";
import { lockDataDir } from "./dataDirLock";
import { pgliteTemplate } from "./pgliteTemplate";
import { pgReader, pgliteReader, type Reader } from "./reader";

/** Runs multi-statement SQL outside Prisma (migrations need the simple query protocol). */
export interface SqlRunner {
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}

export interface Database {
  prisma: PrismaClient;
  /** Hot single-statement reads on the same database, outside Prisma (src/db/reader.ts). */
  reader: Reader;
  /** "postgresql" or "pglite" (in memory or in a folder). */
  kind: "postgresql" | "pglite";
  /** A connection for migrations; callers close it. */
  openSqlRunner(): Promise<SqlRunner>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  databaseUrl?: string;
  dataDir?: string;
  /** Where the dump a new in-memory PGlite starts from is cached (src/db/pgliteTemplate.ts); default the OS temp folder. */
  pgliteTemplateDir?: string;
}

export async function openDatabase(opts: DatabaseOptions): Promise<Database> {
  return opts.databaseUrl ? openPostgres(opts.databaseUrl) : openPglite(opts.dataDir, opts.pgliteTemplateDir);
}

function openPostgres(url: string): Database {
  // One pool for Prisma and the reader, so the reader opens no connections of its own.
  const pool = new Pool({ connectionString: url, max: 10 });
  // pg drops a connection that fails while idle from the pool; without a listener the error would end the process.
  pool.on("error", () => undefined);
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  return {
    prisma,
    reader: pgReader(pool),
    kind: "postgresql",
    async openSqlRunner() {
      const client = new PgClient({ connectionString: url });
      await client.connect();
      return {
        exec: async (sql) => void (await client.query(sql)),
        close: () => client.end(),
      };
    },
    async close() {
      await prisma.$disconnect();
      await pool.end();
    },
  };
}

/**
 * PGlite's files live in memory (MEMFS) or in the OS page cache (a data folder), so PostgreSQL's
 * own 128 MB default buffer cache mostly holds a second copy of pages already in memory; 16 MB
 * cuts an idle in-memory cluster's RSS by ~145 MB (bench/overhead.ts measures it).
 */
const PGLITE_SETTINGS = ["-c", "shared_buffers=16MB"];

async function openPglite(dataDir?: string, templateDir?: string): Promise<Database> {
  const release = dataDir ? lockDataDir(dataDir) : () => undefined;
  let pglite: PGlite;
  try {
    const loadDataDir = dataDir ? undefined : await pgliteTemplate(templateDir);
    pglite = await PGlite.create({ dataDir, loadDataDir, startParams: [...PGlite.defaultStartParams, ...PGLITE_SETTINGS] });
  } catch (e) {
    release();
    throw e;
  }
  // pglite-prisma-adapter 0.6 pins an older @prisma/driver-adapter-utils; the runtime
  // interface is the same (verified by the whole suite), only the type identities differ.
  const adapter = new PrismaPGlite(pglite) as unknown as PrismaPg;
  const prisma = new PrismaClient({ adapter });
  return {
    prisma,
    reader: pgliteReader(pglite),
    kind: "pglite",
    async openSqlRunner() {
      // PGlite is one in-process connection: share it, and leave closing to the database.
      return { exec: async (sql) => void (await pglite.exec(sql)), close: async () => {} };
    },
    async close() {
      await prisma.$disconnect();
      await pglite.close();
      release();
    },
  };
}
