/**
 * Load and faults: a three-cluster federation of real `fedgate serve` processes (aaaaa as two
 * replicas on one PostgreSQL database behind a round-robin loopback proxy; bbbbb and ccccc),
 * remote links through proxies adding BENCH_LATENCY_MS each way, and a load generator in its
 * own process running BENCH_CLIENTS clients over a mix (local lists, remote objects,
 * federated lists, the sharing dialog, grants). Two phases of BENCH_SECONDS each:
 *   1. steady: requests/s, p50/p99 per kind, errors, remote requests per query;
 *   2. faults: ccccc killed at 1/3 and restarted at 2/3 of the phase, one aaaaa replica killed
 *      at 1/2: requests not needing ccccc keep succeeding, those needing it fail UNAVAILABLE
 *      naming it and recover, and every acknowledged write is in the database afterwards.
 * RSS of every process before and after. Prints numbers; asserts nothing.
 *
 *   npm run build && BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test npx tsx bench/faults.ts
 * Knobs: BENCH_SECONDS (60), BENCH_CLIENTS (200), BENCH_LATENCY_MS (20).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Client } from "pg";
import { createTestDatabase, type TestDatabaseUrl } from "../test/helpers/database";
import { startLatencyProxy, type LatencyProxy } from "./latencyProxy";
import { envInt, fmt, freePort, gql, heading, ok, remoteRequestCounter, runIfMain, sum, table } from "./lib";

const SECONDS = envInt("BENCH_SECONDS", 60);
const CLIENTS = envInt("BENCH_CLIENTS", 200);
const LATENCY_MS = envInt("BENCH_LATENCY_MS", 20);
const ROOT = (id: string) => `root-${id}-${"x".repeat(40)}`;
const KINDS = ["localList", "remoteObject", "federatedList", "sharingDialog", "grant"] as const;
type RequestKind = (typeof KINDS)[number];
/** The kinds that need ccccc (a remote object there, a federated list over it). */
const NEEDS_C: RequestKind[] = ["remoteObject", "federatedList"];

interface Seeded {
  token: string;
  userUuid: string;
  /** The user's own collection on aaaaa (the sharing dialog's object). */
  local: string;
  /** The user's collections on bbbbb and ccccc. */
  remote: { bbbbb: string; ccccc: string };
}

interface Plan {
  url: string;
  users: Seeded[];
  startAt: number;
  seconds: number;
  clients: number;
}

// ---------------------------------------------------------------- the load generator (own process)

const QUERIES: Record<RequestKind, string> = {
  localList: `query { collections(first: 20) { nodes { uuid name } } }`,
  remoteObject: `query($u: ID!) { collection(uuid: $u) { uuid name } }`,
  federatedList: `query { collections(clusters: ["aaaaa", "bbbbb", "ccccc"], first: 20) { nodes { uuid } } }`,
  sharingDialog: `query($u: ID!) { permissions(objectUuid: $u) { uuid tailUuid level } users(first: 20) { nodes { uuid fullName } } }`,
  grant: `mutation($n: String!) { createCollection(input: { name: $n }) { uuid } }`,
};
const GRANT = `mutation($h: ID!, $t: ID!) { grantPermission(headUuid: $h, tailUuid: $t, level: "can_read") { uuid } }`;

/** A request that failed, or that needed ccccc: its kind, when (epoch ms) and how it ended. */
interface RequestEvent {
  kind: RequestKind;
  start: number;
  end: number;
  /** undefined: it succeeded; "ccccc": every error was UNAVAILABLE naming ccccc. */
  error?: "ccccc" | "other";
  sample?: string;
}

interface LoadResult {
  seconds: number;
  latencies: Record<RequestKind, number[]>;
  events: RequestEvent[];
  writes: { collection: string; permission?: string }[];
  notAcknowledged: number;
}

type GqlErrors = { message: string; extensions?: { code?: string; cluster?: string } }[];

/** One request of `kind` as user `me` (client `c`, iteration `i`); the writes it had acknowledged. */
async function request(plan: Plan, kind: RequestKind, c: number, i: number, writes: LoadResult["writes"]): Promise<GqlErrors> {
  const me = plan.users[c % plan.users.length];
  if (kind !== "grant") {
    const u = kind === "remoteObject" ? (i % 2 ? me.remote.ccccc : me.remote.bbbbb) : me.local;
    return (await gql(plan.url, QUERIES[kind], { u }, me.token)).errors ?? [];
  }
  const created = await gql(plan.url, QUERIES.grant, { n: `load ${c}.${i}` }, me.token);
  if (created.errors?.length) return created.errors;
  const write: { collection: string; permission?: string } = { collection: created.data.createCollection.uuid };
  writes.push(write);
  const other = plan.users[(c + 1 + (i % (plan.users.length - 1))) % plan.users.length];
  const granted = await gql(plan.url, GRANT, { h: write.collection, t: other.userUuid }, me.token);
  if (!granted.errors?.length) write.permission = granted.data.grantPermission.uuid;
  return granted.errors ?? [];
}

/**
 * The load generator: latencies per kind, and an event per failed request and per request
 * needing ccccc, classified afterwards against the times the faults really happened.
 */
async function generateLoad(plan: Plan): Promise<void> {
  const latencies = Object.fromEntries(KINDS.map((k) => [k, [] as number[]])) as Record<RequestKind, number[]>;
  const events: RequestEvent[] = [];
  const writes: LoadResult["writes"] = [];
  let notAcknowledged = 0;
  await new Promise((r) => setTimeout(r, Math.max(0, plan.startAt - Date.now())));
  const t0 = performance.now();
  const deadline = t0 + plan.seconds * 1000;
  await Promise.all(
    Array.from({ length: plan.clients }, async (_, c) => {
      for (let i = c; performance.now() < deadline; i++) {
        const kind = KINDS[i % KINDS.length];
        const start = Date.now();
        const began = performance.now();
        let errors: GqlErrors;
        try {
          errors = await request(plan, kind, c, i, writes);
        } catch (e) {
          // No answer (a replica killed with the request on it): not acknowledged, so not a lost write.
          notAcknowledged++;
          errors = [{ message: `no answer: ${(e as Error).message}`, extensions: { code: "NO_ANSWER" } }];
        }
        latencies[kind].push(performance.now() - began);
        if (!errors.length && !NEEDS_C.includes(kind)) continue;
        const namingC = errors.every((e) => e.extensions?.code === "UNAVAILABLE" && (e.extensions.cluster === "ccccc" || e.message.includes("ccccc")));
        const error = !errors.length ? undefined : namingC ? "ccccc" : "other";
        events.push({ kind, start, end: Date.now(), error, sample: errors.length ? JSON.stringify(errors[0]).slice(0, 300) : undefined });
      }
    }),
  );
  const result: LoadResult = { seconds: (performance.now() - t0) / 1000, latencies, events, writes, notAcknowledged };
  // Wait until written: runIfMain exits right after, and a pipe takes a large write in pieces.
  await new Promise<void>((r) => process.stdout.write(JSON.stringify(result) + "\n", () => r()));
}

// ---------------------------------------------------------------- processes and proxies

interface Node {
  id: string;
  name: string;
  port: number;
  configFile: string;
  child?: ChildProcess;
}

function writeConfig(dir: string, name: string, config: Record<string, unknown>): string {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

async function startNode(node: Node): Promise<void> {
  const child = spawn(process.execPath, ["bin/fedgate.js", "serve", "--config", node.configFile], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, FEDGATE_LOG_LEVEL: "error" },
  });
  let stderr = "";
  const log = createWriteStream(node.configFile.replace(/\.json$/, ".log"), { flags: "a" }); // kept for reading afterwards
  child.stderr!.on("data", (d) => {
    stderr = (stderr + d).slice(-2000);
    log.write(d);
  });
  node.child = child;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${node.name} exited: ${stderr}`);
    try {
      const r = await gql(`http://127.0.0.1:${node.port}`, `{ clusterId }`);
      if (r.data?.clusterId === node.id) return;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`${node.name} did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function killNode(node: Node): Promise<void> {
  const child = node.child!;
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGKILL"); // a crash, not a shutdown
  await exited;
}

function rssMb(node: Node): number {
  const status = readFileSync(`/proc/${node.child!.pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

/** Round robin over `ports` per connection, skipping one that refuses (a killed replica). */
async function roundRobin(ports: number[]): Promise<{ port: number; close(): Promise<void> }> {
  let next = 0;
  const sockets = new Set<Socket>();
  const track = (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => s.destroy());
  };
  const server: Server = createServer((client) => {
    track(client);
    client.pause();
    const attempt = (left: number) => {
      const upstream = connect(ports[next++ % ports.length], "127.0.0.1");
      upstream.once("error", () => (left > 1 ? attempt(left - 1) : client.destroy()));
      upstream.once("connect", () => {
        track(upstream);
        client.pipe(upstream).pipe(client);
        client.resume();
      });
    };
    attempt(ports.length);
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  return {
    port,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        for (const s of sockets) s.destroy();
      }),
  };
}

// ---------------------------------------------------------------- the run

async function seed(url: string, urls: Record<string, string>): Promise<Seeded[]> {
  const users: Seeded[] = [];
  const width = 10;
  let n = 0;
  const root = (q: string, v: Record<string, unknown>) => ok(gql(url, q, v, ROOT("aaaaa")));
  const createIn = async (base: string, token: string, name: string) =>
    (await ok(gql(base, `mutation($n: String!) { createCollection(input: { name: $n }) { uuid } }`, { n: name }, token))).createCollection.uuid as string;
  // Every load user is a member of one role group, so they can see (and grant to) each other:
  // a grant to a user the grantor cannot see is NOT_FOUND, as it should be.
  const { createGroup } = await root(`mutation { createGroup(input: { name: "load users", groupClass: "role" }) { uuid } }`, {});
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (n < CLIENTS) {
        const i = n++;
        const { createUser } = await root(`mutation($e: String!) { createUser(input: { email: $e, fullName: $e }) { uuid } }`, { e: `load${i}@a.example` });
        const { createToken } = await root(`mutation($u: ID!) { createToken(input: { userUuid: $u }) { token } }`, { u: createUser.uuid });
        const token = createToken.token as string;
        await root(`mutation($g: ID!, $u: ID!) { grantPermission(headUuid: $g, tailUuid: $u, level: "can_read") { uuid } }`, { g: createGroup.uuid, u: createUser.uuid });
        users.push({
          token,
          userUuid: createUser.uuid,
          local: await createIn(url, token, `mine ${i}`),
          remote: { bbbbb: await createIn(urls.bbbbb, token, `at b ${i}`), ccccc: await createIn(urls.ccccc, token, `at c ${i}`) },
        });
      }
    }),
  );
  return users;
}

function runLoad(plan: Plan): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, __filename, "load"], { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, FAULTS_PLAN: JSON.stringify(plan) } });
    let out = "";
    child.stdout!.on("data", (d) => (out += d));
    child.on("exit", (code) => (code === 0 ? resolve(JSON.parse(out.trim().split("\n").pop()!)) : reject(new Error(`load generator exited ${code}`))));
  });
}

function p99(sorted: number[]): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)] : NaN;
}

/** When the faults really happened (epoch ms): ccccc down from kill to ready again; the replica's kill. */
interface FaultTimes {
  cDown: number;
  cUp: number;
  replicaKilled: number;
}

/**
 * Where a failed request belongs: it overlapped ccccc's outage and failed UNAVAILABLE naming
 * ccccc (expected for kinds needing it); it was in flight when the replica died (no answer
 * or a cut connection: expected, never acknowledged); anything else is unexpected.
 */
function classify(e: RequestEvent, f: FaultTimes): "ccccc" | "replica" | "unexpected" {
  if (e.error === "ccccc" && NEEDS_C.includes(e.kind) && e.start <= f.cUp && e.end >= f.cDown) return "ccccc";
  if (e.start <= f.replicaKilled && e.end >= f.replicaKilled) return "replica";
  return "unexpected";
}

function printPhase(result: LoadResult, remotePerQuery: number, faults?: FaultTimes): void {
  const unexpected: RequestEvent[] = [];
  const rows = KINDS.map((k) => {
    const sorted = [...result.latencies[k]].sort((a, b) => a - b);
    const failed = result.events.filter((e) => e.kind === k && e.error);
    const row: (string | number)[] = [k, fmt.int(sorted.length), fmt.rate(sorted.length / result.seconds), fmt.ms(sorted[Math.floor(sorted.length / 2)] ?? NaN), fmt.ms(p99(sorted)), failed.length];
    const classes = failed.map((e) => (faults ? classify(e, faults) : "unexpected"));
    unexpected.push(...failed.filter((_, i) => classes[i] === "unexpected"));
    if (faults) {
      const recovered = result.events.find((e) => e.kind === k && !e.error && NEEDS_C.includes(k) && e.start >= faults.cUp);
      row.push(classes.filter((c) => c === "ccccc").length, classes.filter((c) => c === "replica").length, classes.filter((c) => c === "unexpected").length, recovered ? fmt.ms(recovered.end - faults.cUp) : "-");
    }
    return row;
  });
  const headers = ["kind", "requests", "req/s", "p50 ms", "p99 ms", "errors"];
  if (faults) headers.push("UNAVAILABLE ccccc in outage", "in flight at replica kill", "unexpected", "ok again ms after ccccc ready");
  console.log(table(headers, rows));
  const total = sum(Object.fromEntries(KINDS.map((k) => [k, result.latencies[k].length])));
  const perQuery = Number.isNaN(remotePerQuery) ? "" : `; remote requests per query ${remotePerQuery.toFixed(2)}`;
  console.log(`total ${fmt.int(total)} requests in ${result.seconds.toFixed(1)} s = ${fmt.rate(total / result.seconds)} req/s${perQuery}; unexpected errors: ${unexpected.length}`);
  for (const k of KINDS) for (const e of unexpected.filter((u) => u.kind === k).slice(0, 2)) console.log(`  unexpected ${k} error: ${e.sample}`);
}

async function missingWrites(databaseUrl: string, writes: { collection: string; permission?: string }[]): Promise<{ acknowledged: number; missing: number }> {
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const collections = writes.map((w) => w.collection);
    const permissions = writes.flatMap((w) => (w.permission ? [w.permission] : []));
    const found = Number((await db.query(`SELECT count(*) AS n FROM collections WHERE uuid = ANY($1)`, [collections])).rows[0].n);
    const links = Number((await db.query(`SELECT count(*) AS n FROM links WHERE uuid = ANY($1)`, [permissions])).rows[0].n);
    return { acknowledged: collections.length + permissions.length, missing: collections.length - found + permissions.length - links };
  } finally {
    await db.end();
  }
}

async function main(): Promise<void> {
  const server = process.env.BENCH_DATABASE_URL;
  if (!server) throw new Error("bench/faults.ts needs PostgreSQL (replicas share one database): set BENCH_DATABASE_URL");
  const dir = mkdtempSync(join(tmpdir(), "fedgate-faults-"));
  const databases: Record<string, TestDatabaseUrl> = {};
  for (const id of ["aaaaa", "bbbbb", "ccccc"]) databases[id] = await createTestDatabase(server, "fedgate_bench");
  const ports = { a1: await freePort(), a2: await freePort(), bbbbb: await freePort(), ccccc: await freePort() };
  const balancer = await roundRobin([ports.a1, ports.a2]);
  // Every remote link goes through a proxy adding the latency, one per target.
  const proxies: Record<string, LatencyProxy> = {
    aaaaa: await startLatencyProxy(balancer.port, LATENCY_MS),
    bbbbb: await startLatencyProxy(ports.bbbbb, LATENCY_MS),
    ccccc: await startLatencyProxy(ports.ccccc, LATENCY_MS),
  };
  const node = (id: string, name: string, port: number): Node => {
    const remoteClusters = Object.fromEntries(["aaaaa", "bbbbb", "ccccc"].filter((o) => o !== id).map((o) => [o, { url: proxies[o].url, activateUsers: true }]));
    const configFile = writeConfig(dir, name, { clusterId: id, listen: `127.0.0.1:${port}`, systemRootToken: ROOT(id), databaseUrl: databases[id].databaseUrl, remoteClusters });
    return { id, name, port, configFile };
  };
  const nodes = { a1: node("aaaaa", "aaaaa-1", ports.a1), a2: node("aaaaa", "aaaaa-2", ports.a2), bbbbb: node("bbbbb", "bbbbb", ports.bbbbb), ccccc: node("ccccc", "ccccc", ports.ccccc) };
  try {
    await Promise.all(Object.values(nodes).map(startNode)); // the two replicas migrate one database at once
    const url = `http://127.0.0.1:${balancer.port}`;
    heading(`load and faults: ${CLIENTS} clients, ${SECONDS} s per phase, ${LATENCY_MS} ms each way on remote links, aaaaa as 2 replicas on PostgreSQL`);
    const users = await seed(url, { bbbbb: `http://127.0.0.1:${ports.bbbbb}`, ccccc: `http://127.0.0.1:${ports.ccccc}` });
    const rss = () => Object.fromEntries(Object.values(nodes).map((n) => [n.name, n.child!.exitCode === null && n.child!.signalCode === null ? rssMb(n) : NaN]));
    const rssBefore = rss();
    const remote = async () => {
      const [a, b] = await Promise.all([remoteRequestCounter(`http://127.0.0.1:${ports.a1}`), remoteRequestCounter(`http://127.0.0.1:${ports.a2}`)]);
      return sum(a) + sum(b);
    };

    heading("phase 1: steady");
    let before = await remote();
    const steady = await runLoad({ url, users, startAt: Date.now() + 1000, seconds: SECONDS, clients: CLIENTS });
    const steadyQueries = sum(Object.fromEntries(KINDS.map((k) => [k, steady.latencies[k].length])));
    printPhase(steady, ((await remote()) - before) / steadyQueries);
    const rssAfterSteady = rss();

    const ms = SECONDS * 1000;
    const plan: Plan = { url, users, startAt: Date.now() + 1000, seconds: SECONDS, clients: CLIENTS };
    heading(`phase 2: ccccc killed at ${(ms / 3000).toFixed(0)} s and restarted at ${((2 * ms) / 3000).toFixed(0)} s; replica aaaaa-2 killed at ${(ms / 2000).toFixed(0)} s`);
    /** Runs `f` at `t` ms into the phase; resolves with the time (epoch ms) it finished. */
    const at = (t: number, f: () => Promise<void>) => new Promise<number>((r, j) => setTimeout(() => f().then(() => r(Date.now()), j), plan.startAt + t - Date.now()));
    const [faulty, cDown, cUp, replicaKilled] = await Promise.all([
      runLoad(plan),
      at(ms / 3, () => killNode(nodes.ccccc)),
      at((2 * ms) / 3, () => startNode(nodes.ccccc)),
      at(ms / 2, () => killNode(nodes.a2)),
    ]);
    // Replica 2's counters died with it: no remote requests per query for this phase.
    printPhase(faulty, NaN, { cDown, cUp, replicaKilled });
    console.log(`requests without an answer (on the killed replica; not acknowledged): ${faulty.notAcknowledged}`);
    const all = [...steady.writes, ...faulty.writes];
    const check = await missingWrites(databases.aaaaa.databaseUrl!, all);
    console.log(`acknowledged writes: ${fmt.int(check.acknowledged)}, missing afterwards: ${check.missing}`);

    console.log(`each process's log: ${dir}/<name>.log`);
    heading("RSS (MB)");
    const rssAfter = rss();
    console.log(table(["process", "before", "after steady", "after faults"], Object.keys(rssBefore).map((k) => [k, fmt.ms(rssBefore[k]), fmt.ms(rssAfterSteady[k]), Number.isNaN(rssAfter[k]) ? "killed" : fmt.ms(rssAfter[k])])));
  } finally {
    for (const n of Object.values(nodes)) if (n.child && n.child.exitCode === null) await killNode(n);
    await Promise.all(Object.values(proxies).map((p) => p.close()));
    await balancer.close();
    for (const d of Object.values(databases)) await d.dispose();
  }
}

if (process.argv[2] === "load") runIfMain(module, () => generateLoad(JSON.parse(process.env.FAULTS_PLAN!) as Plan));
else runIfMain(module, main);
