/**
 * Idle RSS of one compiled `fedgate serve` (bin/fedgate.js, so run `npm run build` first), each
 * in its own process: on in-memory PGlite (no DATABASE_URL, no data folder) and, when
 * BENCH_DATABASE_URL is set, on that PostgreSQL database. A server counts as started when its
 * GraphQL endpoint answers; its RSS (VmRSS of /proc/<pid>/status, Linux) is read after
 * BENCH_IDLE_SECONDS (5) of idling. BENCH_RUNS (3) servers of each kind, one after another;
 * BENCH_NODE_ARGS: options for their node (to find where memory goes, e.g. V8's).
 *
 *   npm run build && npx tsx bench/idleMemory.ts
 *   BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test npx tsx bench/idleMemory.ts
 *
 * Benchmarks print numbers; they never assert.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

const BIN = join(__dirname, "..", "bin", "fedgate.js");
const idleSeconds = Number(process.env.BENCH_IDLE_SECONDS ?? 5);
const runs = Number(process.env.BENCH_RUNS ?? 3);
const nodeArgs = (process.env.BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean);

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function answers(url: string): Promise<boolean> {
  try {
    const r = await fetch(`${url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: "{ __typename }" }),
    });
    return r.status < 500;
  } catch {
    return false;
  }
}

/** One server: seconds to answer, then RSS in MB after the idle time. */
async function measure(port: number, databaseUrl?: string): Promise<{ startSeconds: number; rss: number }> {
  const env: NodeJS.ProcessEnv = { ...process.env, FEDGATE_LISTEN: `127.0.0.1:${port}`, FEDGATE_LOG_LEVEL: "error" };
  delete env.DATABASE_URL;
  delete env.FEDGATE_DATA_DIR;
  if (databaseUrl) {
    // A persistent database needs a fixed root token (or a token key).
    env.DATABASE_URL = databaseUrl;
    env.FEDGATE_SYSTEM_ROOT_TOKEN ??= "root-idle-memory-" + "x".repeat(40);
  }
  const t0 = Date.now();
  const child = spawn(process.execPath, [...nodeArgs, BIN, "serve"], { env, stdio: ["ignore", "ignore", "inherit"] });
  try {
    const url = `http://127.0.0.1:${port}`;
    while (!(await answers(url))) {
      if (child.exitCode !== null) throw new Error(`fedgate serve exited with ${child.exitCode}`);
      if (Date.now() - t0 > 120_000) throw new Error("fedgate serve did not start within 120 s");
      await sleep(50);
    }
    const startSeconds = (Date.now() - t0) / 1000;
    await sleep(idleSeconds * 1000);
    return { startSeconds, rss: rssMb(child.pid!) };
  } finally {
    child.kill("SIGKILL");
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(undefined) : child.once("exit", r)));
  }
}

async function main(): Promise<void> {
  const kinds: [string, string | undefined][] = [["in-memory PGlite", undefined]];
  if (process.env.BENCH_DATABASE_URL) kinds.push(["PostgreSQL", process.env.BENCH_DATABASE_URL]);
  let port = 18_700 + (process.pid % 500);
  for (const [label, url] of kinds) {
    const results: { startSeconds: number; rss: number }[] = [];
    for (let i = 0; i < runs; i++) results.push(await measure(port++, url));
    const rss = results.map((r) => r.rss.toFixed(0)).join(", ");
    const start = results.map((r) => r.startSeconds.toFixed(1)).join(", ");
    console.log(`${label}: idle RSS after ${idleSeconds} s ${rss} MB; started in ${start} s`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
