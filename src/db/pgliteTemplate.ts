/**
 * A new in-memory PGlite database, started from a dump of a database made by a short-lived
 * child process instead of running initdb and the migrations in this process: the memory they
 * grow (PGlite's WebAssembly memory never shrinks) stays with the process. The child creates a
 * database, applies the project's migrations exactly as migrate() would (the scripts come from
 * src/db/migrate.ts), checkpoints it and writes its dump; the dump is cached in a private folder
 * in the OS temp folder, named by the PGlite build and a digest of those scripts, so a changed
 * migration set makes a new one. It holds the schema and the migrations' own rows, no data.
 *
 * The dump is loaded without PGlite's `loadDataDir`, which copies it three times (a Blob, its
 * ArrayBuffer, then each file) into garbage that an idle server never collects: it is read once,
 * and each file of the in-memory file system is a view into that one buffer (a file that grows
 * moves to its own, as Emscripten's MEMFS does with any file). Any failure falls back to a
 * plain in-memory database (initdb here; migrate() then applies the migrations).
 */
import { spawn } from "node:child_process";
import { closeSync, existsSync, fstatSync, lstatSync, openSync, readSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { MemoryFS } from "@electric-sql/pglite";
import { log } from "../log";
import { freshDatabaseScripts, MIGRATIONS_DIR } from "./migrate";

const pgliteEntry = require.resolve("@electric-sql/pglite");

/**
 * Runs in the child: creates a database in memory, drops the template databases (fedgate uses
 * only `postgres` and never creates another; they are 14 of a dump's 40 MB, all of it held in
 * memory), runs the SQL scripts read (as JSON) from stdin, checkpoints (a dump holds only what is
 * in the files) and writes its dump to argv[2].
 */
const DUMP_SCRIPT = `
const { PGlite } = require(process.argv[1]);
(async () => {
  let input = "";
  for await (const chunk of process.stdin) input += chunk;
  const db = await PGlite.create();
  await db.exec("UPDATE pg_database SET datistemplate = false WHERE datname IN ('template0', 'template1')");
  for (const name of ["template0", "template1"]) await db.exec("DROP DATABASE " + name);
  for (const sql of JSON.parse(input)) await db.exec(sql);
  await db.exec("CHECKPOINT");
  const dump = await db.dumpDataDir("none");
  require("node:fs").writeFileSync(process.argv[2], Buffer.from(await dump.arrayBuffer()));
  await db.close();
})().catch((e) => { console.error(e && e.message ? e.message : String(e)); process.exit(1); });`;

/**
 * This user's own folder for the dump inside `parent`: the OS temp folder is shared, and a
 * dump planted there by another user would become every new database. Created 0700; refused
 * unless it is a real folder owned by this user that no one else can write.
 */
function privateFolder(parent: string): string {
  const folder = join(parent, `fedgate-${process.getuid?.() ?? "user"}`);
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  const st = lstatSync(folder);
  if (!st.isDirectory() || (process.getuid && st.uid !== process.getuid()) || (st.mode & 0o077) !== 0)
    throw new Error(`${folder} is not a folder of this user's alone`);
  return folder;
}

/** What DUMP_SCRIPT makes, changed with it: dumps made otherwise are not used. */
const DUMP_FORMAT = "f2";

/** This PGlite build and dump format, named by its version and its WebAssembly's size and time. */
function buildName(): string {
  const pkg = JSON.parse(readFileSync(join(dirname(pgliteEntry), "..", "package.json"), "utf8")) as { version: string };
  const wasm = statSync(join(dirname(pgliteEntry), "pglite.wasm"));
  return `fedgate-pglite-${pkg.version}-${wasm.size}-${Math.floor(wasm.mtimeMs)}-${DUMP_FORMAT}`;
}

function makeTemplate(path: string, scripts: string[]): Promise<void> {
  const partial = `${path}.${process.pid}.${Date.now()}.partial`;
  return new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, ["-e", DUMP_SCRIPT, pgliteEntry, partial], { stdio: ["pipe", "ignore", "pipe"], timeout: 120_000 });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => void (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code, signal) => (code === 0 ? resolve() : reject(new Error(`the child making it failed (${signal ?? code}): ${stderr.trim()}`))));
    child.stdin.on("error", () => undefined); // a child that dies early reports through close
    child.stdin.end(JSON.stringify(scripts));
  }).then(
    () => renameSync(partial, path), // atomic: another process reads a whole dump or none
    (e: unknown) => {
      rmSync(partial, { force: true });
      throw e;
    },
  );
}

/** Dumps not used for this long are removed when a new one is made (those of older builds or migration sets). */
const UNUSED_MS = 7 * 24 * 3600_000;

function removeUnused(folder: string, keep: string): void {
  for (const f of readdirSync(folder)) {
    const path = join(folder, f);
    if (!/^fedgate-pglite-.*\.tar$/.test(f) || path === keep) continue;
    try {
      if (Date.now() - statSync(path).mtimeMs > UNUSED_MS) rmSync(path, { force: true });
    } catch {
      // removed meanwhile
    }
  }
}

/** Per folder and migration set (its digest), the dump's path once made (or found), undefined when it cannot be: asked once per process. */
const ready = new Map<string, Promise<string | undefined>>();

async function readyTemplate(folder: string, build: string, scripts: string[], digest: string): Promise<string | undefined> {
  try {
    const path = join(folder, digest ? `${build}-m${digest.slice(0, 16)}.tar` : `${build}.tar`);
    try {
      const now = new Date();
      utimesSync(path, now, now); // in use: kept
    } catch {
      await makeTemplate(path, scripts);
      removeUnused(folder, path);
    }
    return path;
  } catch (e) {
    log.warn("cannot prepare PGlite's initialised database; creating it in this process", { error: (e as Error).message });
    return undefined;
  }
}

export interface TemplateOptions {
  /** Where the dump is cached (in a private folder of this user's); default the OS temp folder. */
  folder?: string;
  /** The migrations applied in the dump; null: none (PGlite's bare initialised database). Default prisma/migrations. */
  migrations?: string | null;
}

/** The path of the dump to start a new in-memory database from, or undefined: none can be had. */
export async function pgliteTemplate({ folder = tmpdir(), migrations = MIGRATIONS_DIR }: TemplateOptions = {}): Promise<string | undefined> {
  let own: string, build: string, scripts: string[], digest: string;
  try {
    own = privateFolder(folder);
    build = buildName();
    ({ scripts, digest } = migrations === null ? { scripts: [], digest: "" } : freshDatabaseScripts(migrations));
  } catch (e) {
    log.warn("cannot prepare PGlite's initialised database; creating it in this process", { error: (e as Error).message });
    return undefined;
  }
  const key = `${own}\0${digest}`;
  for (let attempt = 0; ; attempt++) {
    if (!ready.has(key)) ready.set(key, readyTemplate(own, build, scripts, digest));
    const path = await ready.get(key);
    if (path === undefined || attempt > 0 || existsSync(path)) return path;
    ready.delete(key); // removed since (unused for long, by another process): made again
  }
}

interface TarEntry {
  path: string;
  dir: boolean;
  data: Uint8Array;
  mtime: number;
}

/** The entries of an uncompressed tar of regular files and folders (what PGlite's dumpDataDir("none") writes); throws on anything else. */
function readTar(tar: Uint8Array): TarEntry[] {
  const text = (from: number, length: number) => {
    let end = from;
    while (end < from + length && tar[end] !== 0) end++;
    return Buffer.from(tar.buffer, tar.byteOffset + from, end - from).toString("utf8");
  };
  const octal = (from: number, length: number) => {
    const s = text(from, length).trim();
    if (!/^[0-7]*$/.test(s)) throw new Error("corrupt dump: a size or time is not octal");
    return s ? parseInt(s, 8) : 0;
  };
  const entries: TarEntry[] = [];
  let at = 0;
  for (; at + 512 <= tar.length && tar[at] !== 0; ) {
    const prefix = text(at + 345, 155);
    const name = (prefix ? `${prefix}/` : "") + text(at, 100);
    const size = octal(at + 124, 12);
    const type = tar[at + 156];
    const path = name.split("/").filter((p) => p && p !== ".").join("/");
    if (!path || path.split("/").includes("..")) throw new Error(`corrupt dump: entry ${JSON.stringify(name)}`);
    const start = at + 512;
    if (start + size > tar.length) throw new Error("corrupt dump: truncated");
    if (type === 0x35 /* "5" */) entries.push({ path, dir: true, data: new Uint8Array(0), mtime: octal(at + 136, 12) });
    else if (type === 0x30 /* "0" */ || type === 0) entries.push({ path, dir: false, data: tar.subarray(start, start + size), mtime: octal(at + 136, 12) });
    else throw new Error(`corrupt dump: entry type ${String.fromCharCode(type)}`);
    at = start + Math.ceil(size / 512) * 512;
  }
  if (at + 512 > tar.length || !entries.some((e) => e.path === "PG_VERSION")) throw new Error("corrupt dump: no end or no PG_VERSION");
  return entries;
}

/** PGlite's data folder in its own file system. */
const PGDATA = "/pglite/data";

/** An in-memory file system that holds the dump's files (as views of it) before PostgreSQL starts, so PGlite finds a database there. */
class TemplateFS extends MemoryFS {
  constructor(private entries: TarEntry[] | undefined) {
    super();
  }

  override async initialSyncFs(): Promise<void> {
    const FS = this.pg!.Module.FS;
    const ensureDir = (path: string) => void (FS.analyzePath(path).exists || FS.mkdirTree(path));
    for (const e of this.entries ?? []) {
      const path = `${PGDATA}/${e.path}`;
      if (e.dir) ensureDir(path);
      else {
        ensureDir(path.slice(0, path.lastIndexOf("/")));
        FS.writeFile(path, e.data, { canOwn: true });
        FS.utime(path, e.mtime * 1000, e.mtime * 1000);
      }
    }
    this.entries = undefined;
  }
}

const PAGE = 4096;
const ZERO_PAGE = Buffer.alloc(PAGE);

/**
 * The file at `path`, read into memory except its all-zero pages: a new zero-filled buffer of
 * its size is memory the OS hands out when first written, so those pages (a quarter of a dump,
 * most of them the unused end of the WAL segment) take none until PostgreSQL writes there.
 */
function readSparse(path: string): Uint8Array {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    const out = new Uint8Array(size);
    const chunk = Buffer.allocUnsafe(256 * PAGE);
    for (let at = 0; at < size; ) {
      const n = readSync(fd, chunk, 0, Math.min(chunk.length, size - at), at);
      if (n <= 0) throw new Error("dump shorter than its size");
      for (let i = 0; i < n; i += PAGE) {
        const page = chunk.subarray(i, Math.min(i + PAGE, n));
        if (!page.equals(ZERO_PAGE.subarray(0, page.length))) out.set(page, at + i);
      }
      at += n;
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/** A file system for PGlite.create holding the dump at `path`; throws when it cannot be read. */
export function templateFs(path: string): MemoryFS {
  return new TemplateFS(readTar(readSparse(path)));
}

/** Forgets what this process knows of the dumps (tests). */
export function forgetTemplates(): void {
  ready.clear();
}
