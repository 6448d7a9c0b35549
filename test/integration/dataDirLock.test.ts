/**
 * One process per PGlite data folder: a second open is refused with the holder's pid, the
 * lock goes with the database's close, and a lock left by a dead process is taken over.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../../src/db/database";
import { DataDirInUseError, LOCK_FILE } from "../../src/db/dataDirLock";

let dataDir: string;
beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), "fedgate-lock-"));
});
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

it("refuses a second open of one data folder, naming the holder, until the first closes", async () => {
  const first = await openDatabase({ dataDir });
  try {
    const lock = JSON.parse(readFileSync(join(dataDir, LOCK_FILE), "utf8"));
    expect(lock.pid).toBe(process.pid);
    const second = openDatabase({ dataDir });
    await expect(second).rejects.toThrow(DataDirInUseError);
    await expect(second).rejects.toThrow(new RegExp(`in use by process ${process.pid}.*--url`));
  } finally {
    await first.close();
  }
  expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false);
  const again = await openDatabase({ dataDir });
  await again.close();
}, 60_000);

it("takes over a lock whose process is gone", async () => {
  const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]).stdout.toString();
  writeFileSync(join(dataDir, LOCK_FILE), JSON.stringify({ pid: Number(dead), host: hostname(), command: "serve", since: "then" }));
  const db = await openDatabase({ dataDir });
  try {
    expect(JSON.parse(readFileSync(join(dataDir, LOCK_FILE), "utf8")).pid).toBe(process.pid);
  } finally {
    await db.close();
  }
}, 60_000);
