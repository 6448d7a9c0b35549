/**
 * N visibility checks spread over K remote clusters, with network latency added between
 * clusters: how many HTTP requests the viewer's cluster (A) sends to the remotes, and the wall
 * time, when the checks come batched in one GraphQL field, as N aliased fields of one request
 * (the per-request DataLoaders should still batch them), or as N separate requests (the
 * per-check baseline, sequential, and also 20 at a time).
 *
 * Topology: cluster A ("home0", the viewer's home) and K remote clusters ("rem01"…). Each
 * cluster sits behind its own latency proxy (bench/latencyProxy.ts, BENCH_LATENCY_MS each
 * way, so +2×latency per round trip), and every cluster's remoteClusters table points at the
 * OTHER clusters' proxies: A → remote calls and the remotes' calls back to A (validating the
 * viewer's token on first use, then cached; any other look-up a remote makes at A is counted
 * in the "remote→A" column) both pay the latency. The benchmark client talks to A directly.
 *
 * Seeding bypasses the API: candidate users, one role group per remote, and the membership
 * links are inserted with SQL on each remote, then `recomputeUsers` refreshes the closure.
 * The viewer (on A) is a member of each remote's role group; every other candidate is too, so
 * half of the candidates are visible to the viewer.
 *
 *   npx tsx bench/remote_checks.ts
 *   BENCH_CLUSTERS=4 BENCH_N=400 BENCH_LATENCY_MS=50 npx tsx bench/remote_checks.ts
 *
 * Knobs (defaults): BENCH_CLUSTERS (2), BENCH_N (200), BENCH_LATENCY_MS (20),
 * BENCH_REPEAT (5 runs of each single-request mode), BENCH_CONCURRENCY (20),
 * BENCH_DATABASE_URL (PostgreSQL server instead of embedded PGlite). The server's limits bound
 * BENCH_N: at most limits.maxPageSize (1000) uuids in one visibleSubjects field, and
 * limits.maxQueryFields (2000) fields in the aliased request.
 */
import { performance } from "node:perf_hooks";
import { recomputeUsers } from "../src/permissions/closure";
import { startLatencyProxy, type LatencyProxy } from "./latencyProxy";
import {
  counterDelta, createUserWithToken, databaseLabel, envInt, fmt, freePort, gql, heading, remoteRequestCounter, runIfMain,
  seededUuid, staleSocketRetries, startBenchCluster, sum, summarize, table, timed, type BenchCluster,
} from "./lib";

const HOME = "home0";
const remoteId = (k: number) => `rem${String(k + 1).padStart(2, "0")}`;
const STATS = { "x-fedgate-stats": "1" };

interface ModeResult {
  mode: string;
  clientRequests: number;
  /** Wall time of one run (median over repeats for the single-request modes). */
  wallMs: number;
  /** A → remote requests per run, from extensions.fedgate.remoteRequests. */
  fromStats: number;
  /** A → remote requests per run, from A's /metrics counter. */
  fromMetrics: number;
  /** Remote → A requests per run, from the remotes' /metrics counters. */
  backToHome: number;
  visible: number;
  perCluster: Record<string, number>;
}

export async function main(): Promise<void> {
  const retries0 = staleSocketRetries();
  const K = Math.max(1, envInt("BENCH_CLUSTERS", 2));
  const N = Math.max(1, envInt("BENCH_N", 200));
  const latency = envInt("BENCH_LATENCY_MS", 20);
  const repeat = Math.max(1, envInt("BENCH_REPEAT", 5));
  const concurrency = Math.max(1, envInt("BENCH_CONCURRENCY", 20));

  heading(`remote_checks: ${N} visibility checks over ${K} remote clusters, +${latency} ms each way between clusters`);
  console.log(`database: ${databaseLabel()}`);
  console.log("topology: every cluster behind its own TCP latency proxy; clusters reach each other only through the proxies (A→remote and remote→A); the client talks to A directly");

  const ids = [HOME, ...Array.from({ length: K }, (_, k) => remoteId(k))];
  const ports = Object.fromEntries(await Promise.all(ids.map(async (id) => [id, await freePort()] as const)));
  const proxies: Record<string, LatencyProxy> = {};
  for (const id of ids) proxies[id] = await startLatencyProxy(ports[id], latency);
  const started = await timed(() =>
    Promise.all(
      ids.map((id) =>
        startBenchCluster(
          id,
          {
            remoteClusters: Object.fromEntries(
              ids.filter((o) => o !== id).map((o) => [o, { url: proxies[o].url, activateUsers: true, timeoutMs: 30_000 }]),
            ),
          },
          ports[id],
        ),
      ),
    ),
  );
  const clusters: Record<string, BenchCluster> = Object.fromEntries(started.value.map((c) => [c.id, c]));
  const A = clusters[HOME];
  try {
    console.log(`${ids.length} clusters started in ${fmt.ms(started.ms)} ms`);
    const viewer = await createUserWithToken(A, "viewer@home.example");

    // Candidates: N users spread round-robin over the remotes; on each remote, every other one
    // shares a role group with the viewer.
    const candidates: string[] = [];
    const expected = new Set<string>();
    const byCluster: Record<string, { uuid: string; visible: boolean }[]> = {};
    for (let i = 0; i < N; i++) {
      const rid = remoteId(i % K);
      const uuid = seededUuid(rid, "user", `candidate-${i}`);
      const visible = Math.floor(i / K) % 2 === 0;
      candidates.push(uuid);
      if (visible) expected.add(uuid);
      (byCluster[rid] ??= []).push({ uuid, visible });
    }
    const seeding = await timed(async () => {
      for (const [rid, users] of Object.entries(byCluster)) {
        const prisma = clusters[rid].db.prisma;
        const role = seededUuid(rid, "group", "shared-role");
        const root = `${rid}-tpzed-000000000000000`;
        const values = users.map((u, i) => `('${u.uuid}', 'candidate${i}@${rid}.example', 'Candidate ${i} of ${rid}', true)`);
        await prisma.$executeRawUnsafe(`INSERT INTO users (uuid, email, full_name, is_active) VALUES ${values.join(", ")}`);
        await prisma.$executeRawUnsafe(`INSERT INTO groups (uuid, name, group_class, owner_uuid) VALUES ('${role}', 'shared role', 'role', '${root}')`);
        const members = [viewer.uuid, ...users.filter((u) => u.visible).map((u) => u.uuid)];
        const links = members.map((m, i) => `('${seededUuid(rid, "link", `member-${i}`)}', 'permission', 'can_read', '${m}', '${role}', '${root}')`);
        await prisma.$executeRawUnsafe(`INSERT INTO links (uuid, link_class, name, tail_uuid, head_uuid, owner_uuid) VALUES ${links.join(", ")}`);
        await recomputeUsers(prisma, [viewer.uuid, ...users.map((u) => u.uuid)]);
      }
    });
    console.log(`seeded ${N} candidate users on ${K} remote clusters (${expected.size} visible to the viewer) with SQL in ${fmt.ms(seeding.ms)} ms`);

    const ask = (query: string, variables: Record<string, unknown> = {}) => gql(A.url, query, variables, viewer.token, STATS);
    const statsOf = (r: { extensions?: Record<string, any> }): Record<string, number> => r.extensions?.fedgate?.remoteRequests ?? {};
    const Q_VISIBLE = `query($u:[ID!]!){ visibleSubjects(uuids:$u) }`;
    const aliased = `query { ${candidates.map((u, i) => `v${i}: visibleSubjects(uuids: ["${u}"])`).join(" ")} }`;
    const errors: string[] = [];
    const noteErrors = (r: { errors?: { message: string }[] }) => {
      if (r.errors?.length && errors.length < 3) errors.push(r.errors[0].message);
    };

    const counters = async () => ({
      home: await remoteRequestCounter(A.url),
      remotes: await Promise.all(ids.slice(1).map((id) => remoteRequestCounter(clusters[id].url))),
    });
    /** Runs one mode `runs` times; counts from /metrics are per run. */
    async function measure(
      mode: string,
      runs: number,
      clientRequests: number,
      once: () => Promise<{ stats: Record<string, number>; visible: number }>,
    ): Promise<ModeResult> {
      const before = await counters();
      const walls: number[] = [];
      const stats: Record<string, number> = {};
      let visible = 0;
      for (let r = 0; r < runs; r++) {
        const t0 = performance.now();
        const out = await once();
        walls.push(performance.now() - t0);
        for (const [k, v] of Object.entries(out.stats)) stats[k] = (stats[k] ?? 0) + v;
        visible = out.visible;
      }
      const after = await counters();
      const homeDelta = counterDelta(after.home, before.home);
      const back = after.remotes.reduce((acc, c, i) => acc + (c[HOME] ?? 0) - (before.remotes[i][HOME] ?? 0), 0);
      return {
        mode,
        clientRequests,
        wallMs: summarize(walls).p50,
        fromStats: sum(stats) / runs,
        fromMetrics: sum(homeDelta) / runs,
        backToHome: back / runs,
        visible,
        perCluster: Object.fromEntries(Object.entries(stats).map(([k, v]) => [k, v / runs])),
      };
    }

    // Warm-up: the first request makes each remote validate the viewer's token at A (cached after).
    const cold = await measure("cold: first request (1 check per remote)", 1, 1, async () => {
      const r = await ask(Q_VISIBLE, { u: ids.slice(1).map((rid) => byCluster[rid][0].uuid) });
      noteErrors(r);
      return { stats: statsOf(r), visible: r.data?.visibleSubjects?.length ?? 0 };
    });

    const results: ModeResult[] = [];
    results.push(
      await measure(`(a) batched: visibleSubjects(uuids: [${N}])`, repeat, 1, async () => {
        const r = await ask(Q_VISIBLE, { u: candidates });
        noteErrors(r);
        return { stats: statsOf(r), visible: (r.data?.visibleSubjects ?? []).filter((u: string) => expected.has(u)).length };
      }),
    );
    results.push(
      await measure(`(b) ${N} aliased visibleSubjects fields, 1 request`, repeat, 1, async () => {
        const r = await ask(aliased);
        noteErrors(r);
        const found = Object.values((r.data ?? {}) as Record<string, string[] | null>).flatMap((v) => v ?? []);
        return { stats: statsOf(r), visible: found.filter((u) => expected.has(u)).length };
      }),
    );
    results.push(
      await measure(`(c) per-check baseline: ${N} requests, sequential`, 1, N, async () => {
        const stats: Record<string, number> = {};
        let visible = 0;
        for (const u of candidates) {
          const r = await ask(Q_VISIBLE, { u: [u] });
          noteErrors(r);
          for (const [k, v] of Object.entries(statsOf(r))) stats[k] = (stats[k] ?? 0) + v;
          if (r.data?.visibleSubjects?.length && expected.has(u)) visible++;
        }
        return { stats, visible };
      }),
    );
    results.push(
      await measure(`(d) ${N} requests, ${concurrency} at a time`, 1, N, async () => {
        const stats: Record<string, number> = {};
        let visible = 0;
        let next = 0;
        await Promise.all(
          Array.from({ length: concurrency }, async () => {
            while (next < candidates.length) {
              const u = candidates[next++];
              const r = await ask(Q_VISIBLE, { u: [u] });
              noteErrors(r);
              for (const [k, v] of Object.entries(statsOf(r))) stats[k] = (stats[k] ?? 0) + v;
              if (r.data?.visibleSubjects?.length && expected.has(u)) visible++;
            }
          }),
        );
        return { stats, visible };
      }),
    );

    console.log(`\nwall: median of ${repeat} runs for (a) and (b), one run for (c) and (d); requests counted per run`);
    console.log(
      table(
        ["mode", "client reqs", "wall ms", "ms/check", "A→remote (stats)", "A→remote (/metrics)", "remote→A (/metrics)", "visible found"],
        [cold, ...results].map((r) => [
          r.mode,
          r.clientRequests,
          fmt.ms(r.wallMs),
          fmt.ms(r.wallMs / (r === cold ? K : N)),
          fmt.int(r.fromStats),
          fmt.int(r.fromMetrics),
          fmt.int(r.backToHome),
          `${r.visible}/${r === cold ? Math.min(K, expected.size) : expected.size}`,
        ]),
      ),
    );
    const a = results[0];
    console.log(`(a) per remote cluster: ${Object.entries(a.perCluster).map(([k, v]) => `${k}=${v}`).join(", ")}`);
    const trips = 1 + Math.ceil(a.backToHome / K);
    console.log(
      `latency floor of one batched request: ${trips} round trip(s) of ${2 * latency} ms = ${trips * 2 * latency} ms ` +
        `(A→remote${trips > 1 ? " + remote→A look-ups" : ""}; the remotes are asked in parallel)`,
    );
    console.log(`speed-up of (a) over (c): ${(results[2].wallMs / a.wallMs).toFixed(1)}×; remote requests (c)/(a): ${fmt.int(results[2].fromStats)}/${fmt.int(a.fromStats)}`);
    console.log(`proxy connections opened: ${ids.map((id) => `${id}=${proxies[id].connections()}`).join(", ")} (HTTP keep-alive reuses them)`);
    if (errors.length) console.log(`GraphQL errors seen (first ${errors.length}): ${errors.join(" | ")}`);
    if (staleSocketRetries() > retries0) console.log(`(requests re-sent after a stale keep-alive socket: ${staleSocketRetries() - retries0})`);
  } finally {
    await Promise.all(Object.values(clusters).map((c) => c.stop()));
    await Promise.all(Object.values(proxies).map((p) => p.close()));
  }
}

runIfMain(module, main);
