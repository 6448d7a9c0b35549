/**
 * Small helpers shared by the benchmarks: start real clusters on 127.0.0.1 (embedded PGlite
 * by default; a fresh PostgreSQL database per cluster when BENCH_DATABASE_URL names a server),
 * talk GraphQL over HTTP, time things and print plain-text tables. Benchmarks print numbers;
 * they never assert.
 */
import { createHash } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { ConfigInput } from "../src/config/config";
import { INFIX, type Kind } from "../src/ids";
import { log } from "../src/log";
import { startTestCluster, type TestCluster } from "../test/helpers/federation";

export { createUserWithToken, freePort, gql, ok, staleSocketRetries, type GqlResult } from "../test/helpers/federation";
export type BenchCluster = TestCluster;

log.configure({ level: "error" });

// ---------------------------------------------------------------- knobs

/** An integer knob from the environment (BENCH_*), with a default. */
export function envInt(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === "") return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name}: expected a non-negative number, got "${v}"`);
  return Math.floor(n);
}

export function envNum(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === "") return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name}: expected a non-negative number, got "${v}"`);
  return n;
}

/** Runs `main` when the file is executed directly (npx tsx bench/x.ts), not when imported. */
export function runIfMain(mod: NodeJS.Module, main: () => Promise<void>): void {
  if (require.main !== mod) return;
  main().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}

// ---------------------------------------------------------------- clusters

/** Which database the benchmarks run on, for the report header. */
export function databaseLabel(): string {
  return process.env.BENCH_DATABASE_URL ? "PostgreSQL (BENCH_DATABASE_URL, one fresh database per cluster)" : "embedded PGlite (in memory)";
}

/** A real cluster for a benchmark: embedded PGlite, or a fresh database on BENCH_DATABASE_URL. */
export function startBenchCluster(id: string, overrides: Partial<ConfigInput> = {}, port = 0): Promise<BenchCluster> {
  return startTestCluster(id, overrides, port, process.env.BENCH_DATABASE_URL);
}

/** Sum of `fedgate_remote_requests_total` per remote cluster (all operations), from /metrics. */
export async function remoteRequestCounter(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    if (!line.startsWith("fedgate_remote_requests_total{")) continue;
    const cluster = /cluster="([^"]*)"/.exec(line)?.[1];
    const value = Number(line.slice(line.lastIndexOf(" ") + 1));
    if (cluster) out[cluster] = (out[cluster] ?? 0) + value;
  }
  return out;
}

export function counterDelta(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) if (v - (before[k] ?? 0)) out[k] = v - (before[k] ?? 0);
  return out;
}

export function sum(o: Record<string, number>): number {
  return Object.values(o).reduce((a, b) => a + b, 0);
}

// ---------------------------------------------------------------- identifiers

/**
 * A deterministic, well-spread uuid: `<cluster>-<infix>-<first 15 hex chars of md5(seed)>`.
 * The SQL seeders compute the same with `substr(md5(seed), 1, 15)`, so rows are spread over
 * the uuid order (lists are ordered by uuid) as random uuids would be.
 */
export function seededUuid(cluster: string, kind: Kind, seed: string): string {
  return `${cluster}-${INFIX[kind]}-${createHash("md5").update(seed).digest("hex").slice(0, 15)}`;
}

/** The SQL expression for seededUuid, with `seedExpr` a SQL text expression. */
export function seededUuidSql(cluster: string, kind: Kind, seedExpr: string): string {
  return `'${cluster}-${INFIX[kind]}-' || substr(md5(${seedExpr}), 1, 15)`;
}

// ---------------------------------------------------------------- timing

export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

export interface Summary {
  n: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export function summarize(samples: number[]): Summary {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p: number) => (s.length ? s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] : NaN);
  return { n: s.length, mean: s.reduce((a, b) => a + b, 0) / (s.length || 1), p50: q(0.5), p95: q(0.95), p99: q(0.99), max: s[s.length - 1] ?? NaN };
}

/**
 * Runs `fn(i)` sequentially for i in [0, n) and returns each duration in ms; with
 * `budgetSeconds`, stops early once that much time has passed (at least one run).
 */
export async function sequential(n: number, fn: (i: number) => Promise<unknown>, budgetSeconds = Infinity): Promise<number[]> {
  const out: number[] = [];
  const deadline = performance.now() + budgetSeconds * 1000;
  for (let i = 0; i < n && (i === 0 || performance.now() < deadline); i++) {
    const t0 = performance.now();
    await fn(i);
    out.push(performance.now() - t0);
  }
  return out;
}

/**
 * `concurrency` workers call `fn` back to back for `seconds`; returns requests/s and the
 * latency summary. `fn` returns false for a failed request (counted, not thrown).
 */
export async function throughput(
  concurrency: number,
  seconds: number,
  fn: (i: number) => Promise<boolean>,
): Promise<{ requests: number; failed: number; seconds: number; perSecond: number; latency: Summary }> {
  const deadline = performance.now() + seconds * 1000;
  const latencies: number[] = [];
  let failed = 0;
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        const good = await fn(next++).catch(() => false);
        latencies.push(performance.now() - t0);
        if (!good) failed++;
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  return { requests: latencies.length, failed, seconds: elapsed, perSecond: latencies.length / elapsed, latency: summarize(latencies) };
}

// ---------------------------------------------------------------- printing

export const fmt = {
  ms: (v: number) => (Number.isFinite(v) ? (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)) : "-"),
  int: (v: number) => Math.round(v).toLocaleString("en-US"),
  rate: (v: number) => v.toFixed(0),
};

/** A plain-text table with right-aligned numeric-looking cells. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  const numeric = (s: string) => /^[-+]?[\d,.]+( ?[a-z/%]*)?$/i.test(s);
  const line = (r: string[]) =>
    r.map((c, i) => (i > 0 && numeric(c) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ").trimEnd();
  return [line(cells[0]), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map(line)].join("\n");
}

export function heading(title: string): void {
  console.log(`\n=== ${title} ===`);
}
