/**
 * Containers: the reuse look-up among many containers, and a burst of requests through a
 * dispatcher. The server is a real `fedgate serve` in its own process (embedded PGlite in a
 * data folder, or a fresh PostgreSQL database with BENCH_DATABASE_URL); this process is the
 * load generator, and the dispatcher is a real `fedgate dispatch` in a third process.
 *
 *  1. Reuse at scale: BENCH_CONTAINERS finished containers (80% Complete, 20% Cancelled, each
 *     its own reuse hash) are written straight into the database while the server is down,
 *     next to one Complete container with a readable output and, on the same hash, decoys it
 *     must pass over (Cancelled, Complete with exit code 1). Timed: the reuse query itself
 *     (src/containers/reuse.ts findReusable, in this process on the same database, hit and
 *     miss), then `createContainerRequest` of an identical request over HTTP (useExisting,
 *     committed: it is given the Complete container and is Final at once).
 *  2. Burst: BENCH_BURST committed requests (distinct, so nothing is reused) from
 *     BENCH_BURST_CLIENTS concurrent clients while one dispatcher (BENCH_DISPATCH_CONCURRENCY
 *     containers at once, each running `true`) drains the queue. Printed: requests/s to Queued,
 *     the dispatcher's lockContainer round trip and the wait from Queued to Locked (both from its
 *     log lines), and containers/s to Complete.
 *
 *   npx tsx bench/containers.ts
 *   BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test npx tsx bench/containers.ts
 *
 * Knobs (defaults): BENCH_CONTAINERS (100000), BENCH_REUSE_QUERIES (1000), BENCH_REUSE_REQUESTS (300),
 * BENCH_BURST (1000), BENCH_BURST_CLIENTS (20), BENCH_DISPATCH_CONCURRENCY (8), BENCH_DATABASE_URL.
 * Prints numbers; asserts nothing.
 */
import { spawn, type ChildProcess } from "node:child_process";
import type { Prisma } from "@prisma/client";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { UserRecord } from "../src/api/types";
import type { Principal } from "../src/auth/principal";
import { findReusable } from "../src/containers/reuse";
import { openDatabase, type Database } from "../src/db/database";
import { createTestDatabase } from "../test/helpers/database";
import {
  databaseLabel, envInt, fmt, freePort, gql, heading, ok, runIfMain, sequential, summarize, table, timed, type Summary,
} from "./lib";

const CLUSTER = "cbnch";
const ROOT_TOKEN = `bench-root-${"c".repeat(40)}`;
const ROOT = join(__dirname, "..");
const CLI = `require(${JSON.stringify(join(ROOT, "src", "cli.ts"))}).main(process.argv.slice(1)).then((c) => { process.exitCode = c; })`;

interface Proc {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** `fedgate <args>` in its own process, configured only by `env`. */
function fedgate(args: string[], env: Record<string, string>): Proc {
  const base: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("FEDGATE_") && k !== "DATABASE_URL" && k !== "NODE_OPTIONS") base[k] = v;
  const child = spawn(process.execPath, ["--import", "tsx", "-e", CLI, ...args], { cwd: ROOT, env: { ...base, ...env }, stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  return { child, stderr: () => err, exited: new Promise((r) => child.once("close", (code) => r(code))) };
}

type Target = { databaseUrl?: string; dataDir?: string; dispose(): Promise<void> };

async function databaseTarget(): Promise<Target> {
  if (process.env.BENCH_DATABASE_URL) return createTestDatabase(process.env.BENCH_DATABASE_URL, "fedgate_bench");
  const dir = mkdtempSync(join(tmpdir(), "d-bench-"));
  return { dataDir: join(dir, "data"), dispose: async () => rmSync(dir, { recursive: true, force: true }) };
}

interface Server {
  url: string;
  stop(): Promise<void>;
}

async function startServer(t: Target, port: number): Promise<Server> {
  const env: Record<string, string> = {
    FEDGATE_CLUSTER_ID: CLUSTER, FEDGATE_LISTEN: `127.0.0.1:${port}`, FEDGATE_SYSTEM_ROOT_TOKEN: ROOT_TOKEN, FEDGATE_LOG_LEVEL: "error",
    ...(t.databaseUrl ? { DATABASE_URL: t.databaseUrl } : { FEDGATE_DATA_DIR: t.dataDir! }),
  };
  const p = fedgate(["serve"], env);
  const url = `http://127.0.0.1:${port}`;
  for (const deadline = Date.now() + 120_000; ; ) {
    if (p.child.exitCode !== null) throw new Error(`fedgate serve exited: ${p.stderr()}`);
    if ((await gql(url, `{ clusterId }`).catch(() => undefined))?.data?.clusterId === CLUSTER) break;
    if (Date.now() > deadline) throw new Error(`fedgate serve did not start: ${p.stderr()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    async stop() {
      p.child.kill("SIGTERM");
      await p.exited;
    },
  };
}

const SPEC = {
  containerImage: "none", outputPath: "/out", mounts: { "/out": { kind: "tmp" } }, runtimeConstraints: { vcpus: 1, ram: 1 << 20 },
};
const ROLLBACK = new Error("rollback");
const CREATE = `mutation($i: CreateContainerRequestInput!) { createContainerRequest(input: $i) { uuid state containerUuid } }`;

/** Writes the containers straight into the database (the server is down): one INSERT … SELECT from generate_series. */
async function seed(db: Database, n: number, runtimeUser: string, target: { uuid: string; output: string }): Promise<void> {
  const { prisma } = db;
  await prisma.$executeRawUnsafe(
    `UPDATE containers SET state = 'Complete', exit_code = 0, output = $1, finished_at = now(), priority = 0 WHERE uuid = $2`, target.output, target.uuid);
  await prisma.$executeRawUnsafe(`UPDATE container_requests SET state = 'Final' WHERE container_uuid = $1`, target.uuid);
  // Decoys on the target's hash: never chosen (Cancelled; Complete but failed).
  await prisma.$executeRawUnsafe(
    `INSERT INTO containers (uuid, state, priority, command, cwd, environment, container_image, mounts, output_path, runtime_constraints,
       scheduling_parameters, reuse_hash, exit_code, output, runtime_user_uuid, runtime_auth_scopes, finished_at)
     SELECT '${CLUSTER}-dz642-decoy' || lpad(i::text, 10, '0'), CASE WHEN i <= 3 THEN 'Cancelled' ELSE 'Complete' END, 0, command, cwd, environment,
       container_image, mounts, output_path, runtime_constraints, scheduling_parameters, reuse_hash, CASE WHEN i <= 3 THEN NULL ELSE 1 END, output,
       runtime_user_uuid, runtime_auth_scopes, now()
     FROM containers, generate_series(1, 6) i WHERE uuid = $1`,
    target.uuid,
  );
  await prisma.$executeRawUnsafe(
    `INSERT INTO containers (uuid, state, priority, command, cwd, environment, container_image, mounts, output_path, runtime_constraints,
       scheduling_parameters, reuse_hash, exit_code, output, runtime_user_uuid, finished_at, created_at)
     SELECT '${CLUSTER}-dz642-' || substr(md5('seed' || i), 1, 15), CASE WHEN i % 5 = 0 THEN 'Cancelled' ELSE 'Complete' END, 0,
       jsonb_build_array('echo', i::text), '.', '{}', 'none', '{"/out": {"kind": "tmp"}}', '/out', '{"vcpus": 1, "ram": 1048576}', '{}',
       md5('hash' || i) || md5('more' || i), CASE WHEN i % 5 = 0 THEN NULL ELSE 0 END,
       CASE WHEN i % 5 = 0 THEN NULL ELSE md5('out' || i) || '+' || (i % 1000) END, $1, now(), now() - (i || ' seconds')::interval
     FROM generate_series(1, ${n}) i`,
    runtimeUser,
  );
  await prisma.$executeRawUnsafe(`ANALYZE containers`);
}

const row = (label: string, s: Summary, extra = "") => [label, s.n, fmt.ms(s.p50), fmt.ms(s.p99), fmt.ms(s.max), extra];

/** A user and a token for it, made by the root over HTTP. */
async function userWithToken(url: string, email: string, isAdmin = false): Promise<{ uuid: string; token: string }> {
  const { createUser } = await ok(gql(url, `mutation($e: String!, $a: Boolean) { createUser(input: { email: $e, isAdmin: $a }) { uuid } }`, { e: email, a: isAdmin }, ROOT_TOKEN));
  const { createToken } = await ok(gql(url, `mutation($u: ID) { createToken(input: { userUuid: $u }) { token } }`, { u: createUser.uuid }, ROOT_TOKEN));
  return { uuid: createUser.uuid, token: createToken.token };
}

async function reuseBench(target: Target, port: number): Promise<void> {
  const n = envInt("BENCH_CONTAINERS", 100_000);
  heading(`containers: reuse look-up among ${fmt.int(n)} containers`);
  let server = await startServer(target, port);
  const alice = await userWithToken(server.url, "alice@bench.example");
  const output = "0123456789abcdef0123456789abcdef+42";
  await ok(gql(server.url, `mutation($p: String) { createCollection(input: { name: "output", portableDataHash: $p }) { uuid } }`, { p: output }, alice.token));
  const identical = { ...SPEC, command: ["sort", "/in/reads.txt"], state: "Committed", priority: 0 };
  const first = (await ok(gql(server.url, CREATE, { i: identical }, alice.token))).createContainerRequest;
  await server.stop();

  const db = await openDatabase({ databaseUrl: target.databaseUrl, dataDir: target.dataDir });
  let hash: string;
  try {
    const seeded = await timed(() => seed(db, n, alice.uuid, { uuid: first.containerUuid, output }));
    const [{ count }] = await db.prisma.$queryRawUnsafe<{ count: bigint }[]>(`SELECT count(*) AS count FROM containers`);
    console.log(`seeded ${fmt.int(Number(count))} containers in ${fmt.ms(seeded.ms / 1000)} s (straight into the database)`);
    [{ hash }] = await db.prisma.$queryRawUnsafe<{ hash: string }[]>(`SELECT reuse_hash AS hash FROM containers WHERE uuid = $1`, first.containerUuid);
    const plan = await db.prisma.$queryRawUnsafe<{ "QUERY PLAN": string }[]>(
      `EXPLAIN SELECT uuid FROM containers WHERE reuse_hash = $1 AND state IN ('Complete', 'Running', 'Locked', 'Queued')`, hash);
    const lines = plan.map((p) => p["QUERY PLAN"].trim());
    console.log(`plan of its core: ${(lines.find((l) => l.includes("Index")) ?? lines[0]).replace(/^->\s*/, "").replace(/\s+\(cost=.*$/, "")}`);
    // The requester as the query sees it (a user, not an admin: the output's readability is checked).
    const requester = { user: { uuid: alice.uuid, isAdmin: false, isActive: true } as UserRecord, isRoot: false, token: null, scopeSets: [] } as Principal;
    const queries = envInt("BENCH_REUSE_QUERIES", 1000);
    let wrong = 0;
    const lookUp = async (tx: Prisma.TransactionClient) => void ((await findReusable(tx, hash, requester)) !== first.containerUuid && wrong++);
    const hit = await sequential(queries, () => lookUp(db.prisma));
    // As in createContainerRequest, inside a transaction (its row lock is not a commit of its own), rolled back here.
    const hitInTx = await sequential(queries, () => db.prisma.$transaction(async (tx) => (await lookUp(tx), Promise.reject(ROLLBACK))).catch((e) => {
      if (e !== ROLLBACK) throw e;
    }));
    const miss = await sequential(queries, (i) => findReusable(db.prisma, `${"f".repeat(60)}${String(i).padStart(4, "0")}`, requester));
    console.log(table(["reuse query itself (findReusable, this process)", "n", "p50 ms", "p99 ms", "max ms", ""], [
      row("hit: the Complete container, past 6 decoys", summarize(hit), wrong ? `${wrong} WRONG` : "all chose it"),
      row("hit, in a transaction (BEGIN…ROLLBACK included)", summarize(hitInTx)),
      row("miss: no container with the hash", summarize(miss)),
    ]));
  } finally {
    await db.close();
  }

  server = await startServer(target, port);
  try {
    const requests = envInt("BENCH_REUSE_REQUESTS", 300);
    let reused = 0;
    const samples = await sequential(requests, async () => {
      const r = (await ok(gql(server.url, CREATE, { i: { ...identical, priority: 1 } }, alice.token))).createContainerRequest;
      if (r.containerUuid === first.containerUuid && r.state === "Final") reused++;
    });
    console.log(table(["createContainerRequest over HTTP (identical, useExisting)", "n", "p50 ms", "p99 ms", "max ms", ""], [
      row("reuses the Complete container, Final at once", summarize(samples), `${reused}/${requests} reused it`),
    ]));
    console.log("goal: the look-up under 5 ms at 100k containers");
  } finally {
    await server.stop();
  }
}

type LogLine = { msg: string; time: string; containerUuid?: string; lockMs?: number };

async function burstBench(target: Target, port: number): Promise<void> {
  const burst = envInt("BENCH_BURST", 1000);
  const clients = Math.max(1, envInt("BENCH_BURST_CLIENTS", 20));
  const concurrency = Math.max(1, envInt("BENCH_DISPATCH_CONCURRENCY", 8));
  heading(`containers: a burst of ${fmt.int(burst)} requests through one dispatcher (${concurrency} at once), ${clients} clients`);
  const server = await startServer(target, port);
  const bob = await userWithToken(server.url, "bob@bench.example");
  const dispatcherUser = await userWithToken(server.url, "dispatcher@bench.example", true);
  const dispatcher = fedgate(
    ["dispatch", "--url", server.url, "--poll-interval", "0.2", "--concurrency", String(concurrency), "--max-containers", String(burst)],
    { FEDGATE_DISPATCHER_TOKEN: dispatcherUser.token, FEDGATE_LOG_LEVEL: "info" },
  );
  try {
    await new Promise((r) => setTimeout(r, 2000)); // started and polling an empty queue
    const queuedAt = new Map<string, number>();
    const latencies: number[] = [];
    let next = 0;
    let failed = 0;
    const t0 = Date.now();
    await Promise.all(Array.from({ length: clients }, async () => {
      while (next < burst) {
        const i = next++;
        const s = performance.now();
        const r = await gql(server.url, CREATE, { i: { ...SPEC, command: ["true", `burst-${i}`], state: "Committed", priority: 1 + (i % 1000), useExisting: false } }, bob.token);
        latencies.push(performance.now() - s);
        if (r.data?.createContainerRequest) queuedAt.set(r.data.createContainerRequest.containerUuid, Date.now());
        else failed++;
      }
    }));
    const submitSeconds = (Date.now() - t0) / 1000;
    const code = await dispatcher.exited;
    const drainSeconds = (Date.now() - t0) / 1000;
    const lines = dispatcher.stderr().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as LogLine);
    const locked = lines.filter((l) => l.msg === "container locked");
    const complete = lines.filter((l) => l.msg === "container complete").length;
    const waits = locked.flatMap((l) => (queuedAt.has(l.containerUuid!) ? [Date.parse(l.time) - queuedAt.get(l.containerUuid!)!] : []));
    console.log(table(["burst", "n", "p50 ms", "p99 ms", "max ms", ""], [
      row("createContainerRequest → Queued (client round trip)", summarize(latencies), `${fmt.rate(burst / submitSeconds)} requests/s, ${failed} failed`),
      row("lockContainer round trip (dispatcher)", summarize(locked.map((l) => l.lockMs!))),
      row("Queued → Locked (wait in the queue)", summarize(waits)),
    ]));
    console.log(`all ${fmt.int(burst)} submitted in ${fmt.ms(submitSeconds)} s; ${complete} Complete after ${fmt.ms(drainSeconds)} s ` +
      `(${fmt.rate(complete / drainSeconds)} containers/s through the dispatcher); dispatcher exit code ${code}`);
  } finally {
    dispatcher.child.kill("SIGTERM");
    await dispatcher.exited;
    await server.stop();
  }
}

export async function main(): Promise<void> {
  const target = await databaseTarget();
  console.log(`database: ${target.databaseUrl ? databaseLabel() : "embedded PGlite in a data folder"}; the server and the dispatcher each in their own process, this one is the load generator`);
  try {
    const port = await freePort();
    await reuseBench(target, port);
    await burstBench(target, port);
  } finally {
    await target.dispose();
  }
}

runIfMain(module, main);
