/**
 * Token validation throughput over HTTP: `{ viewer { uuid } }` with concurrent clients, for
 *  - no token at all (`{ clusterId }`, public): the HTTP + GraphQL floor;
 *  - a local token, validated once and then served from the in-memory cache;
 *  - a local token with that cache off (tokens.localCacheSeconds: 0): a database read and a
 *    secret check on every request;
 *  - a remote (federated) token: validated at its home cluster on first use (timed alone),
 *    then served from the remote-token cache (the home cluster is not asked again).
 *
 * Two clusters: A ("tokna", default caches) and B ("toknb", local token cache off), reaching
 * each other directly (no added latency).
 *
 *   npx tsx bench/tokens.ts
 *   BENCH_TOKEN_SECONDS=10 BENCH_CONCURRENCY=50 npx tsx bench/tokens.ts
 *
 * Knobs (defaults): BENCH_TOKEN_SECONDS (5 per row), BENCH_WARMUP_SECONDS (1 per row, unrecorded, before all rows), BENCH_CONCURRENCY (20),
 * BENCH_DATABASE_URL (PostgreSQL server instead of embedded PGlite).
 */
import {
  counterDelta, createUserWithToken, databaseLabel, envInt, envNum, fmt, freePort, gql, heading, remoteRequestCounter, runIfMain,
  staleSocketRetries, startBenchCluster, sum, table, throughput, timed, type BenchCluster,
} from "./lib";

export async function main(): Promise<void> {
  const retries0 = staleSocketRetries();
  const seconds = envNum("BENCH_TOKEN_SECONDS", 5);
  const concurrency = Math.max(1, envInt("BENCH_CONCURRENCY", 20));
  const warmup = envNum("BENCH_WARMUP_SECONDS", 1);
  heading(`tokens: validation throughput over HTTP, ${concurrency} concurrent clients, ~${seconds} s per row`);
  console.log(`database: ${databaseLabel()}`);

  const [pa, pb] = [await freePort(), await freePort()];
  const started = await timed(() =>
    Promise.all([
      startBenchCluster("tokna", { remoteClusters: { toknb: { url: `http://127.0.0.1:${pb}`, activateUsers: true } } }, pa),
      startBenchCluster(
        "toknb",
        { remoteClusters: { tokna: { url: `http://127.0.0.1:${pa}`, activateUsers: true } }, tokens: { localCacheSeconds: 0 } },
        pb,
      ),
    ]),
  );
  const [A, B]: BenchCluster[] = started.value;
  try {
    console.log(`2 clusters started in ${fmt.ms(started.ms)} ms`);
    const alice = await createUserWithToken(A, "alice@tokna.example");
    const bob = await createUserWithToken(B, "bob@toknb.example");
    const Q_VIEWER = `{ viewer { uuid } }`;
    const viewerIs = (url: string, token: string | undefined, uuid: string) => async () =>
      (await gql(url, Q_VIEWER, {}, token)).data?.viewer?.uuid === uuid;

    // First use of B's token at A: A validates it at B (one request), records the remote user.
    const firstUse = await timed(() => gql(A.url, Q_VIEWER, {}, bob.token));
    const secondUse = await timed(() => gql(A.url, Q_VIEWER, {}, bob.token));

    const rows: (string | number)[][] = [];
    const add = (label: string, tp: Awaited<ReturnType<typeof throughput>>, extra = "") =>
      rows.push([label, fmt.int(tp.requests), tp.failed, fmt.rate(tp.perSecond), fmt.ms(tp.latency.p50), fmt.ms(tp.latency.p95), extra]);
    const cases: [string, () => Promise<boolean>][] = [
      ["no token: { clusterId } (floor)", async () => (await gql(A.url, `{ clusterId }`)).data?.clusterId === "tokna"],
      ["local token, cached (A)", viewerIs(A.url, alice.token, alice.uuid)],
      ["local token, cache off (B, localCacheSeconds 0)", viewerIs(B.url, bob.token, bob.uuid)],
      ["remote token from B at A, cached", viewerIs(A.url, bob.token, bob.uuid)],
    ];
    // Unrecorded runs of every case first, so each row measures warm (JIT-compiled) code paths.
    for (const [, fn] of cases) await throughput(concurrency, warmup, fn);
    for (const [label, fn] of cases) {
      const before = await remoteRequestCounter(A.url);
      const tp = await throughput(concurrency, seconds, fn);
      const asked = sum(counterDelta(await remoteRequestCounter(A.url), before));
      add(label, tp, `A→remote requests during run: ${asked}`);
    }
    console.log(table(["token", "requests", "failed", "req/s", "p50 ms", "p95 ms", "notes"], rows));
    console.log(
      `remote token, first use at A (validated at B): ${fmt.ms(firstUse.ms)} ms (${firstUse.value.data?.viewer?.uuid === bob.uuid ? "ok" : "FAILED"}); ` +
        `second use (cache hit): ${fmt.ms(secondUse.ms)} ms`,
    );
    console.log("client and servers share one Node.js process (and its event loop): the client's own cost is inside these numbers");
    if (staleSocketRetries() > retries0) console.log(`(requests re-sent after a stale keep-alive socket: ${staleSocketRetries() - retries0})`);
  } finally {
    await Promise.all([A.stop(), B.stop()]);
  }
}

runIfMain(module, main);
