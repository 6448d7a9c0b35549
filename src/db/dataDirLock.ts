/**
 * One process per PGlite data folder. PGlite is PostgreSQL compiled into this process, with
 * no server to arbitrate: a second process opening the same folder works on its own copy of
 * the pages, and whichever closes last overwrites the other's writes (a user created by
 * `fedgate user create --config` beside a running `fedgate serve` was silently lost). So the
 * folder is claimed with a lock file holding the holder's pid, created atomically; a lock whose
 * process is gone (killed, crashed) is stale and taken over.
 */
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join, resolve } from "node:path";

export const LOCK_FILE = "fedgate.lock";

export class DataDirInUseError extends Error {}

interface LockContents {
  pid: number;
  host: string;
  command: string;
  since: string;
}

/** What the folder's lock file says, or undefined when there is none (or it is unreadable). */
function readLock(path: string): LockContents | undefined {
  try {
    const parsed = JSON.parse(readFileSync(path, "utf8")) as Partial<LockContents>;
    return Number.isInteger(parsed.pid) ? (parsed as LockContents) : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `pid` is a live process on this host (EPERM: alive, owned by someone else). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function isStale(lock: LockContents | undefined): boolean {
  // An unreadable lock is a half-written one from a process that died while writing it.
  if (!lock) return true;
  return lock.host === hostname() && !alive(lock.pid);
}

/** Claims `dataDir` for this process; returns the release function. */
export function lockDataDir(dataDir: string): () => void {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, "wx", 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const holder = readLock(path);
      if (attempt === 0 && isStale(holder)) {
        unlinkSync(path);
        continue;
      }
      throw new DataDirInUseError(
        `the data folder ${dir} is in use by process ${holder?.pid ?? "?"}${holder ? ` on ${holder.host} (${holder.command}, since ${holder.since})` : ""}. ` +
          "Only one process may open an embedded database: stop that process, or send commands to the running server with --url.",
      );
    }
    const contents: LockContents = { pid: process.pid, host: hostname(), command: process.argv.slice(1, 4).join(" "), since: new Date().toISOString() };
    writeSync(fd, JSON.stringify(contents));
    closeSync(fd);
    return () => {
      // Only our own lock is removed: a takeover after we were presumed dead is not undone.
      if (readLock(path)?.pid === process.pid) unlinkSync(path);
    };
  }
  throw new DataDirInUseError(`cannot claim the data folder ${dir}`);
}
