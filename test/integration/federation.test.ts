/**
 * Three real clusters on 127.0.0.1 (aaaaa is the login cluster): salted tokens, validation at
 * the home cluster, caching, revocation push, cluster scopes, routing and batching.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { saltToken } from "../../src/auth/salt";
import { codes, createUserWithToken, gql, ok, startFederation, startTestCluster, type TestCluster } from "../helpers/federation";

let fed: Record<string, TestCluster>;
let a: TestCluster, b: TestCluster, c: TestCluster;
let alice: { uuid: string; token: string; tokenUuid: string };

const VIEWER = `{ viewer { uuid isActive } }`;

async function remoteRequests(cluster: TestCluster, to: string, operation?: string): Promise<number> {
  const text = await (await fetch(`${cluster.url}/metrics`)).text();
  let total = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith("fedgate_remote_requests_total{")) continue;
    if (!line.includes(`cluster="${to}"`) || (operation && !line.includes(`operation="${operation}"`))) continue;
    total += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return total;
}

/**
 * Puts `other` in `home`'s remote-cluster table, as its operator would: a home cluster looks up
 * tokens salted only for clusters it knows.
 */
function introduce(home: TestCluster, other: TestCluster): void {
  home.config.remoteClusters[other.id] = { ...home.config.remoteClusters.bbbbb, url: other.url };
}

async function newToken(cluster: TestCluster, token: string, input: Record<string, unknown> = {}): Promise<{ uuid: string; token: string }> {
  return (await ok(gql(cluster.url, `mutation($i: CreateTokenInput!) { createToken(input: $i) { uuid token } }`, { i: input }, token))).createToken;
}

beforeAll(async () => {
  fed = await startFederation(["aaaaa", "bbbbb", "ccccc"], {
    bbbbb: { loginCluster: "aaaaa" },
    ccccc: { loginCluster: "aaaaa" },
  });
  ({ aaaaa: a, bbbbb: b, ccccc: c } = fed);
  alice = await createUserWithToken(a, "alice@example.org");
});
afterAll(() => Promise.all(Object.values(fed ?? {}).map((x) => x.stop())));

describe("tokens across clusters", () => {
  it("accepts a login-cluster token on the other clusters, as the same user", async () => {
    for (const cl of [b, c]) {
      const r = await ok(gql(cl.url, VIEWER, {}, alice.token));
      expect(r.viewer).toEqual({ uuid: alice.uuid, isActive: true });
    }
  });

  it("accepts a token salted for a cluster there, and refuses it on another", async () => {
    const forB = saltToken(alice.token, "bbbbb");
    expect(forB).not.toBe(alice.token);
    expect((await ok(gql(b.url, VIEWER, {}, forB))).viewer.uuid).toBe(alice.uuid);
    const replayed = await gql(c.url, VIEWER, {}, forB);
    expect(codes(replayed)).toEqual(["UNAUTHENTICATED"]);
  });

  it("lets a salted token make only identity look-ups on its home cluster", async () => {
    const forB = saltToken(alice.token, "bbbbb");
    expect(codes(await gql(a.url, VIEWER, {}, forB))).toEqual(["UNAUTHENTICATED"]);
    const asB = { "x-fedgate-forwarded-for": "bbbbb" };
    expect((await ok(gql(a.url, VIEWER, {}, forB, asB))).viewer.uuid).toBe(alice.uuid);
    const r = await gql(a.url, `{ collections { nodes { uuid } } }`, {}, forB, asB);
    expect(codes(r)).toEqual(["FORBIDDEN"]);
    expect(codes(await gql(a.url, VIEWER, {}, forB, { "x-fedgate-forwarded-for": "ccccc" }))).toEqual(["UNAUTHENTICATED"]);
  });

  it("applies scopes to salted look-ups too, always allowing only the validation minimum", async () => {
    const none = await newToken(a, alice.token, { scopes: [] });
    const LOOKUPS = `{ viewer { uuid } currentToken { uuid } visibleGroups { uuid } visibleSubjects(uuids: ["${alice.uuid}"]) }`;
    // Salted for a cluster that exists nowhere: refused before anything is looked up.
    const nowhere = await gql(a.url, LOOKUPS, {}, saltToken(none.token, "qqqqq"), { "x-fedgate-forwarded-for": "qqqqq" });
    expect(codes(nowhere)).toEqual(["UNAUTHENTICATED"]);
    expect(nowhere.errors![0].message).toContain("qqqqq");
    // Salted for a known cluster: the token and its user, nothing its scopes there do not allow.
    const forB = await gql(a.url, LOOKUPS, {}, saltToken(none.token, "bbbbb"), { "x-fedgate-forwarded-for": "bbbbb" });
    expect(forB.data).toEqual({ viewer: { uuid: alice.uuid }, currentToken: { uuid: none.uuid }, visibleGroups: null, visibleSubjects: null });
    expect(forB.errors!.map((e) => [e.path?.[0], e.extensions?.code])).toEqual([["visibleGroups", "FORBIDDEN"], ["visibleSubjects", "FORBIDDEN"]]);
  });

  it("refuses identity look-ups for a cluster the token's clusterScopes exclude", async () => {
    const onlyB = await newToken(a, alice.token, { clusterScopes: [{ cluster: "bbbbb", scopes: [{ method: "GET", path: "/arvados/v1/users/current" }] }] });
    const forC = await gql(a.url, VIEWER, {}, saltToken(onlyB.token, "ccccc"), { "x-fedgate-forwarded-for": "ccccc" });
    expect(codes(forC)).toEqual(["UNAUTHENTICATED"]);
    expect(forC.errors![0].message).toContain("ccccc");
    expect((await ok(gql(a.url, VIEWER, {}, saltToken(onlyB.token, "bbbbb"), { "x-fedgate-forwarded-for": "bbbbb" }))).viewer.uuid).toBe(alice.uuid);
  });

  it("validates a token whose scopes elsewhere deny its groups, with no home groups", async () => {
    const t = await newToken(a, alice.token, { scopes: [{ method: "GET", path: "/arvados/v1/collections" }] });
    const before = await remoteRequests(c, "aaaaa", "ValidateTokenIdentity");
    expect((await ok(gql(c.url, `{ collections { nodes { uuid } } }`, {}, t.token))).collections.nodes).toEqual(expect.any(Array));
    expect(await remoteRequests(c, "aaaaa", "ValidateTokenIdentity")).toBe(before + 1);
  });

  it("ignores fields after the secret here and on other clusters, validating the token once", async () => {
    const t = await newToken(a, alice.token);
    for (const cl of [a, b]) expect((await ok(gql(cl.url, VIEWER, {}, `${t.token}/foo/bar`))).viewer.uuid).toBe(alice.uuid);
    const before = await remoteRequests(b, "aaaaa", "ValidateToken");
    expect((await ok(gql(b.url, VIEWER, {}, `${t.token}/other/fields`))).viewer.uuid).toBe(alice.uuid);
    expect((await ok(gql(b.url, VIEWER, {}, t.token))).viewer.uuid).toBe(alice.uuid);
    expect(await remoteRequests(b, "aaaaa", "ValidateToken")).toBe(before);
  });

  it("validates a cold token once however many requests use it at the same time", async () => {
    const t = await newToken(a, alice.token);
    const before = await remoteRequests(c, "aaaaa", "ValidateToken");
    const results = await Promise.all(Array.from({ length: 25 }, () => ok(gql(c.url, VIEWER, {}, t.token))));
    expect(results.every((r) => r.viewer.uuid === alice.uuid)).toBe(true);
    expect(await remoteRequests(c, "aaaaa", "ValidateToken")).toBe(before + 1);
  });

  it("remembers a refusal briefly, so a flood of bad tokens costs one remote call", async () => {
    const bad = alice.token.replace(/\/[a-z0-9]+$/, "/" + "q".repeat(50));
    const before = await remoteRequests(b, "aaaaa", "ValidateToken");
    for (let i = 0; i < 10; i++) expect(codes(await gql(b.url, VIEWER, {}, bad))).toEqual(["UNAUTHENTICATED"]);
    expect(await remoteRequests(b, "aaaaa", "ValidateToken")).toBe(before + 1);
  });

  it("stops a revoked token on every cluster that cached it, at once", async () => {
    const t = await newToken(a, alice.token);
    await ok(gql(b.url, VIEWER, {}, t.token));
    await ok(gql(c.url, VIEWER, {}, t.token));
    await ok(gql(a.url, `mutation($u: ID!) { revokeToken(uuid: $u) { uuid } }`, { u: t.uuid }, alice.token));
    for (const cl of [a, b, c]) expect(codes(await gql(cl.url, VIEWER, {}, t.token))).toEqual(["UNAUTHENTICATED"]);
  });

  it("treats a revocation hint as a hint: the token still works if its home says so", async () => {
    const t = await newToken(a, alice.token);
    await ok(gql(b.url, VIEWER, {}, t.token));
    const hint = await ok(gql(b.url, `mutation($u: ID!) { dropCachedToken(uuid: $u) }`, { u: t.uuid }));
    expect(hint.dropCachedToken).toBe(true);
    const before = await remoteRequests(b, "aaaaa", "ValidateToken");
    expect((await ok(gql(b.url, VIEWER, {}, t.token))).viewer.uuid).toBe(alice.uuid);
    expect(await remoteRequests(b, "aaaaa", "ValidateToken")).toBe(before + 1);
  });

  it("lets a scoped token work on other clusters, within its scopes there", async () => {
    const t = await newToken(a, alice.token, { scopes: [{ method: "GET", path: "/arvados/v1/collections" }] });
    const r = await gql(b.url, `{ collections { nodes { uuid } } viewer { uuid } }`, {}, t.token);
    expect(r.data!.collections.nodes).toEqual(expect.any(Array));
    expect(codes(r)).toEqual(["FORBIDDEN"]);
    expect(r.errors![0].path).toEqual(["viewer"]);
  });

  it("creates a token asked for on another cluster at its creator's home: it works there and is revoked with its parent", async () => {
    const parent = await newToken(a, alice.token);
    const before = await remoteRequests(b, "aaaaa", "CreateToken");
    const child = (await ok(gql(b.url, `mutation { createToken(input: { scopes: [{ method: "GET", path: "/arvados/v1/users/current" }] }) { uuid token } }`, {}, parent.token))).createToken;
    expect(await remoteRequests(b, "aaaaa", "CreateToken")).toBe(before + 1);
    expect(child.uuid.slice(0, 5)).toBe("aaaaa");
    expect(await a.db.prisma.apiToken.findUnique({ where: { uuid: child.uuid } })).toMatchObject({ parentUuid: parent.uuid, userUuid: alice.uuid });
    expect(await b.db.prisma.apiToken.findUnique({ where: { uuid: child.uuid } })).toBeNull();
    expect((await ok(gql(b.url, VIEWER, {}, child.token))).viewer.uuid).toBe(alice.uuid);
    await ok(gql(a.url, `mutation($u: ID!) { revokeToken(uuid: $u) { uuid } }`, { u: parent.uuid }, alice.token));
    for (const cl of [a, b]) expect(codes(await gql(cl.url, VIEWER, {}, child.token))).toEqual(["UNAUTHENTICATED"]);
  });

  it("checks a delegated token request at home: never broader than its creator", async () => {
    const creator = await newToken(a, alice.token, { scopes: [{ method: "POST", path: "/arvados/v1/api_client_authorizations" }] });
    const r = await gql(b.url, `mutation { createToken(input: {}) { uuid } }`, {}, creator.token);
    expect(codes(r)).toEqual(["FORBIDDEN"]);
    expect(r.errors![0].message).toContain("broader");
    expect(await a.db.prisma.apiToken.count({ where: { parentUuid: creator.uuid } })).toBe(0);
  });

  it("refuses to create a token from only a salted one, naming its home, and never forwards a delegated request", async () => {
    const salted = await gql(b.url, `mutation { createToken(input: {}) { token } }`, {}, saltToken(alice.token, "bbbbb"));
    expect(codes(salted)).toEqual(["FORBIDDEN"]);
    expect(salted.errors![0].message).toContain("home cluster (aaaaa)");
    const delegated = await gql(b.url, `mutation { createToken(input: {}) { token } }`, {}, alice.token, { "x-fedgate-forwarded-for": "ccccc" });
    expect(codes(delegated)).toEqual(["FORBIDDEN"]);
    expect(delegated.errors![0].message).toContain("not forwarded again");
  });

  it("applies cluster scopes: unlisted clusters refuse, listed ones apply their entry, home its own", async () => {
    const t = await newToken(a, alice.token, {
      clusterScopes: [{ cluster: "bbbbb", scopes: [{ method: "GET", path: "/arvados/v1/users/current" }] }],
    });
    expect((await ok(gql(a.url, `{ viewer { uuid } collections { nodes { uuid } } }`, {}, t.token))).viewer.uuid).toBe(alice.uuid);
    expect((await ok(gql(b.url, VIEWER, {}, t.token))).viewer.uuid).toBe(alice.uuid);
    const limited = await gql(b.url, `{ viewer { uuid } collections { nodes { uuid } } }`, {}, t.token);
    expect(limited.data?.viewer.uuid).toBe(alice.uuid);
    expect(codes(limited)).toEqual(["FORBIDDEN"]);
    const refused = await gql(c.url, VIEWER, {}, t.token);
    expect(codes(refused)).toEqual(["UNAUTHENTICATED"]);
    expect(refused.errors![0].message).toContain("ccccc");
  });

  it("answers UNAVAILABLE within the configured timeout when a cluster hangs, and lists still answer", async () => {
    const hanging = createServer(() => {}); // accepts connections, never answers
    await new Promise<void>((r) => hanging.listen(0, "127.0.0.1", r));
    const hangingUrl = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}`;
    const e = await startTestCluster("eeeee", {
      remoteClusters: { aaaaa: { url: a.url, activateUsers: true }, bbbbb: { url: b.url }, ddddd: { url: hangingUrl, timeoutMs: 300 } },
    });
    introduce(a, e);
    try {
      const daveToken = `v2/ddddd-gj3su-${"d".repeat(15)}/${"s".repeat(50)}`;
      const down = await gql(e.url, VIEWER, {}, daveToken);
      expect(codes(down)).toEqual(["UNAVAILABLE"]);
      expect(down.status).toBe(503);
      expect(down.errors![0].message).toContain("did not answer within 300 ms");
      const list = await gql(e.url, `{ collections(clusters: ["bbbbb", "ddddd"], first: 3) { nodes { uuid } failedClusters { cluster code } } }`, {}, alice.token);
      expect(list.data!.collections.failedClusters).toEqual([{ cluster: "ddddd", code: "UNAVAILABLE" }]);
      expect(list.errors?.map((x) => x.extensions?.cluster)).toEqual(["ddddd"]);
      expect(list.errors![0].message).toBe("cluster ddddd did not answer within 300 ms"); // named once, not "cluster ddddd: cluster ddddd …"
    } finally {
      await e.stop();
      hanging.closeAllConnections();
      hanging.close();
    }
  });
});

describe("remote users", () => {
  it("records a remote user here, active only when config (or the login cluster) says so", async () => {
    const f = await startTestCluster("fffff", { remoteClusters: { aaaaa: { url: a.url, activateUsers: false } } });
    introduce(a, f);
    try {
      const r = await gql(f.url, `{ viewer { uuid email isActive } collections { nodes { uuid } } }`, {}, alice.token);
      expect(r.data!.viewer).toEqual({ uuid: alice.uuid, email: "alice@example.org", isActive: false });
      expect(codes(r)).toEqual(["FORBIDDEN"]);
      const row = await f.db.prisma.user.findUnique({ where: { uuid: alice.uuid } });
      expect(row).toMatchObject({ isActive: false, isAdmin: false });
      expect(row!.validatedAt).toBeInstanceOf(Date);
    } finally {
      await f.stop();
    }
    const onB = await b.db.prisma.user.findUnique({ where: { uuid: alice.uuid } });
    expect(onB).toMatchObject({ isActive: true });
  });
});

describe("admins", () => {
  it("refuses to create an inactive admin", async () => {
    const r = await gql(a.url, `mutation { createUser(input: { email: "ghost-admin@example.org", isAdmin: true, isActive: false }) { uuid } }`, {}, a.rootToken);
    expect(codes(r)).toEqual(["BAD_USER_INPUT"]);
    expect(await a.db.prisma.user.findFirst({ where: { email: "ghost-admin@example.org" } })).toBeNull();
  });

  it("shows a login cluster's admin as an admin on a satellite only while the admin is active", async () => {
    const { createUser } = await a.root(`mutation { createUser(input: { email: "ada@example.org", isAdmin: true }) { uuid } }`);
    const token = (await a.root(`mutation($u: ID) { createToken(input: { userUuid: $u }) { token } }`, { u: createUser.uuid })).createToken.token;
    const { createUser: other } = await a.root(`mutation { createUser(input: { email: "ida@example.org", isAdmin: true }) { uuid } }`);
    const otherToken = (await a.root(`mutation($u: ID) { createToken(input: { userUuid: $u }) { token } }`, { u: other.uuid })).createToken.token;
    // No API makes an admin inactive; a login cluster's database may still hold one (older data).
    await a.db.prisma.user.update({ where: { uuid: createUser.uuid }, data: { isActive: false } });
    const inactive = await ok(gql(b.url, `{ viewer { uuid isActive isAdmin } }`, {}, token));
    expect(inactive.viewer).toEqual({ uuid: createUser.uuid, isActive: false, isAdmin: false });
    expect(await b.db.prisma.user.findUnique({ where: { uuid: createUser.uuid } })).toMatchObject({ isActive: false, isAdmin: false });
    expect((await ok(gql(b.url, `{ viewer { isActive isAdmin } }`, {}, otherToken))).viewer).toEqual({ isActive: true, isAdmin: true });
  });
});

describe("limits", () => {
  let g: TestCluster;
  let gail: { uuid: string; token: string; tokenUuid: string };
  beforeAll(async () => {
    g = await startTestCluster("ggggg", {
      remoteClusters: { aaaaa: { url: a.url, activateUsers: true }, bbbbb: { url: b.url }, ccccc: { url: c.url } },
      tokens: { localCacheSeconds: 0 },
      limits: { remoteValidationsPerMinute: 2, maxRemoteRequests: 1 },
    });
    introduce(a, g);
    gail = await createUserWithToken(g, "gail@example.org");
  });
  afterAll(() => g?.stop());

  it("limits salted look-ups per token and asserted cluster, so one holder cannot block others", async () => {
    const forB = saltToken(gail.token, "bbbbb");
    const asB = { "x-fedgate-forwarded-for": "bbbbb" };
    for (let i = 0; i < 2; i++) expect((await ok(gql(g.url, VIEWER, {}, forB, asB))).viewer.uuid).toBe(gail.uuid);
    const third = await gql(g.url, VIEWER, {}, forB, asB);
    expect(codes(third)).toEqual(["UNAVAILABLE"]);
    const other = await createUserWithToken(g, "other@example.org");
    expect((await ok(gql(g.url, VIEWER, {}, saltToken(other.token, "bbbbb"), asB))).viewer.uuid).toBe(other.uuid);
  });

  it("bounds the remote requests one request may cause", async () => {
    const r = await gql(g.url, `{ collections(clusters: ["bbbbb", "ccccc"]) { nodes { uuid } failedClusters { cluster code message } } }`, {}, alice.token);
    expect(r.data!.collections.failedClusters).toHaveLength(1);
    expect(r.data!.collections.failedClusters[0]).toMatchObject({ code: "UNAVAILABLE", message: expect.stringContaining("more than 1 requests") });
  });
});

describe("routing and batching", () => {
  let projectB: string;
  const bUuids: string[] = [];
  const cUuids: string[] = [];

  beforeAll(async () => {
    projectB = (await ok(gql(b.url, `mutation { createGroup(input: { name: "alice-on-b", groupClass: "project" }) { uuid } }`, {}, alice.token))).createGroup.uuid;
    const make = (cl: TestCluster, n: number, into: string[]) =>
      Promise.all(Array.from({ length: n }, async (_, i) => {
        const r = await ok(gql(cl.url, `mutation($n: String!) { createCollection(input: { name: $n }) { uuid } }`, { n: `${cl.id}-${i}` }, alice.token));
        into.push(r.createCollection.uuid);
      }));
    await make(b, 100, bUuids);
    await make(c, 100, cUuids);
  });

  it("creates, reads, updates and deletes a collection in a project on another cluster", async () => {
    const created = await ok(gql(a.url, `mutation($o: ID) { createCollection(input: { name: "from-a", ownerUuid: $o }) { uuid cluster ownerUuid } }`, { o: projectB }, alice.token));
    expect(created.createCollection).toMatchObject({ cluster: "bbbbb", ownerUuid: projectB });
    const uuid = created.createCollection.uuid;
    expect((await ok(gql(b.url, `query($u: ID!) { collection(uuid: $u) { name } }`, { u: uuid }, alice.token))).collection.name).toBe("from-a");
    await ok(gql(a.url, `mutation($u: ID!) { updateCollection(uuid: $u, input: { name: "renamed" }) { name } }`, { u: uuid }, alice.token));
    expect((await ok(gql(a.url, `query($u: ID!) { collection(uuid: $u) { name } }`, { u: uuid }, alice.token))).collection.name).toBe("renamed");
    const contents = await ok(gql(a.url, `query($u: ID!) { project(uuid: $u) { name contents { nodes { ... on Collection { uuid } } } } }`, { u: projectB }, alice.token));
    expect(contents.project.name).toBe("alice-on-b");
    expect(contents.project.contents.nodes).toEqual([{ uuid }]);
    await ok(gql(a.url, `mutation($u: ID!) { deleteCollection(uuid: $u) { uuid } }`, { u: uuid }, alice.token));
    expect(codes(await gql(a.url, `query($u: ID!) { collection(uuid: $u) { name } }`, { u: uuid }, alice.token))).toEqual(["NOT_FOUND"]);
  });

  it("reads a user and a group of another cluster from that cluster", async () => {
    const r = await gql(b.url, `query($u: ID!, $g: ID!) { user(uuid: $u) { uuid email cluster } group(uuid: $g) { name cluster } }`, { u: alice.uuid, g: projectB }, alice.token, { "x-fedgate-stats": "1" });
    expect(r.errors).toBeUndefined();
    expect(r.data!.user).toEqual({ uuid: alice.uuid, email: "alice@example.org", cluster: "aaaaa" });
    expect(r.data!.group).toEqual({ name: "alice-on-b", cluster: "bbbbb" });
    expect(r.extensions!.fedgate.remoteRequests).toEqual({ aaaaa: 1 });
  });

  it("lets a token scoped to a remote project's contents list them through another cluster", async () => {
    const inside = await ok(gql(b.url, `mutation($o: ID) { createCollection(input: { name: "in-b-project", ownerUuid: $o }) { uuid } }`, { o: projectB }, alice.token));
    const t = await newToken(a, alice.token, { scopes: [{ method: "GET", path: `/arvados/v1/groups/${projectB}/contents` }] });
    const r = await ok(gql(a.url, `query($u: ID!) { project(uuid: $u) { uuid cluster contents { nodes { ... on Collection { uuid } } } } }`, { u: projectB }, t.token));
    expect(r.project.cluster).toBe("bbbbb");
    expect(r.project.contents.nodes).toEqual(expect.arrayContaining([{ uuid: inside.createCollection.uuid }]));
    expect(codes(await gql(a.url, `query($u: ID!) { project(uuid: $u) { name } }`, { u: projectB }, t.token))).toEqual(["FORBIDDEN"]);
  });

  it("reads 200 objects on 2 remote clusters with exactly 2 remote requests", async () => {
    const fields = [...bUuids, ...cUuids].map((u, i) => `c${i}: collection(uuid: "${u}") { uuid name }`).join("\n");
    const beforeB = await remoteRequests(a, "bbbbb");
    const beforeC = await remoteRequests(a, "ccccc");
    const r = await gql(a.url, `{ ${fields} }`, {}, alice.token, { "x-fedgate-stats": "1" });
    expect(r.errors).toBeUndefined();
    expect(Object.keys(r.data!)).toHaveLength(200);
    expect(r.data!.c0.uuid).toBe(bUuids[0]);
    expect(r.extensions!.fedgate.remoteRequests).toEqual({ bbbbb: 1, ccccc: 1 });
    expect(await remoteRequests(a, "bbbbb")).toBe(beforeB + 1);
    expect(await remoteRequests(a, "ccccc")).toBe(beforeC + 1);
  });

  it("pages a federated list across clusters in one stable order, each item once", async () => {
    const seen: string[] = [];
    let after: string | null = null;
    for (let guard = 0; guard < 50; guard++) {
      const r: any = await ok(gql(a.url, `query($a: String) { collections(clusters: ["aaaaa", "bbbbb", "ccccc"], first: 30, after: $a) { nodes { uuid } pageInfo { endCursor hasNextPage } failedClusters { cluster } } }`, { a: after }, alice.token));
      seen.push(...r.collections.nodes.map((n: { uuid: string }) => n.uuid));
      expect(r.collections.failedClusters).toEqual([]);
      if (!r.collections.pageInfo.hasNextPage) break;
      after = r.collections.pageInfo.endCursor;
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual([...seen].sort());
    expect(seen).toEqual(expect.arrayContaining([...bUuids, ...cUuids]));
  });

  it("reports a failing cluster per cluster and still returns the others", async () => {
    const r = await gql(a.url, `{ collections(clusters: ["bbbbb", "zzzzz"], first: 5) { nodes { uuid } failedClusters { cluster code } } }`, {}, alice.token);
    expect(r.data!.collections.nodes).toHaveLength(5);
    expect(r.data!.collections.failedClusters).toEqual([{ cluster: "zzzzz", code: "NOT_FOUND" }]);
    expect(r.errors?.map((e) => e.extensions?.cluster)).toEqual(["zzzzz"]);
  });

  it("never forwards a request that another cluster delegated", async () => {
    const r = await gql(b.url, `query($u: ID!) { collection(uuid: $u) { uuid } }`, { u: cUuids[0] }, alice.token, { "x-fedgate-forwarded-for": "aaaaa" });
    expect(codes(r)).toEqual(["FORBIDDEN"]);
  });
});
