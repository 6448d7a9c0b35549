/**
 * A new in-memory PGlite database, started from a dump of PGlite's own freshly initialised
 * database instead of running initdb in this process: the memory initdb grows stays with the
 * process (measured with PGlite 0.5.17: 706 MB RSS for a new in-memory database, 337 MB when
 * loaded from the dump). The dump is made once per PGlite build, in a short-lived child process
 * (so its memory goes when it exits), and kept in the OS temp folder; it holds no schema and no
 * data, only what initdb writes. Any failure falls back to a plain initdb here.
 */
import { execFile } from "node:child_process";
import { lstatSync, mkdirSync, readFileSync, renameSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { log } from "../log";

const pgliteEntry = require.resolve("@electric-sql/pglite");

/** Runs in the child: creates a database in memory and writes its dump to argv[2]. */
const DUMP_SCRIPT = `
const { PGlite } = require(process.argv[1]);
(async () => {
  const db = await PGlite.create();
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

/** Where this PGlite build's dump is cached in `folder`: named by its version and its WebAssembly's size and time. */
function templatePath(folder: string): string {
  const pkg = JSON.parse(readFileSync(join(dirname(pgliteEntry), "..", "package.json"), "utf8")) as { version: string };
  const wasm = statSync(join(dirname(pgliteEntry), "pglite.wasm"));
  return join(folder, `fedgate-pglite-${pkg.version}-${wasm.size}-${Math.floor(wasm.mtimeMs)}.tar`);
}

async function makeTemplate(path: string): Promise<void> {
  const partial = `${path}.${process.pid}.${Date.now()}.partial`;
  await promisify(execFile)(process.execPath, ["-e", DUMP_SCRIPT, pgliteEntry, partial], { timeout: 120_000 });
  renameSync(partial, path); // atomic: another process reads a whole dump or none
}

/** Per folder, the dump's path once made (or found), undefined when it cannot be: asked once per process. */
const ready = new Map<string, Promise<string | undefined>>();

async function readyTemplate(folder: string): Promise<string | undefined> {
  try {
    const path = templatePath(privateFolder(folder));
    try {
      statSync(path);
    } catch {
      await makeTemplate(path);
    }
    return path;
  } catch (e) {
    log.warn("cannot prepare PGlite's initialised database; creating it in this process", { error: (e as Error).message });
    return undefined;
  }
}

/** The dump to start a new in-memory database from (read afresh, so nothing keeps it), or undefined: PGlite runs initdb itself. */
export async function pgliteTemplate(folder = tmpdir()): Promise<Blob | undefined> {
  if (!ready.has(folder)) ready.set(folder, readyTemplate(folder));
  const path = await ready.get(folder);
  return path === undefined ? undefined : new Blob([readFileSync(path)]);
}
