/**
 * fedgate's overhead against servers that check nothing: fedgate (token, scopes, permission
 * closure on every request), a naive peer (Apollo Server 5 + Prisma findMany, no auth), the
 * ceiling (the same Apollo Server 5 returning static data) and, on PostgreSQL, PostGraphile 5
 * (no auth; on the Node 22 that bench/peers.ts installs into bench/.peers on first run). Each
 * server runs in its own process (bench/overheadServer.ts) over the same seeded data (closure.ts's
 * seed, 2k users); the load comes from wrk (Debian's `wrk`, another process), BENCH_CONNECTIONS
 * connections, in alternating rounds: every round runs each server once, in a rotated order,
 * so a slow moment of the shared machine lands on all of them. Reported: medians over the
 * rounds of req/s, p50 and p99, CPU per request (the server's process and PostgreSQL's, from
 * /proc: steadier than req/s on a loaded machine), and fedgate's req/s as a ratio of each peer's. The Apollo
 * servers (fedgate and its two peers) run as plain JavaScript compiled for this run into
 * bench/.build, with NODE_ENV=production, as `fedgate serve` runs (and as PostGraphile gets):
 * under tsx's loader, with its source maps, they would cost ~20% more CPU per request.
 *
 * Then the federated list, fedgate only: collections over the local cluster and two remotes,
 * each remote behind a 20 ms (each way) latency proxy, sequential requests: its wall time
 * against one round trip to one remote (the same list asked of remote 1 through its proxy).
 *
 *   npx tsx bench/overhead.ts
 *   BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test npx tsx bench/overhead.ts
 *
 * Knobs (defaults): BENCH_ROUNDS (5), BENCH_SECONDS (4 per server per round), BENCH_WARMUP
 * (2 s per server per workload), BENCH_CONNECTIONS (20), BENCH_FED_REQUESTS (60),
 * BENCH_WORKLOADS (comma-separated names, default all), BENCH_READ_CACHE_MB (fedgate's
 * readCacheMegabytes, default 32; 0: every read runs), BENCH_CPU_PROF (a folder: fedgate runs
 * with --cpu-prof there), BENCH_USERS/BENCH_COLLECTIONS (seed shape), BENCH_DATABASE_URL.
 * Benchmarks print numbers; they never assert.
 */
import { execFileSync, fork, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { CLUSTER, type Ready, type Role } from "./overheadServer";
import { ensurePeers } from "./peers";
import { databaseLabel, envInt, envNum, fmt, gql, heading, runIfMain, sequential, summarize, table, type GqlResult } from "./lib";

type ServerName = "fedgate" | "naive" | "ceiling" | "postgraphile";

interface Server {
  name: ServerName;
  ready: Ready;
  child: ChildProcess;
}

/** One request, as each server spells it; `expect` checks an answer once before the load. */
interface Workload {
  name: string;
  request(s: Server, fx: NonNullable<Ready["fixtures"]>): { query: string; variables: Record<string, unknown> } | undefined;
  expect(data: any): boolean;
}

const COLS = "uuid name ownerUuid portableDataHash createdAt modifiedAt";
const nodes = (n: number) => (d: any): boolean => (Object.values(d)[0] as any)?.nodes?.length === n;

const WORKLOADS: Workload[] = [
  {
    name: "collections(first: 10)",
    request: (s) =>
      s.name === "postgraphile"
        ? { query: `{ allCollections(first: 10, orderBy: PRIMARY_KEY_ASC) { nodes { ${COLS} } } }`, variables: {} }
        : { query: `{ collections(first: 10) { nodes { ${COLS} } } }`, variables: {} },
    expect: nodes(10),
  },
  {
    name: "collection(uuid)",
    request: (s, fx) =>
      s.name === "postgraphile"
        ? { query: `query($u: String!) { collectionByUuid(uuid: $u) { ${COLS} } }`, variables: { u: fx.collection } }
        : { query: `query($u: ID!) { collection(uuid: $u) { ${COLS} } }`, variables: { u: fx.collection } },
    expect: (d) => typeof (Object.values(d)[0] as any)?.uuid === "string",
  },
  {
    name: "project(uuid) { contents(first: 50) }",
    request: (s, fx) =>
      s.name === "postgraphile"
        ? {
            query: `query($u: String!) { groupByUuid(uuid: $u) { uuid name groupClass ownerUuid }
              groups: allGroups(condition: { ownerUuid: $u }, first: 50, orderBy: PRIMARY_KEY_ASC) { nodes { uuid name groupClass } }
              collections: allCollections(condition: { ownerUuid: $u }, first: 50, orderBy: PRIMARY_KEY_ASC) { nodes { uuid name portableDataHash } } }`,
            variables: { u: fx.project },
          }
        : {
            query: `query($u: ID!) { project(uuid: $u) { uuid name groupClass ownerUuid contents(first: 50) { nodes {
              ... on Group { uuid name groupClass } ... on Collection { uuid name portableDataHash } } } } }`,
            variables: { u: fx.project },
          },
    expect: (d) => (d.project?.contents?.nodes?.length ?? d.collections?.nodes?.length) > 0,
  },
  {
    // PostGraphile's amber preset has no prefix search (that is a plugin): not run there.
    name: "shareableSubjects(search, first: 50)",
    request: (s) =>
      s.name === "postgraphile"
        ? undefined
        : { query: `{ shareableSubjects(search: "user1", first: 50) { nodes { uuid kind name email groupClass } } }`, variables: {} },
    expect: (d) => d.shareableSubjects.nodes.length > 0,
  },
];

// ---------------------------------------------------------------- processes

const ROOT = join(__dirname, "..");
let compiled: string | undefined;

/** bench/overheadServer.ts as plain JavaScript, compiled once per run (with src and the test helpers it uses). */
function compiledServer(): string {
  if (compiled) return compiled;
  const out = join(__dirname, ".build");
  rmSync(out, { recursive: true, force: true });
  execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", join(ROOT, "tsconfig.json"), "--outDir", out, "--sourceMap", "false"], { stdio: "inherit" });
  // The code finds the GraphQL schema and the migrations beside its own folders.
  for (const dir of ["schema", "prisma"]) if (!existsSync(join(out, dir))) symlinkSync(join(ROOT, dir), join(out, dir));
  return (compiled = join(out, "bench", "overheadServer.js"));
}

function start(role: Role | "postgraphile", env: Record<string, string | undefined> = {}): Promise<Server> {
  const name: ServerName = role === "federation" || role === "idle" ? "fedgate" : role;
  let child: ChildProcess;
  if (role === "postgraphile") {
    const peers = ensurePeers();
    child = fork(join(__dirname, "postgraphileServer.cjs"), [], {
      execPath: peers.node,
      env: { ...process.env, ...env, NODE_PATH: peers.nodeModules, NODE_ENV: "production" },
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
  } else {
    const prof = process.env.BENCH_CPU_PROF && role === "fedgate" ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
    child = fork(compiledServer(), [role], {
      execArgv: prof,
      env: { ...process.env, ...env, NODE_ENV: "production" },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
  }
  return new Promise((resolve, reject) => {
    child.once("message", (ready) => resolve({ name, ready: ready as Ready, child }));
    child.once("exit", (code) => reject(new Error(`${role} server exited (${code}) before it was ready`)));
  });
}

async function stop(s: Server): Promise<void> {
  if (s.child.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    s.child.once("exit", () => resolve());
    s.child.kill("SIGTERM");
  });
}

function rssMb(pid: number | undefined): number {
  return Number(execFileSync("ps", ["-o", "rss=", "-p", String(pid)]).toString().trim()) / 1024;
}

// ---------------------------------------------------------------- load (wrk)

interface Run {
  perSecond: number;
  p50: number;
  p99: number;
  bad: number;
  /** CPU per request, ms: the server's own process, and all of PostgreSQL's processes. */
  serverCpu: number;
  postgresCpu: number;
}

// ---------------------------------------------------------------- CPU (/proc)

/** Linux's clock tick for /proc's CPU times (USER_HZ, 100 on every Linux that matters). */
const TICK_MS = 10;

/** user + system CPU of one process so far, in ms (0 once it is gone). */
function cpuMs(pid: number): number {
  try {
    // Fields after the parenthesised command name: utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) * TICK_MS;
  } catch {
    return 0;
  }
}

/**
 * CPU of every PostgreSQL process so far, in ms: the backends serving each server's pool and
 * the background workers alike (on PGlite there are none; its CPU is the server's own). A
 * backend that exits during a run loses its share, which the pools' idle time makes rare.
 */
function postgresCpuMs(): number {
  let total = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, "utf8").trim() === "postgres") total += cpuMs(Number(entry));
    } catch {
      // gone between the listing and the read
    }
  }
  return total;
}

function requireWrk(): void {
  try {
    execFileSync("wrk", ["--version"], { stdio: "ignore" });
  } catch (e) {
    // wrk --version exits 1 after printing; only a missing binary is fatal.
    if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new Error("the overhead benchmark needs wrk: apt-get install -y wrk");
  }
}

const lua = (s: string) => `[==[${s}]==]`;

function wrkScript(dir: string, token: string | undefined, body: string): string {
  const file = join(dir, `w${Math.random().toString(36).slice(2)}.lua`);
  writeFileSync(
    file,
    [
      `wrk.method = "POST"`,
      `wrk.body = ${lua(body)}`,
      `wrk.headers["Content-Type"] = "application/json"`,
      token ? `wrk.headers["Authorization"] = ${lua(`Bearer ${token}`)}` : "",
    ].join("\n"),
  );
  return file;
}

function ms(value: string, unit: string): number {
  return Number(value) * ({ us: 0.001, ms: 1, s: 1000, m: 60_000 }[unit] ?? NaN);
}

function wrk(url: string, script: string, seconds: number, connections: number, pid = 0): Run {
  const [server0, postgres0] = [cpuMs(pid), postgresCpuMs()];
  const out = execFileSync("wrk", ["-t1", `-c${connections}`, `-d${seconds}s`, "--latency", "-s", script, `${url}/graphql`]).toString();
  const [server1, postgres1] = [cpuMs(pid), postgresCpuMs()];
  const pct = (p: string) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, "m").exec(out);
    return m ? ms(m[1], m[2]) : NaN;
  };
  const bad = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0) + Number(/Socket errors: .*?(\d+) timeout/.exec(out)?.[1] ?? 0);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
  return {
    perSecond: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]),
    p50: pct("50"),
    p99: pct("99"),
    bad,
    serverCpu: (server1 - server0) / requests,
    postgresCpu: (postgres1 - postgres0) / requests,
  };
}

const median = (xs: number[]) => summarize(xs).p50;

// ---------------------------------------------------------------- main

function machine(): string {
  const [one, five] = loadavg();
  return `load average ${one.toFixed(2)} (1 min), ${five.toFixed(2)} (5 min)`;
}

async function sideBySide(servers: Server[], fx: NonNullable<Ready["fixtures"]>, dir: string): Promise<void> {
  const rounds = Math.max(1, envInt("BENCH_ROUNDS", 5));
  const seconds = Math.max(1, envInt("BENCH_SECONDS", 4));
  const warmup = envNum("BENCH_WARMUP", 2);
  const connections = Math.max(1, envInt("BENCH_CONNECTIONS", 20));
  const only = process.env.BENCH_WORKLOADS?.split(",").map((s) => s.trim());
  const fedgate = servers.find((s) => s.name === "fedgate")!;
  console.log(`${rounds} rounds × ${seconds} s per server (after ${warmup} s warm-up each), ${connections} connections, wrk -t1; servers in a rotated order each round`);

  for (const w of WORKLOADS.filter((x) => !only || only.includes(x.name))) {
    const runnable = servers.flatMap((s) => {
      const req = w.request(s, fx);
      return req ? [{ s, req, script: wrkScript(dir, s.ready.token, JSON.stringify(req)) }] : [];
    });
    for (const r of runnable) {
      const answer: GqlResult = await gql(r.s.ready.url, r.req.query, r.req.variables, r.s.ready.token);
      if (answer.errors?.length || !answer.data || !w.expect(answer.data))
        throw new Error(`${r.s.name}, ${w.name}: unexpected answer ${JSON.stringify(answer).slice(0, 500)}`);
      if (warmup > 0) wrk(r.s.ready.url, r.script, warmup, connections);
    }
    const runs = new Map<ServerName, Run[]>(runnable.map((r) => [r.s.name, []]));
    for (let round = 0; round < rounds; round++)
      for (let k = 0; k < runnable.length; k++) {
        const r = runnable[(k + round) % runnable.length];
        runs.get(r.s.name)!.push(wrk(r.s.ready.url, r.script, seconds, connections, r.s.child.pid));
      }
    const fedRate = median(runs.get("fedgate")!.map((x) => x.perSecond));
    heading(`overhead: ${w.name} — ${machine()}`);
    console.log(
      table(
        ["server", "req/s (median)", "p50 ms", "p99 ms", "non-2xx", "CPU ms/req: server", "PostgreSQL", "fedgate ÷ server"],
        runnable.map(({ s }) => {
          const rs = runs.get(s.name)!;
          const rate = median(rs.map((x) => x.perSecond));
          return [s.name, fmt.rate(rate), fmt.ms(median(rs.map((x) => x.p50))), fmt.ms(median(rs.map((x) => x.p99))),
            String(rs.reduce((a, x) => a + x.bad, 0)), median(rs.map((x) => x.serverCpu)).toFixed(3),
            median(rs.map((x) => x.postgresCpu)).toFixed(3), (fedRate / rate).toFixed(2)];
        }),
      ),
    );
    console.log(`fedgate per-round req/s: ${runs.get(fedgate.name)!.map((x) => fmt.rate(x.perSecond)).join(", ")}`);
  }
}

/** The federated list's wall time against one round trip to one remote (sequential, warm). */
async function federated(): Promise<void> {
  const n = Math.max(5, envInt("BENCH_FED_REQUESTS", 60));
  const fed = await start("federation");
  try {
    const { url, token, fixtures } = fed.ready;
    const clusters = fixtures!.clusters!;
    const list = `{ collections(clusters: ${JSON.stringify(clusters)}, first: 10) { nodes { uuid name } failedClusters { cluster code } } }`;
    const one = `{ collections(first: 10) { nodes { uuid name } } }`;
    const check = (r: GqlResult) => {
      if (r.errors?.length || r.data?.collections?.failedClusters?.length) throw new Error(`federated list: ${JSON.stringify(r).slice(0, 500)}`);
    };
    for (let i = 0; i < 5; i++) {
      check(await gql(url, list, {}, token));
      check(await gql(fixtures!.remoteUrl!, one, {}, token));
    }
    const listMs = summarize(await sequential(n, async () => check(await gql(url, list, {}, token))));
    const tripMs = summarize(await sequential(n, async () => check(await gql(fixtures!.remoteUrl!, one, {}, token))));
    heading(`overhead: federated list over ${clusters.join(", ")}, remotes +20 ms each way — ${machine()}`);
    console.log(
      table(
        ["request", "n", "p50 ms", "p95 ms", "÷ one remote round trip (p50)"],
        [
          [`collections(clusters: [${clusters.join(", ")}], first: 10) at ${CLUSTER}`, listMs.n, fmt.ms(listMs.p50), fmt.ms(listMs.p95), (listMs.p50 / tripMs.p50).toFixed(2)],
          ["one remote round trip: collections(first: 10) asked of rmot1 through its proxy", tripMs.n, fmt.ms(tripMs.p50), fmt.ms(tripMs.p95), "1.00"],
        ],
      ),
    );
  } finally {
    await stop(fed);
  }
}

/** RSS of a fresh, unseeded fedgate process a few seconds after it listens. */
async function idleRss(): Promise<void> {
  const s = await start("idle");
  try {
    await new Promise((r) => setTimeout(r, 3000));
    console.log(`idle RSS of one fresh cluster (its own process): ${fmt.int(rssMb(s.child.pid))} MB`);
  } finally {
    await stop(s);
  }
}

export async function main(): Promise<void> {
  requireWrk();
  const postgres = process.env.BENCH_DATABASE_URL !== undefined && process.env.BENCH_DATABASE_URL !== "";
  heading(`overhead: fedgate against servers that check nothing — ${databaseLabel()}`);
  console.log(`${machine()} at start; each server in its own process; seeding takes a while`);
  await idleRss();
  const dir = mkdtempSync(join(tmpdir(), "fedgate-overhead-"));
  const servers: Server[] = [];
  try {
    const fedgate = await start("fedgate");
    servers.push(fedgate);
    const db = { OVERHEAD_DATABASE_URL: fedgate.ready.databaseUrl };
    servers.push(await start("naive", db), await start("ceiling"));
    if (postgres) servers.push(await start("postgraphile", db));
    else console.log("PostGraphile: PostgreSQL only (set BENCH_DATABASE_URL)");
    console.log(`RSS after seeding: ${servers.map((s) => `${s.name} ${fmt.int(rssMb(s.child.pid))} MB`).join(", ")}`);
    await sideBySide(servers, fedgate.ready.fixtures!, dir);
  } finally {
    for (const s of [...servers].reverse()) await stop(s); // fedgate's database goes last
    rmSync(dir, { recursive: true, force: true });
  }
  await federated();
}

runIfMain(module, main);
