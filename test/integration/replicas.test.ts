/**
 * Replicas of one cluster share one PostgreSQL database and nothing else: what one of them
 * revokes, or is told to forget by a home cluster, the others forget too, also after their
 * notification connection was lost (as a database restart does). And a revocation reaches
 * every cluster that validated the token, including one reached only through the pattern.
 */
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Client } from "pg";
import { saltToken } from "../../src/auth/salt";
import { PATTERN_CLUSTERS_PER_TOKEN } from "../../src/federation/revocations";
import { codes, createUserWithToken, freePort, gql, ok, startTestCluster, type TestCluster } from "../helpers/federation";

const VIEWER = `{ viewer { uuid } }`;
const REVOKE = `mutation($u: ID!) { revokeToken(uuid: $u) { uuid } }`;
/** The bound the issue sets: a token revoked through one replica is refused by the others within it. */
const COHERENT_WITHIN_MS = 1000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether `token` is refused at `url` within `ms` (asked again and again until then). */
async function refusedWithin(url: string, token: string, ms = COHERENT_WITHIN_MS): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (codes(await gql(url, VIEWER, {}, token)).includes("UNAUTHENTICATED")) return true;
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
}

(process.env.DATABASE_URL ? describe : describe.skip)("two replicas of one cluster on one PostgreSQL database (PostgreSQL only: set DATABASE_URL; PGlite has no replicas)", () => {
  let one: TestCluster, two: TestCluster, home: TestCluster;

  beforeAll(async () => {
    const [portOne, portHome] = await Promise.all([freePort(), freePort()]);
    // Long cache times, so only a notification can make a replica forget in time.
    const tokens = { localCacheSeconds: 600, remoteCacheSeconds: 600 };
    const options = { tokens, remoteClusters: { bbbbb: { url: `http://127.0.0.1:${portHome}`, activateUsers: true } } };
    one = await startTestCluster("aaaaa", options, portOne);
    two = await startTestCluster("aaaaa", { ...options, databaseUrl: one.config.databaseUrl });
    // The home cluster knows aaaaa by replica one's address only: its hints reach that replica.
    home = await startTestCluster("bbbbb", { tokens, remoteClusters: { aaaaa: { url: one.url } } }, portHome);
  });
  afterAll(async () => {
    await Promise.all([home?.stop(), two?.stop()]);
    await one?.stop();
  });

  it("a token revoked through one replica is refused by the other within a second", async () => {
    for (let round = 0; round < 5; round++) {
      const owner = await createUserWithToken(one, `owner${round}@a.example`);
      await ok(gql(two.url, VIEWER, {}, owner.token)); // cached there now
      await ok(gql(one.url, REVOKE, { u: owner.tokenUuid }, owner.token));
      expect(await refusedWithin(two.url, owner.token)).toBe(true);
    }
  });

  it("a revocation hint received by one replica clears the other's cache too", async () => {
    for (let round = 0; round < 3; round++) {
      const visitor = await createUserWithToken(home, `visitor${round}@b.example`);
      for (const replica of [one, two]) await ok(gql(replica.url, VIEWER, {}, visitor.token));
      await ok(gql(home.url, REVOKE, { u: visitor.tokenUuid }, visitor.token)); // hints replica one before it returns
      expect(codes(await gql(one.url, VIEWER, {}, visitor.token))).toEqual(["UNAUTHENTICATED"]);
      expect(await refusedWithin(two.url, visitor.token)).toBe(true);
    }
  });

  it("a replica whose notification connection was lost drops what it cached, and listens again", async () => {
    const admin = new Client({ connectionString: one.config.databaseUrl });
    await admin.connect();
    const listeners = async () =>
      Number((await admin.query(`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'`)).rows[0].n);
    try {
      expect(await listeners()).toBe(2);
      const missed = await createUserWithToken(one, "missed@a.example");
      await ok(gql(two.url, VIEWER, {}, missed.token));
      // What a database restart does to every connection; the revocation meanwhile notifies nobody.
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'`);
      await admin.query(`UPDATE api_tokens SET revoked_at = now() WHERE uuid = $1`, [missed.tokenUuid]);
      while ((await listeners()) < 2) await sleep(50); // the test's timeout bounds the wait
      expect(codes(await gql(two.url, VIEWER, {}, missed.token))).toEqual(["UNAUTHENTICATED"]);

      const later = await createUserWithToken(one, "later@a.example");
      await ok(gql(two.url, VIEWER, {}, later.token));
      await ok(gql(one.url, REVOKE, { u: later.tokenUuid }, later.token));
      expect(await refusedWithin(two.url, later.token)).toBe(true);
    } finally {
      await admin.end();
    }
  });
});

/**
 * A loopback stand-in for DNS: `http://127.0.0.1:<port>/<id>` reaches the cluster registered
 * under `id`, so a pattern `http://127.0.0.1:<port>/{id}` reaches clusters by id on one host.
 */
async function clusterProxy(): Promise<{ port: number; targets: Map<string, number>; paths: string[]; close(): Promise<void> }> {
  const targets = new Map<string, number>();
  const paths: string[] = [];
  const server: Server = createServer((req, res) => {
    const [, id, ...rest] = (req.url ?? "/").split("/");
    const port = targets.get(id);
    if (!port) return void res.writeHead(502).end();
    paths.push(req.url!);
    const upstream = request({ host: "127.0.0.1", port, path: `/${rest.join("/")}`, method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on("error", () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as AddressInfo).port,
    targets,
    paths,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe("a cluster reached only through the remote-cluster pattern", () => {
  let home: TestCluster, visited: TestCluster, proxy: Awaited<ReturnType<typeof clusterProxy>>;

  beforeAll(async () => {
    proxy = await clusterProxy();
    home = await startTestCluster("hhhhh", { remoteClusterPattern: `http://127.0.0.1:${proxy.port}/{id}` });
    visited = await startTestCluster("zzzzz", { remoteClusters: { hhhhh: { url: home.url, activateUsers: true } }, tokens: { remoteCacheSeconds: 600 } });
    proxy.targets.set("zzzzz", visited.port);
  });
  afterAll(async () => {
    await Promise.all([visited?.stop(), home?.stop()]);
    await proxy?.close();
  });

  it("gets the revocation hint and refuses the revoked token at once", async () => {
    const user = await createUserWithToken(home, "wanderer@h.example");
    await ok(gql(visited.url, VIEWER, {}, user.token)); // validated at home, cached for ten minutes
    await ok(gql(home.url, REVOKE, { u: user.tokenUuid }, user.token));
    expect(proxy.paths).toContain("/zzzzz/graphql");
    expect(codes(await gql(visited.url, VIEWER, {}, user.token))).toEqual(["UNAUTHENTICATED"]);
  });

  it(`validates one token for at most ${PATTERN_CLUSTERS_PER_TOKEN} such clusters, refusing the next rather than forgetting it`, async () => {
    const user = await createUserWithToken(home, "collector@h.example");
    const ids = Array.from({ length: PATTERN_CLUSTERS_PER_TOKEN + 1 }, (_, i) => `q${String(i).padStart(4, "0")}`);
    const asking = (id: string) => gql(home.url, VIEWER, {}, saltToken(user.token, id), { "x-fedgate-forwarded-for": id });
    for (const id of ids.slice(0, -1)) await ok(asking(id));
    expect(codes(await asking(ids[ids.length - 1]))).toEqual(["UNAUTHENTICATED"]);
    expect(await home.db.prisma.tokenRemoteValidation.count({ where: { tokenUuid: user.tokenUuid } })).toBe(PATTERN_CLUSTERS_PER_TOKEN);
  });
});
