/**
 * Secrets: what a value read costs next to a metadata read of the same secrets, and how fast
 * single-use wrapping tokens are unwrapped. The server is a real cluster (startBenchCluster:
 * embedded PGlite in memory, or a fresh PostgreSQL database with BENCH_DATABASE_URL) in its own
 * process (this file, forked with the role `serve`); this process is the load generator.
 *
 * A user owns BENCH_SECRETS secrets (random values of BENCH_SECRET_BYTES characters, sealed under
 * a random key made for this run). In alternating rounds (every round runs each workload once, in
 * a rotated order, so a slow moment of the shared machine lands on all of them), BENCH_CLIENTS
 * concurrent clients cycle through the secrets with:
 *  - metadata: `secret(uuid) { uuid name currentVersion }` (no value, nothing written);
 *  - value: `secretValue(uuid) { uuid version value }` (unsealed, and an audit row written);
 *  - Vault KV: `GET /v1/secret/data/<uuid>` with `X-Vault-Token` (the same read through the
 *    Vault-compatible API; BENCH_VAULT=0 leaves it out);
 *  - unwrap: `unwrapSecret(token)`, no bearer token, each wrapping token sent exactly once. The
 *    tokens are wrapped before each round (untimed, `wrapSecret(uuid, ttlSeconds)` in batches of
 *    aliased mutations): the pool is topped up to twice what the fastest unwrap rate seen so far
 *    (starting from the value read's rate) would use in a run, plus one per client. Should a run
 *    drain it nonetheless, that run is dropped and re-run with a pool twice as large.
 * Reported: medians over the rounds of req/s, p50 and p99, each workload's req/s ÷ metadata's,
 * failures by error code (every answer is checked: the right uuid, the right value).
 *
 *   npx tsx bench/secrets.ts
 *   BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test npx tsx bench/secrets.ts
 *
 * Knobs (defaults): BENCH_ROUNDS (5), BENCH_SECONDS (3 per workload per round), BENCH_WARMUP (1 s per
 * workload, unrecorded), BENCH_CLIENTS (20), BENCH_SECRETS (100), BENCH_SECRET_BYTES (256),
 * BENCH_VAULT (1), BENCH_DATABASE_URL. Prints numbers; asserts nothing.
 */
import { fork, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { testSecretKeys } from "../test/helpers/federation";
import {
  createUserWithToken, databaseLabel, envInt, envNum, fmt, gql, heading, ok, runIfMain, startBenchCluster, summarize, table, throughput,
  type GqlResult,
} from "./lib";

const CLUSTER = "scrbn";
const SERVE = "serve";
/** Wrapping tokens' lifetime: far longer than a run. */
const WRAP_TTL_SECONDS = 3600;
/** Wraps per request (aliased mutations, run one after the other by the server). */
const WRAP_BATCH = 25;
/** How much larger than one round's expected use the token pool is made. */
const POOL_MARGIN = 2;

/** What the server process tells the load generator once it listens. */
interface Ready {
  url: string;
  token: string;
}

// ---------------------------------------------------------------- the server (its own process)

async function serve(): Promise<void> {
  // Random keys for this run (the persistent PostgreSQL database needs some to store a value).
  const cluster = await startBenchCluster(CLUSTER, { secrets: testSecretKeys({ maxWrapTtlSeconds: WRAP_TTL_SECONDS }) });
  const owner = await createUserWithToken(cluster, "owner@secrets.bench.example");
  process.once("SIGTERM", () => void cluster.stop().finally(() => process.exit(0)));
  process.send!({ url: cluster.url, token: owner.token } satisfies Ready);
}

interface Server {
  ready: Ready;
  child: ChildProcess;
}

function startServer(): Promise<Server> {
  const child = fork(__filename, [SERVE], { execArgv: ["--import", "tsx"], env: process.env, stdio: ["ignore", "inherit", "inherit", "ipc"] });
  return new Promise((resolve, reject) => {
    child.once("message", (ready) => resolve({ ready: ready as Ready, child }));
    child.once("exit", (code) => reject(new Error(`the secrets server exited (${code}) before it was ready`)));
  });
}

async function stopServer(s: Server): Promise<void> {
  if (s.child.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    s.child.once("exit", () => resolve());
    s.child.kill("SIGTERM");
  });
}

// ---------------------------------------------------------------- the load

const Q_META = `query($u: ID!) { secret(uuid: $u) { uuid name currentVersion } }`;
const Q_VALUE = `query($u: ID!) { secretValue(uuid: $u) { uuid version value } }`;
const M_UNWRAP = `mutation($t: String!) { unwrapSecret(token: $t) { uuid version value } }`;
const M_WRAP_BATCH = `mutation(${Array.from({ length: WRAP_BATCH }, (_, i) => `$u${i}: ID!`).join(", ")}, $ttl: Int!) {
  ${Array.from({ length: WRAP_BATCH }, (_, i) => `w${i}: wrapSecret(uuid: $u${i}, ttlSeconds: $ttl) { token }`).join("\n  ")} }`;

/** Why an answer is not the expected one: its first error's code and message, or its status. */
function describe(r: GqlResult): string {
  const e = r.errors?.[0];
  return e ? `${e.extensions?.code ?? "no code"}: ${e.message.slice(0, 120)}` : `HTTP ${r.status}, unexpected data`;
}

interface Fixture {
  url: string;
  token: string;
  uuids: string[];
  values: Map<string, string>;
}

/** Failures by cause (error code and message, HTTP status, thrown error), for the report. */
class Failures {
  readonly byCause = new Map<string, number>();
  add(cause: string): false {
    this.byCause.set(cause, (this.byCause.get(cause) ?? 0) + 1);
    return false;
  }
  get total(): number {
    let n = 0;
    for (const v of this.byCause.values()) n += v;
    return n;
  }
}

interface Run {
  perSecond: number;
  p50: number;
  p99: number;
  requests: number;
  failed: number;
}

interface Workload {
  name: string;
  /** One request; false when its answer is not the expected one. */
  request(i: number): Promise<boolean>;
  /** Before each timed run (untimed): e.g. top up the wrapping tokens. */
  prepare?(seconds: number): Promise<void>;
  /** False when the run does not count (the unwrap pool ran dry): it is run again. */
  valid?(): boolean;
  runs: Run[];
  failures: Failures;
}

function readWorkload(name: string, fx: Fixture, read: (uuid: string) => Promise<true | string>): Workload {
  const failures = new Failures();
  return {
    name, failures, runs: [],
    async request(i) {
      try {
        const r = await read(fx.uuids[i % fx.uuids.length]);
        return r === true ? true : failures.add(r);
      } catch (e) {
        return failures.add(`thrown: ${(e as Error).message}`);
      }
    },
  };
}

function metadata(fx: Fixture): Workload {
  return readWorkload("metadata: secret(uuid) { uuid name currentVersion }", fx, async (u) => {
    const r = await gql(fx.url, Q_META, { u }, fx.token);
    return r.data?.secret?.uuid === u && r.data.secret.currentVersion === 1 && !r.errors ? true : describe(r);
  });
}

function value(fx: Fixture): Workload {
  return readWorkload("value: secretValue(uuid) { uuid version value }", fx, async (u) => {
    const r = await gql(fx.url, Q_VALUE, { u }, fx.token);
    return r.data?.secretValue?.uuid === u && r.data.secretValue.value === fx.values.get(u) && !r.errors ? true : describe(r);
  });
}

function vault(fx: Fixture): Workload {
  return readWorkload("Vault KV: GET /v1/secret/data/<uuid>, X-Vault-Token", fx, async (u) => {
    const res = await fetch(`${fx.url}/v1/secret/data/${u}`, { headers: { "x-vault-token": fx.token } });
    const body = (await res.json()) as { data?: { data?: { value?: string } }; errors?: string[] };
    if (res.status === 200 && body.data?.data?.value === fx.values.get(u)) return true;
    return `HTTP ${res.status}: ${JSON.stringify(body.errors ?? body).slice(0, 120)}`;
  });
}

/**
 * Unwraps from a pool of tokens wrapped beforehand; a cursor hands each token out once. The pool
 * is topped up before every timed run (see the top of the file); `observe` feeds it the rates seen.
 */
function unwrap(fx: Fixture, clients: number, firstEstimate: () => number): Workload & { wrapped(): number; used(): number; spare(): { token: string } | undefined; observe(perSecond: number): void } {
  const failures = new Failures();
  const pool: { token: string; uuid: string }[] = [];
  let cursor = 0;
  let estimate = 0;
  let ranDry = false;
  let wrapRequests = 0;
  let deadline = 0;

  async function wrapMore(n: number): Promise<void> {
    const batches = Math.ceil(n / WRAP_BATCH);
    let nextBatch = 0;
    await Promise.all(Array.from({ length: Math.min(clients, batches) }, async () => {
      while (nextBatch < batches) {
        nextBatch++;
        const uuids = Array.from({ length: WRAP_BATCH }, () => fx.uuids[wrapRequests++ % fx.uuids.length]);
        const vars: Record<string, unknown> = { ttl: WRAP_TTL_SECONDS };
        uuids.forEach((u, i) => (vars[`u${i}`] = u));
        const data = await ok(gql(fx.url, M_WRAP_BATCH, vars, fx.token));
        uuids.forEach((u, i) => pool.push({ token: data[`w${i}`].token, uuid: u }));
      }
    }));
  }

  return {
    name: "unwrap: unwrapSecret(token), each token once, no bearer", failures, runs: [],
    async prepare(seconds) {
      if (!estimate) estimate = firstEstimate();
      const target = Math.ceil(estimate * seconds * POOL_MARGIN) + clients;
      if (pool.length - cursor < target) await wrapMore(target - (pool.length - cursor));
      ranDry = false;
      deadline = performance.now() + seconds * 1000;
    },
    async request() {
      if (cursor >= pool.length) {
        // Out of tokens: wait out the run (it will not count) rather than spin on failures.
        ranDry = true;
        await new Promise((r) => setTimeout(r, Math.max(0, deadline - performance.now())));
        return false;
      }
      const { token, uuid } = pool[cursor++];
      try {
        const r = await gql(fx.url, M_UNWRAP, { t: token });
        return r.data?.unwrapSecret?.uuid === uuid && r.data.unwrapSecret.value === fx.values.get(uuid) && !r.errors ? true : failures.add(describe(r));
      } catch (e) {
        return failures.add(`thrown: ${(e as Error).message}`);
      }
    },
    valid() {
      if (!ranDry) return true;
      estimate *= 2;
      return false;
    },
    observe(perSecond) {
      estimate = Math.max(estimate, perSecond);
    },
    wrapped: () => pool.length,
    used: () => cursor,
    spare: () => (cursor > 0 ? pool[0] : undefined),
  };
}

// ---------------------------------------------------------------- main

const median = (xs: number[]) => summarize(xs).p50;
const load = () => loadavg().map((l) => l.toFixed(1)).join(", ");

async function seedSecrets(url: string, token: string, n: number, bytes: number): Promise<Fixture> {
  const values = new Map<string, string>();
  const uuids: string[] = [];
  for (let i = 0; i < n; i++) {
    const v = randomBytes(Math.ceil((bytes * 3) / 4)).toString("base64").slice(0, bytes);
    const { createSecret } = await ok(gql(url, `mutation($n: String!, $v: String!) { createSecret(input: { name: $n, value: $v }) { uuid } }`,
      { n: `bench secret ${i}`, v }, token));
    uuids.push(createSecret.uuid);
    values.set(createSecret.uuid, v);
  }
  return { url, token, uuids, values };
}

export async function main(): Promise<void> {
  const rounds = Math.max(1, envInt("BENCH_ROUNDS", 5));
  const seconds = Math.max(1, envNum("BENCH_SECONDS", 3));
  const warmup = envNum("BENCH_WARMUP", 1);
  const clients = Math.max(1, envInt("BENCH_CLIENTS", 20));
  const nSecrets = Math.max(1, envInt("BENCH_SECRETS", 100));
  const bytes = Math.max(1, envInt("BENCH_SECRET_BYTES", 256));
  heading(`secrets: value reads against metadata reads, and unwraps — ${databaseLabel()}`);
  console.log(`load average ${load()} at start; the server in its own process, this one is the load generator (${clients} clients)`);

  const server = await startServer();
  try {
    const fx = await seedSecrets(server.ready.url, server.ready.token, nSecrets, bytes);
    console.log(`${nSecrets} secrets of ${bytes} characters, one owner; ${rounds} rounds × ${seconds} s per workload (after ${warmup} s warm-up each), rotated order`);
    const meta = metadata(fx);
    const val = value(fx);
    let dropped = 0; // unwrap runs that drained the pool
    let valueRate = 1; // the last value-read rate: sizes the first token pool
    const unwraps = unwrap(fx, clients, () => valueRate);
    const workloads: Workload[] = [meta, val, ...(envInt("BENCH_VAULT", 1) ? [vault(fx)] : []), unwraps];

    const once = async (w: Workload, s: number): Promise<Run | undefined> => {
      for (let attempt = 0; attempt < 4; attempt++) {
        await w.prepare?.(s);
        const failedBefore = w.failures.total;
        const tp = await throughput(clients, s, (i) => w.request(i));
        if (w.valid && !w.valid()) {
          dropped++;
          console.log(`(${w.name.split(":")[0]}: the token pool ran dry, all ${unwraps.wrapped()} tokens wrapped so far sent; that run is dropped and re-run with a larger pool)`);
          continue;
        }
        if (w === unwraps) unwraps.observe(tp.perSecond);
        if (w === val) valueRate = tp.perSecond;
        return { perSecond: tp.perSecond, p50: tp.latency.p50, p99: tp.latency.p99, requests: tp.requests, failed: w.failures.total - failedBefore };
      }
      return undefined;
    };
    if (warmup > 0) for (const w of workloads) await once(w, warmup); // unrecorded
    for (let round = 0; round < rounds; round++)
      for (let k = 0; k < workloads.length; k++) {
        const w = workloads[(k + round) % workloads.length];
        const r = await once(w, seconds);
        if (r) w.runs.push(r);
      }

    heading(`secrets: ${clients} clients, medians over ${rounds} rounds — load average ${load()}`);
    const metaRate = median(meta.runs.map((r) => r.perSecond));
    console.log(table(
      ["workload", "req/s (median)", "p50 ms", "p99 ms", "requests", "failed", "÷ metadata req/s"],
      workloads.map((w) => {
        const rate = median(w.runs.map((r) => r.perSecond));
        return [w.name, fmt.rate(rate), fmt.ms(median(w.runs.map((r) => r.p50))), fmt.ms(median(w.runs.map((r) => r.p99))),
          fmt.int(w.runs.reduce((a, r) => a + r.requests, 0)), String(w.runs.reduce((a, r) => a + r.failed, 0)), (rate / metaRate).toFixed(2)];
      }),
    ));
    const perRound = (w: Workload) => w.runs.map((r) => fmt.rate(r.perSecond)).join(", ");
    for (const w of workloads) console.log(`${w.name.split(":")[0]} req/s per round: ${perRound(w)}`);
    const ratios = val.runs.map((r, i) => (meta.runs[i] ? (r.perSecond / meta.runs[i].perSecond).toFixed(2) : "-"));
    console.log(`value ÷ metadata per round: ${ratios.join(", ")}`);

    const succeeded = unwraps.runs.reduce((a, r) => a + r.requests - r.failed, 0);
    let again = "no token used";
    const used = unwraps.spare();
    if (used) {
      const r = await gql(fx.url, M_UNWRAP, { t: used.token });
      again = r.errors?.[0]?.extensions?.code ?? (r.data?.unwrapSecret ? "SUCCEEDED (a used token unwrapped twice)" : "no error");
    }
    console.log(`wrapping tokens: ${fmt.int(unwraps.wrapped())} wrapped (untimed, ${WRAP_BATCH} per request, between runs), ` +
      `${fmt.int(unwraps.used())} sent once each (warm-up included), ${fmt.int(succeeded)} unwrapped in the timed runs, ` +
      `${fmt.int(unwraps.wrapped() - unwraps.used())} left unused; runs dropped for a dry pool: ${dropped}; the first token sent again: ${again}`);
    for (const w of workloads)
      for (const [cause, n] of w.failures.byCause) console.log(`failures (warm-up included), ${w.name.split(":")[0]}: ${n} × ${cause}`);
  } finally {
    await stopServer(server);
  }
}

if (require.main === module && process.argv[2] === SERVE)
  serve().catch((e) => {
    console.error(e);
    process.exit(1);
  });
else runIfMain(module, main);
