/**
 * Revocation hints that always arrive: however many tokens a revocation covers (a thief's
 * 2,001 children), while the remote cluster is unreachable (retried until it is back), and
 * when a user loses a group membership at home (the remote cluster stops honouring it).
 */
import { createServer as createHttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createServer, connect, type Server, type Socket } from "node:net";
import { saltToken } from "../../src/auth/salt";
import { codes, createUserWithToken, freePort, gql, ok, startFederation, startTestCluster, type TestCluster } from "../helpers/federation";

const VIEWER = `{ viewer { uuid } }`;
const REVOKE = `mutation($u: ID!) { revokeToken(uuid: $u) { uuid } }`;
const CREATE = `mutation { createToken(input: {}) { uuid token } }`;

type Token = { uuid: string; token: string };

async function remoteRequests(cluster: TestCluster, to: string, operation: string): Promise<number> {
  const text = await (await fetch(`${cluster.url}/metrics`)).text();
  let total = 0;
  for (const line of text.split("\n"))
    if (line.startsWith("fedgate_remote_requests_total{") && line.includes(`cluster="${to}"`) && line.includes(`operation="${operation}"`))
      total += Number(line.slice(line.lastIndexOf(" ") + 1));
  return total;
}

/** Runs `f` on every item, `width` at a time; returns the results in order. */
async function eachLimited<T, R>(items: T[], width: number, f: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]);
    }
  }));
  return out;
}

async function pendingHints(cluster: TestCluster): Promise<number> {
  return cluster.db.prisma.revocationHint.count();
}

/** Waits until `cluster` has no hint left to deliver (the test's timeout bounds the wait). */
async function untilDelivered(cluster: TestCluster): Promise<void> {
  while ((await pendingHints(cluster)) > 0) await new Promise((r) => setTimeout(r, 50));
}

/** A TCP relay to `to`: closing it makes the cluster behind it unreachable, keeping its state. */
async function relay(port: number, to: number): Promise<{ close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(to, "127.0.0.1");
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => s.destroy());
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  return {
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        for (const s of sockets) s.destroy();
      }),
  };
}

describe("a revocation covering 2,001 children", () => {
  let fed: Record<string, TestCluster>;
  let a: TestCluster, b: TestCluster;

  beforeAll(async () => {
    fed = await startFederation(["aaaaa", "bbbbb"]);
    ({ aaaaa: a, bbbbb: b } = fed);
  });
  afterAll(() => Promise.all(Object.values(fed ?? {}).map((x) => x.stop())));

  it("reaches the remote cluster in chunks of at most 200, and every child is refused there at once", async () => {
    const owner = await createUserWithToken(a, "owner@a.example");
    const stolen: Token = (await ok(gql(a.url, CREATE, {}, owner.token))).createToken;
    // The thief mints 2,001 children through the API, 25 to a request (within the database-time budget).
    const children: Token[] = [];
    for (let left = 2001; left > 0; left -= 25) {
      const fields = Array.from({ length: Math.min(25, left) }, (_, i) => `c${i}: createToken(input: {}) { uuid token }`).join(" ");
      children.push(...Object.values(await ok(gql(a.url, `mutation { ${fields} }`, {}, stolen.token))) as Token[]);
    }
    expect(children).toHaveLength(2001);
    const all = [stolen, ...children];
    // Every one of them validated on bbbbb, which caches it.
    const used = await eachLimited(all, 16, (t) => gql(b.url, VIEWER, {}, t.token));
    expect(used.filter((r) => r.errors).map((r) => r.errors)).toEqual([]);

    const hintsBefore = await remoteRequests(a, "bbbbb", "DropCachedTokens");
    await ok(gql(a.url, REVOKE, { u: stolen.uuid }, owner.token));
    expect(await remoteRequests(a, "bbbbb", "DropCachedTokens")).toBe(hintsBefore + Math.ceil(all.length / 200));
    expect(await pendingHints(a)).toBe(0);

    const after = await eachLimited(all, 16, (t) => gql(b.url, VIEWER, {}, t.token));
    expect(after.filter((r) => codes(r).join() !== "UNAUTHENTICATED")).toEqual([]);
  }, 900_000);

  it("takes a list of uuids, refusing a malformed one without dropping any", async () => {
    const r = await gql(b.url, `mutation($u: [ID!]!) { dropCachedTokens(uuids: $u) }`, { u: ["aaaaa-gj3su-000000000000001", "nonsense"] });
    expect(codes(r)).toEqual(["BAD_USER_INPUT"]);
    const fine = await ok(gql(b.url, `mutation($u: [ID!]!) { dropCachedTokens(uuids: $u) }`, { u: ["aaaaa-gj3su-000000000000001"] }));
    expect(fine.dropCachedTokens).toBe(1);
  });
});

describe("a remote cluster that is down during the revocation", () => {
  // home vouches for tokens to remote; home reaches remote through a relay that can be cut.
  let home: TestCluster, remote: TestCluster;
  let remotePort: number, relayPort: number;
  let cut: { close(): Promise<void> } | undefined;
  const remoteConfig = (homeUrl: string) => ({ remoteClusters: { hhhhh: { url: homeUrl, activateUsers: true } } });

  beforeAll(async () => {
    const [homePort, rp, xp] = await Promise.all([freePort(), freePort(), freePort()]);
    remotePort = rp;
    relayPort = xp;
    cut = await relay(relayPort, remotePort);
    [home, remote] = await Promise.all([
      startTestCluster(
        "hhhhh",
        {
          remoteClusters: { rrrrr: { url: `http://127.0.0.1:${relayPort}`, timeoutMs: 1000 } },
          federation: { hintRetrySeconds: 0.1, hintMaxBackoffSeconds: 0.4 },
        },
        homePort,
      ),
      startTestCluster("rrrrr", remoteConfig(`http://127.0.0.1:${homePort}`), remotePort),
    ]);
  });
  afterAll(async () => {
    await cut?.close();
    await Promise.all([home?.stop(), remote?.stop()]);
  });

  async function usedRemotely(): Promise<{ owner: { token: string }; t: Token }> {
    const owner = await createUserWithToken(home, `u${Math.random().toString(36).slice(2)}@h.example`);
    const t: Token = (await ok(gql(home.url, CREATE, {}, owner.token))).createToken;
    await ok(gql(remote.url, VIEWER, {}, t.token));
    return { owner, t };
  }

  it("gets the hint once it is reachable again, and the token stops working there", async () => {
    const { owner, t } = await usedRemotely();
    await cut!.close();
    await ok(gql(home.url, REVOKE, { u: t.uuid }, owner.token));
    // The hint did not arrive: the remote cluster still answers from its cache, and the hint waits.
    expect((await ok(gql(remote.url, VIEWER, {}, t.token))).viewer).toBeTruthy();
    expect(await pendingHints(home)).toBe(1);
    cut = await relay(relayPort, remotePort);
    await untilDelivered(home);
    expect(codes(await gql(remote.url, VIEWER, {}, t.token))).toEqual(["UNAUTHENTICATED"]);
  });

  it("delivers it to the cluster restarted on the same port", async () => {
    const { owner, t } = await usedRemotely();
    await remote.stop();
    await ok(gql(home.url, REVOKE, { u: t.uuid }, owner.token));
    expect(await pendingHints(home)).toBe(1);
    const before = await remoteRequests(home, "rrrrr", "DropCachedTokens");
    remote = await startTestCluster("rrrrr", remoteConfig(home.url), remotePort);
    await untilDelivered(home);
    expect(await remoteRequests(home, "rrrrr", "DropCachedTokens")).toBeGreaterThan(before);
    expect(codes(await gql(remote.url, VIEWER, {}, t.token))).toEqual(["UNAUTHENTICATED"]);
  });

  it("drops a hint once it is moot (the token has expired), delivered or not", async () => {
    const { owner, t } = await usedRemotely();
    await cut!.close();
    await ok(gql(home.url, REVOKE, { u: t.uuid }, owner.token));
    expect(await pendingHints(home)).toBe(1);
    // As if the token's expiry had passed meanwhile.
    await home.db.prisma.revocationHint.updateMany({ data: { dropAfter: new Date(Date.now() - 1000) } });
    await untilDelivered(home);
    cut = await relay(relayPort, remotePort);
  });
});

(process.env.DATABASE_URL ? describe : describe.skip)("two processes of one cluster on one PostgreSQL database (PostgreSQL only: set DATABASE_URL)", () => {
  // A stand-in for cluster sssss that records the hints it gets, and refuses them while down.
  const received: string[] = [];
  let down = true;
  const stub = createHttpServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      const { variables } = JSON.parse(body) as { variables: { uuids: string[] } };
      res.setHeader("content-type", "application/json");
      if (down) {
        res.writeHead(503).end(JSON.stringify({ errors: [{ message: "down", extensions: { code: "UNAVAILABLE" } }] }));
        return;
      }
      // Answer a little later, so the two processes' deliveries overlap.
      setTimeout(() => {
        received.push(...variables.uuids);
        res.end(JSON.stringify({ data: { dropCachedTokens: variables.uuids.length } }));
      }, 20);
    });
  });
  let one: TestCluster, two: TestCluster;

  beforeAll(async () => {
    await new Promise<void>((r) => stub.listen(0, "127.0.0.1", r));
    const options = {
      remoteClusters: { sssss: { url: `http://127.0.0.1:${(stub.address() as AddressInfo).port}` } },
      federation: { hintRetrySeconds: 0.05, hintMaxBackoffSeconds: 0.1 },
    };
    one = await startTestCluster("ppppp", options);
    two = await startTestCluster("ppppp", { ...options, databaseUrl: one.config.databaseUrl });
  });
  afterAll(async () => {
    await Promise.all([two?.stop(), one?.stop()]);
    stub.close();
  });

  it("share the queue: every hint is delivered, none twice", async () => {
    const owner = await createUserWithToken(one, "owner@p.example");
    const stolen: Token = (await ok(gql(one.url, CREATE, {}, owner.token))).createToken;
    const fields = Array.from({ length: 25 }, (_, i) => `c${i}: createToken(input: {}) { uuid token }`).join(" ");
    const children: Token[] = [];
    for (let i = 0; i < 36; i++) children.push(...Object.values(await ok(gql(one.url, `mutation { ${fields} }`, {}, stolen.token))) as Token[]);
    // sssss validates each of them, salted, at one process or the other.
    const all = [stolen, ...children];
    await eachLimited(all, 8, (t) => ok(gql((all.indexOf(t) % 2 ? two : one).url, VIEWER, {}, saltToken(t.token, "sssss"), { "x-fedgate-forwarded-for": "sssss" })));

    await ok(gql(one.url, REVOKE, { u: stolen.uuid }, owner.token));
    expect(await pendingHints(one)).toBe(all.length);
    down = false; // both processes' workers now drain the queue at once
    await untilDelivered(one);
    expect(received.length).toBe(all.length);
    expect(new Set(received)).toEqual(new Set(all.map((t) => t.uuid)));
  }, 300_000);
});

describe("a group membership removed or lowered at home", () => {
  let fed: Record<string, TestCluster>;
  let a: TestCluster, b: TestCluster;
  const GRANT = `mutation($h: ID!, $t: ID!, $l: String!) { grantPermission(headUuid: $h, tailUuid: $t, level: $l) { uuid } }`;
  const PROJECT = `query($u: ID!) { project(uuid: $u) { name } }`;

  beforeAll(async () => {
    fed = await startFederation(["aaaaa", "bbbbb"]);
    ({ aaaaa: a, bbbbb: b } = fed);
  });
  afterAll(() => Promise.all(Object.values(fed ?? {}).map((x) => x.stop())));

  /** A role group on aaaaa with `level` on a new project on bbbbb, and a member holding `memberLevel` in it. */
  async function sharedThroughGroup(name: string, level: string, memberLevel: string) {
    const alice = await createUserWithToken(a, `alice-${name}@a.example`);
    const amy = await createUserWithToken(a, `amy-${name}@a.example`);
    const team = (await a.root(`mutation($n: String!) { createGroup(input: { name: $n, groupClass: "role" }) { uuid } }`, { n: name })).createGroup.uuid;
    await a.root(GRANT, { h: team, t: alice.uuid, l: "can_manage" });
    const membership = (await a.root(GRANT, { h: team, t: amy.uuid, l: memberLevel })).grantPermission.uuid;
    const project = (await ok(gql(b.url, `mutation($n: String!) { createGroup(input: { name: $n, groupClass: "project" }) { uuid } }`, { n: name }, alice.token))).createGroup.uuid;
    await ok(gql(a.url, GRANT, { h: project, t: team, l: level }, alice.token));
    return { amy, membership, project };
  }

  it("stops giving access through a removed membership on the other cluster at once", async () => {
    const { amy, membership, project } = await sharedThroughGroup("team-removed", "can_read", "can_read");
    expect((await ok(gql(b.url, PROJECT, { u: project }, amy.token))).project.name).toBe("team-removed");
    await a.root(`mutation($u: ID!) { revokePermission(uuid: $u) { uuid } }`, { u: membership });
    expect(codes(await gql(b.url, PROJECT, { u: project }, amy.token))).toEqual(["NOT_FOUND"]);
  });

  it("stops giving the higher level through a lowered membership on the other cluster at once", async () => {
    const { amy, membership, project } = await sharedThroughGroup("team-lowered", "can_write", "can_write");
    const RENAME = `mutation($u: ID!, $n: String!) { updateGroup(uuid: $u, input: { name: $n }) { name } }`;
    expect((await ok(gql(b.url, RENAME, { u: project, n: "renamed" }, amy.token))).updateGroup.name).toBe("renamed");
    await a.root(`mutation($u: ID!) { updatePermission(uuid: $u, level: "can_read") { uuid } }`, { u: membership });
    expect(codes(await gql(b.url, RENAME, { u: project, n: "again" }, amy.token))).toEqual(["FORBIDDEN"]);
    expect((await ok(gql(b.url, PROJECT, { u: project }, amy.token))).project.name).toBe("renamed");
  });
});
