/**
 * Opens the cluster's database: PostgreSQL when a URL is configured, otherwise an embedded
 * PGlite (in memory, or in a data folder). Both run the same Prisma client and migrations.
 */
import { PrismaClient } from "@prisma/client";
import { PrismaPg } from "@prisma/adapter-pg";
import { PGlite, type PGliteOptions } from "@electric-sql/pglite";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { Client as PgClient, Pool } from "pg";
import { setFlagsFromString } from "node:v8";
import { lockDataDir } from "./dataDirLock";
import { pgliteTemplate, templateFs } from "./pgliteTemplate";
import { log } from "../log";
import { pgReader, pgliteReader } from "./reader";
import { snapshotCachedReader, type SnapshotCachedReader, type SnapshotCacheLimits } from "./snapshotCache";

/** Runs multi-statement SQL outside Prisma (migrations need the simple query protocol). */
export interface SqlRunner {
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}

export interface Database {
  prisma: PrismaClient;
  /**
   * Hot single-statement reads on the same database, outside Prisma (src/db/reader.ts), answered
   * from memory while the database is unchanged (src/db/snapshotCache.ts).
   */
  reader: SnapshotCachedReader;
  /** "postgresql" or "pglite" (in memory or in a folder). */
  kind: "postgresql" | "pglite";
  /** A connection for migrations; callers close it. */
  openSqlRunner(): Promise<SqlRunner>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  databaseUrl?: string;
  dataDir?: string;
  /** What the reader keeps between unchanged reads (default DEFAULT_SNAPSHOT_CACHE; maxEntries 0: nothing). */
  readCache?: SnapshotCacheLimits;
  /** Where the dump a new in-memory PGlite starts from is cached (src/db/pgliteTemplate.ts); default the OS temp folder. */
  pgliteTemplateDir?: string;
  /**
   * The migrations a new in-memory PGlite database starts with already applied (its dump is
   * made with them): default prisma/migrations, so migrate() finds nothing to do; null: none.
   */
  pgliteMigrations?: string | null;
}

export async function openDatabase(opts: DatabaseOptions): Promise<Database> {
  return opts.databaseUrl ? openPostgres(opts.databaseUrl, opts.readCache) : openPglite(opts);
}

/**
 * How long an idle pooled connection stays open: 30 s, as PostgREST's pool keeps them, rather than
 * pg's 10 s. A connection reopened after a short lull costs PostgreSQL a new backend, its catalog
 * caches and the reader's prepared statements and plans again, paid by the next requests.
 */
const IDLE_CONNECTION_MS = 30_000;

/** A pool of `max` connections to `url`; `options`: the sessions' settings (libpq's `options`). */
function pool(url: string, max: number, options?: string): Pool {
  const p = new Pool({ connectionString: url, max, options, idleTimeoutMillis: IDLE_CONNECTION_MS });
  // pg drops a connection that fails while idle from the pool; without a listener the error would end the process.
  p.on("error", () => undefined);
  return p;
}

/**
 * The reader's own sessions plan its prepared statements once (generic plans): PostgreSQL would
 * otherwise re-plan each execution for its parameters (a custom plan, kept because its cost
 * estimate looks lower), ~0.1 ms of its CPU per hot read: `collection(uuid)` +30% req/s and
 * `contents` +45% in an A/B (README). Prisma's sessions keep the default, as its statements
 * are not written for generic plans.
 */
const READER_SESSION = "-c plan_cache_mode=force_generic_plan";

function openPostgres(url: string, readCache?: SnapshotCacheLimits): Database {
  const prismaPool = pool(url, 10);
  const readerPool = pool(url, 10, READER_SESSION);
  const prisma = new PrismaClient({ adapter: new PrismaPg(prismaPool) });
  return {
    prisma,
    reader: snapshotCachedReader(pgReader(readerPool), readCache),
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
      await Promise.all([prismaPool.end(), readerPool.end()]);
    },
  };
}

/**
 * PGlite's files live in memory (MEMFS) or in the OS page cache (a data folder), so PostgreSQL's
 * own buffer cache mostly holds a second copy of pages already in memory: its 128 MB default cost
 * an idle in-memory cluster ~145 MB of RSS (bench/overhead.ts); 8 MB instead of 16 MB another
 * ~8 MB (bench/idleMemory.ts: 219 -> 210 MB).
 */
const PGLITE_SETTINGS = ["-c", "shared_buffers=8MB"];

/**
 * A process with an in-memory PGlite runs WebAssembly with V8's baseline compiler (Liftoff) only:
 * V8 otherwise recompiles PostgreSQL's hot functions (some of them huge) with its optimising
 * compiler on background threads, and the memory those compilations take stays with the process
 * (glibc keeps it in the threads' malloc arenas): compiled `fedgate serve` on in-memory PGlite idled
 * at 270-300 MB RSS with it, 219 without, and started in 1.1-1.4 s instead of 2.5 s; a loop of
 * small PGlite queries runs ~13% slower once warm. The flag is process-wide (it also covers
 * Prisma's query compiler), so it is set only where an in-memory database is opened.
 */
function baselineWasmOnly(): void {
  setFlagsFromString("--liftoff-only");
}

/** A new in-memory database's file system, holding the cached dump (src/db/pgliteTemplate.ts); undefined: PGlite's own (initdb here). */
async function templateFileSystem(opts: DatabaseOptions): Promise<PGliteOptions["fs"]> {
  const path = await pgliteTemplate({ folder: opts.pgliteTemplateDir, migrations: opts.pgliteMigrations });
  if (path === undefined) return undefined;
  try {
    return templateFs(path);
  } catch (e) {
    log.warn("cannot load PGlite's initialised database; creating it in this process", { error: (e as Error).message });
    return undefined;
  }
}

async function openPglite(opts: DatabaseOptions): Promise<Database> {
  const { dataDir } = opts;
  const release = dataDir ? lockDataDir(dataDir) : () => undefined;
  let pglite: PGlite;
  try {
    if (!dataDir) baselineWasmOnly();
    const fs = dataDir ? undefined : await templateFileSystem(opts);
    pglite = await PGlite.create({ dataDir, fs, startParams: [...PGlite.defaultStartParams, ...PGLITE_SETTINGS] });
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
    reader: snapshotCachedReader(pgliteReader(pglite), opts.readCache),
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
