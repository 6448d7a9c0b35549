/**
 * Container requests and containers through another cluster's fedgate: one created on A to run
 * on B lives on B; A routes look-ups by uuid, follows `container` there, lists both clusters'
 * requests in one federated page (a cluster that fails is reported in failedClusters), and a
 * dispatcher on B sees the container as B's.
 */
import { codes, createUserWithToken, gql, ok, startFederation, type TestCluster } from "../helpers/federation";

let fed: Record<string, TestCluster>;
let alice: { uuid: string; token: string; tokenUuid: string };

const CR = `uuid cluster state containerUuid hasRuntimeToken runtimeClusterScopes createdAt container { uuid cluster state priority runtimeUserUuid runtimeAuthScopes { method path } command mounts }`;
const spec = (tag: string) => ({
  command: ["echo", tag], containerImage: "img", outputPath: "/out", mounts: { "/out": { kind: "tmp" } },
  runtimeConstraints: { vcpus: 1, ram: 1024 }, state: "Committed", priority: 5,
});

beforeAll(async () => {
  fed = await startFederation(["aaaaa", "bbbbb"]);
  alice = await createUserWithToken(fed.aaaaa, "alice@example.org");
});
afterAll(() => Promise.all(Object.values(fed ?? {}).map((c) => c.stop())));

it("creates a request on another cluster, reads it and its container through either, and lists both clusters' requests", async () => {
  const { aaaaa: a, bbbbb: b } = fed;
  const create = `mutation($i: CreateContainerRequestInput!, $c: String) { createContainerRequest(input: $i, cluster: $c) { ${CR} } }`;
  const here = (await ok(gql(a.url, create, { i: spec("here") }, alice.token))).createContainerRequest;
  const there = (await ok(gql(a.url, create, { i: { ...spec("there"), runtimeClusterScopes: [{ cluster: "aaaaa", scopes: [{ method: "GET", path: "/arvados/v1/collections/" }] }] }, c: "bbbbb" }, alice.token))).createContainerRequest;
  expect(here.uuid.startsWith("aaaaa-xvhdp-")).toBe(true);
  // Delegated without a runtime token: aaaaa minted one from alice's (C2), so bbbbb holds one.
  expect(there).toMatchObject({ cluster: "bbbbb", state: "Committed", hasRuntimeToken: true, runtimeClusterScopes: { aaaaa: [["GET", "/arvados/v1/collections/"]] } });
  expect(there.container).toMatchObject({ cluster: "bbbbb", state: "Queued", priority: 5, runtimeUserUuid: alice.uuid, command: ["echo", "there"], mounts: { "/out": { kind: "tmp" } } });

  const read = await ok(gql(a.url, `query($u: ID!, $c: ID!) { containerRequest(uuid: $u) { ${CR} } container(uuid: $c) { uuid cluster } }`, { u: there.uuid, c: there.containerUuid }, alice.token));
  expect(read.containerRequest).toEqual(there);
  expect(read.container).toEqual({ uuid: there.containerUuid, cluster: "bbbbb" });

  const list = `query($c: [String!]) { containerRequests(clusters: $c, first: 100) { nodes { uuid } failedClusters { cluster code } } }`;
  const both = (await ok(gql(a.url, list, { c: ["aaaaa", "bbbbb"] }, alice.token))).containerRequests;
  expect(both.nodes.map((n: { uuid: string }) => n.uuid)).toEqual([here.uuid, there.uuid]);
  const unreachable = await gql(a.url, list, { c: ["aaaaa", "qqqqq"] }, alice.token);
  expect(unreachable.data.containerRequests.nodes.map((n: { uuid: string }) => n.uuid)).toEqual([here.uuid]);
  expect(unreachable.data.containerRequests.failedClusters.map((f: { cluster: string }) => f.cluster)).toEqual(["qqqqq"]);

  // B's dispatcher sees it in B's queue; a lock through A is B's lock.
  const queue = (await ok(gql(b.url, `{ containers(state: "Queued", first: 100) { nodes { uuid } } }`, {}, b.rootToken))).containers;
  expect(queue.nodes.map((n: { uuid: string }) => n.uuid)).toContain(there.containerUuid);
  expect(codes(await gql(a.url, `mutation($u: ID!) { lockContainer(uuid: $u) { uuid } }`, { u: there.containerUuid }, a.rootToken))).toEqual(["FORBIDDEN"]);
});

it("validates a runtime token of another cluster at its home: a revoked or forged one creates nothing", async () => {
  const { aaaaa: a, bbbbb: b } = fed;
  const mint = async () => (await ok(gql(a.url, `mutation { createToken(input: {}) { uuid token } }`, {}, alice.token))).createToken;
  const good = await mint();
  const revoked = await mint();
  await ok(gql(a.url, `mutation($u: ID!) { revokeToken(uuid: $u) { uuid } }`, { u: revoked.uuid }, alice.token));
  const create = `mutation($i: CreateContainerRequestInput!, $c: String) { createContainerRequest(input: $i, cluster: $c) { uuid hasRuntimeToken container { runtimeUserUuid } } }`;
  const before = await b.db.prisma.containerRequest.count();
  for (const [url, cluster] of [[b.url, null], [a.url, "bbbbb"]] as const)
    for (const runtimeToken of [revoked.token, `${good.token.slice(0, -4)}zzzz`]) {
      const r = await gql(url, create, { i: { ...spec("refused"), runtimeToken }, c: cluster }, alice.token);
      expect(codes(r)).toEqual(["BAD_USER_INPUT"]);
      expect(r.errors![0].message).toMatch(/runtimeToken: /);
    }
  expect(await b.db.prisma.containerRequest.count()).toBe(before);
  const accepted = (await ok(gql(b.url, create, { i: { ...spec("accepted"), runtimeToken: good.token } }, alice.token))).createContainerRequest;
  expect(accepted).toMatchObject({ hasRuntimeToken: true, container: { runtimeUserUuid: alice.uuid } });
  const stored = await b.db.prisma.containerRequest.findUnique({ where: { uuid: accepted.uuid } });
  expect(stored!.runtimeTokenUuid).toBe(good.uuid);
});
