/**
 * Runtime tokens across three real clusters: a request made on aaaaa to run on bbbbb gets a
 * runtime token minted at aaaaa (only its salted form reaches bbbbb), and its container a
 * child of it minted at aaaaa on bbbbb's request. That token reads its input on aaaaa and
 * nothing else there, does its work on bbbbb, is refused on ccccc, and is refused everywhere
 * once the container ends. The home's mint refuses what a lying peer could ask.
 */
import { saltToken } from "../../src/auth/salt";
import { parseToken } from "../../src/auth/tokenString";
import { FORWARDED_HEADER } from "../../src/federation/transport";
import { codes, createUserWithToken, gql, ok, startFederation, type GqlResult, type TestCluster } from "../helpers/federation";

type User = { uuid: string; token: string; tokenUuid: string };
let fed: Record<string, TestCluster>;
let a: TestCluster;
let b: TestCluster;
let c: TestCluster;
let alice: User;
let dispatcher: User;
let input: string;
let other: string;

const CR = `uuid cluster state containerUuid hasRuntimeToken`;
const CREATE = `mutation($i: CreateContainerRequestInput!, $c: String) { createContainerRequest(input: $i, cluster: $c) { ${CR} } }`;
const AUTH = `query($u: ID!) { containerAuth(uuid: $u) { uuid token expiresAt scopes { method path } clusterScopes } }`;
const UPDATE_CT = `mutation($u: ID!, $i: UpdateContainerInput!) { updateContainer(uuid: $u, input: $i) { uuid state } }`;
const COLLECTION = `query($u: ID!) { collection(uuid: $u) { uuid name } }`;
const CREATE_COLLECTION = `mutation($n: String!) { createCollection(input: { name: $n }) { uuid } }`;
const MINT = `mutation($i: MintContainerTokenInput!) { mintContainerToken(input: $i) { uuid token expiresAt clusterScopes } }`;
const REVOKE = `mutation($u: ID!) { revokeContainerToken(uuid: $u) { uuid revokedAt } }`;

const spec = (tag: string, mounts: Record<string, unknown>) => ({
  command: ["cat", "/in/x"], containerImage: "img", outputPath: "/out", mounts: { "/out": { kind: "tmp" }, ...mounts },
  runtimeConstraints: { vcpus: 1, ram: 1024 }, environment: { TAG: tag }, state: "Committed", priority: 5,
});

async function collectionOn(cl: TestCluster, token: string, name: string): Promise<string> {
  return (await ok(gql(cl.url, CREATE_COLLECTION, { n: name }, token))).createCollection.uuid;
}

function expectCode(r: GqlResult, code: string) {
  expect(codes(r)).toEqual([code]);
  expect(r.data?.collection ?? r.data?.createCollection ?? null).toBeNull();
}

/** A request made on aaaaa to run on bbbbb, locked and Running by bbbbb's dispatcher: its container and token. */
async function runOnB(tag: string, extra: Record<string, unknown> = {}) {
  const cr = (await ok(gql(a.url, CREATE, { i: { ...spec(tag, { "/in": { kind: "collection", uuid: input } }), ...extra }, c: "bbbbb" }, alice.token))).createContainerRequest;
  await ok(gql(b.url, `mutation($u: ID!) { lockContainer(uuid: $u) { uuid } }`, { u: cr.containerUuid }, dispatcher.token));
  const auth = (await ok(gql(b.url, AUTH, { u: cr.containerUuid }, dispatcher.token))).containerAuth;
  await ok(gql(b.url, UPDATE_CT, { u: cr.containerUuid, i: { state: "Running" } }, auth.token));
  return { cr, auth };
}

beforeAll(async () => {
  fed = await startFederation(["aaaaa", "bbbbb", "ccccc"], { aaaaa: { containers: { maxDispatchAttempts: 10, runtimeTokenTTL: 3600 } } });
  ({ aaaaa: a, bbbbb: b, ccccc: c } = fed);
  alice = await createUserWithToken(a, "alice@example.org");
  const { createUser } = await b.root(`mutation { createUser(input: { email: "dispatch@b", isAdmin: true }) { uuid } }`);
  const { createToken } = await b.root(`mutation($u: ID!) { createToken(input: { userUuid: $u }) { uuid token } }`, { u: createUser.uuid });
  dispatcher = { uuid: createUser.uuid, token: createToken.token, tokenUuid: createToken.uuid };
  input = await collectionOn(a, alice.token, "input");
  other = await collectionOn(a, alice.token, "other");
});
afterAll(() => Promise.all(Object.values(fed ?? {}).map((cl) => cl.stop())));

it("runs a request from aaaaa on bbbbb with a child token minted at aaaaa: reads its input there and nothing more, refused on ccccc, dead everywhere at the end", async () => {
  const { cr, auth } = await runOnB("main");
  expect(cr).toMatchObject({ cluster: "bbbbb", state: "Committed", hasRuntimeToken: true });
  const parsed = parseToken(auth.token)!;
  expect(parsed.uuid.startsWith("aaaaa-gj3su-")).toBe(true);
  expect(parsed.containerUuid).toBe(cr.containerUuid);
  expect(Object.keys(auth.clusterScopes).sort()).toEqual(["aaaaa", "bbbbb"]);
  expect(auth.clusterScopes.aaaaa).toEqual([["GET", `/arvados/v1/collections/${input}`]]);

  // At aaaaa: the child of a runtime token minted from alice's, bound to bbbbb's container, audited.
  const child = await a.db.prisma.apiToken.findUnique({ where: { uuid: parsed.uuid } });
  const runtime = await a.db.prisma.apiToken.findUnique({ where: { uuid: child!.parentUuid! } });
  expect(child).toMatchObject({ containerUuid: cr.containerUuid, userUuid: alice.uuid, revokedAt: null });
  expect(runtime).toMatchObject({ parentUuid: alice.tokenUuid, containerUuid: null });
  expect(child!.expiresAt!.getTime()).toBeLessThanOrEqual(Date.now() + 3600_000);
  expect(await a.db.prisma.auditLog.count({ where: { eventType: "container_token_mint", objectUuid: parsed.uuid } })).toBe(1);
  // bbbbb holds the runtime token only salted for itself, and never alice's own.
  const rowB = await b.db.prisma.containerRequest.findUnique({ where: { uuid: cr.uuid } });
  expect(rowB!.runtimeTokenUuid).toBe(runtime!.uuid);

  // Where it runs: its own record, current, its log.
  expect((await ok(gql(b.url, `{ currentContainer { uuid state } }`, {}, auth.token))).currentContainer).toEqual({ uuid: cr.containerUuid, state: "Running" });
  const log = await collectionOn(b, auth.token, "log");
  expect(log.startsWith("bbbbb-4zz18-")).toBe(true);

  // On aaaaa, directly and through bbbbb: its input, and nothing else.
  for (const url of [a.url, b.url]) {
    expect((await ok(gql(url, COLLECTION, { u: input }, auth.token))).collection).toEqual({ uuid: input, name: "input" });
    expect((await gql(url, COLLECTION, { u: other }, auth.token)).data?.collection ?? null).toBeNull();
  }
  expectCode(await gql(a.url, COLLECTION, { u: other }, auth.token), "FORBIDDEN");
  expectCode(await gql(a.url, CREATE_COLLECTION, { n: "exfiltrate" }, auth.token), "FORBIDDEN");
  expect(codes(await gql(a.url, `mutation { createToken(input: {}) { token } }`, {}, auth.token))).toEqual(["FORBIDDEN"]);
  // ccccc is in none of its cluster scopes.
  expect(codes(await gql(c.url, `{ currentToken { uuid } }`, {}, auth.token))).toEqual(["UNAUTHENTICATED"]);

  await ok(gql(b.url, UPDATE_CT, { u: cr.containerUuid, i: { state: "Complete", exitCode: 0 } }, auth.token));
  expect((await a.db.prisma.apiToken.findUnique({ where: { uuid: parsed.uuid } }))!.revokedAt).not.toBeNull();
  expect(await a.db.prisma.auditLog.count({ where: { eventType: "revoke", objectUuid: parsed.uuid, actorUuid: alice.uuid } })).toBe(1);
  for (const [url, query, vars] of [
    [b.url, `{ currentContainer { uuid } }`, {}], [a.url, COLLECTION, { u: input }], [b.url, COLLECTION, { u: input }], [c.url, `{ currentToken { uuid } }`, {}],
  ] as const) expect(codes(await gql(url, query, vars, auth.token))).toEqual(["UNAUTHENTICATED"]);
});

it("narrows the container's token by runtimeClusterScopes and revokes its child at aaaaa when it is unlocked", async () => {
  const cr = (await ok(gql(a.url, CREATE, {
    i: { ...spec("narrow", { "/in": { kind: "collection", uuid: input }, "/in2": { kind: "collection", uuid: other } }), runtimeClusterScopes: [{ cluster: "aaaaa", scopes: [{ method: "GET", path: `/arvados/v1/collections/${other}` }] }] },
    c: "bbbbb",
  }, alice.token))).createContainerRequest;
  await ok(gql(b.url, `mutation($u: ID!) { lockContainer(uuid: $u) { uuid } }`, { u: cr.containerUuid }, dispatcher.token));
  const auth = (await ok(gql(b.url, AUTH, { u: cr.containerUuid }, dispatcher.token))).containerAuth;
  expect(auth.clusterScopes.aaaaa).toEqual([["GET", `/arvados/v1/collections/${other}`]]);
  expect((await ok(gql(a.url, COLLECTION, { u: other }, auth.token))).collection.uuid).toBe(other);
  expectCode(await gql(a.url, COLLECTION, { u: input }, auth.token), "FORBIDDEN");

  await ok(gql(b.url, `mutation($u: ID!) { unlockContainer(uuid: $u) { uuid } }`, { u: cr.containerUuid }, dispatcher.token));
  expect((await a.db.prisma.apiToken.findUnique({ where: { uuid: auth.uuid } }))!.revokedAt).not.toBeNull();
  expect(codes(await gql(a.url, COLLECTION, { u: other }, auth.token))).toEqual(["UNAUTHENTICATED"]);
});

it("refuses to delegate without a runtime token when the caller's token is scoped (nothing created), and uses a given one as it is", async () => {
  const scoped = (await ok(gql(a.url, `mutation { createToken(input: { scopes: [{ method: "POST", path: "/arvados/v1/container_requests" }] }) { token } }`, {}, alice.token))).createToken;
  const tokensBefore = await a.db.prisma.apiToken.count();
  const requestsBefore = await b.db.prisma.containerRequest.count();
  const r = await gql(a.url, CREATE, { i: spec("scoped", {}), c: "bbbbb" }, scoped.token);
  expect(codes(r)).toEqual(["FORBIDDEN"]);
  expect(r.errors![0].message).toMatch(/unscoped/);
  expect(await a.db.prisma.apiToken.count()).toBe(tokensBefore);
  expect(await b.db.prisma.containerRequest.count()).toBe(requestsBefore);

  // A runtime token given by the client is the one used: no other is minted at aaaaa.
  const given = (await ok(gql(a.url, `mutation { createToken(input: {}) { uuid token } }`, {}, alice.token))).createToken;
  const before = await a.db.prisma.apiToken.count();
  const cr = (await ok(gql(a.url, CREATE, { i: { ...spec("given", {}), runtimeToken: given.token }, c: "bbbbb" }, alice.token))).createContainerRequest;
  expect(await a.db.prisma.apiToken.count()).toBe(before);
  expect((await b.db.prisma.containerRequest.findUnique({ where: { uuid: cr.uuid } }))!.runtimeTokenUuid).toBe(given.uuid);
});

describe("the home's mint, asked by a lying peer", () => {
  const salted = (cluster: string) => saltToken(alice.token, cluster);
  const asPeer = (cluster: string, query: string, vars: Record<string, unknown>, token = salted(cluster)) =>
    gql(a.url, query, vars, token, { [FORWARDED_HEADER]: cluster });
  const readInput = (cluster: string) => [{ cluster: "aaaaa", scopes: [{ method: "GET", path: `/arvados/v1/collections/${input}` }] }, { cluster, scopes: [{ method: "GET", path: "/arvados/v1/containers/current" }] }];

  it("mints only for containers of the cluster the token is salted for, reads only elsewhere, never broader, never from a raw token", async () => {
    const mintsBefore = await a.db.prisma.apiToken.count();
    const refusals: [GqlResult, string][] = [
      [await asPeer("ccccc", MINT, { i: { containerUuid: "bbbbb-dz642-000000000000001", clusterScopes: readInput("bbbbb") } }), "FORBIDDEN"],
      [await asPeer("ccccc", MINT, { i: { containerUuid: "ccccc-dz642-000000000000001", clusterScopes: [...readInput("ccccc"), { cluster: "bbbbb", scopes: [{ method: "POST", path: "/arvados/v1/collections" }] }] } }), "FORBIDDEN"],
      [await asPeer("ccccc", MINT, { i: { containerUuid: "ccccc-dz642-000000000000001", clusterScopes: [{ cluster: "aaaaa", scopes: [{ method: "GET", path: input }] }] } }), "BAD_USER_INPUT"],
      [await asPeer("ccccc", MINT, { i: { containerUuid: "ccccc-dz642-000000000000001", clusterScopes: [readInput("ccccc")[0]] } }), "FORBIDDEN"],
      [await gql(a.url, MINT, { i: { containerUuid: "ccccc-dz642-000000000000001", clusterScopes: readInput("ccccc") } }, alice.token), "FORBIDDEN"],
      [await gql(a.url, MINT, { i: { containerUuid: "ccccc-dz642-000000000000001", clusterScopes: readInput("ccccc") } }), "UNAUTHENTICATED"],
      [await asPeer("ccccc", REVOKE, { u: alice.tokenUuid }), "NOT_FOUND"],
    ];
    expect(refusals.map(([r]) => codes(r)[0])).toEqual(refusals.map(([, code]) => code));
    expect(await a.db.prisma.apiToken.count()).toBe(mintsBefore);

    // A narrow runtime token cannot be widened by its salted holder.
    const narrow = (await ok(gql(a.url, `mutation($i: CreateTokenInput!) { createToken(input: $i) { token } }`, {
      i: { clusterScopes: [{ cluster: "ccccc", scopes: [{ method: "GET", path: "/arvados/v1/containers/current" }] }] },
    }, alice.token))).createToken;
    const more = [{ cluster: "ccccc", scopes: [{ method: "GET", path: "/arvados/v1/containers/current" }, { method: "POST", path: "/arvados/v1/collections" }] }];
    const wider = await asPeer("ccccc", MINT, { i: { containerUuid: "ccccc-dz642-000000000000001", clusterScopes: more } }, saltToken(narrow.token, "ccccc"));
    expect(codes(wider)).toEqual(["FORBIDDEN"]);
    expect(wider.errors![0].message).toMatch(/broader/);
  });

  it("mints what it may, bound to that container, and revokes it for the same salted token", async () => {
    const container = "ccccc-dz642-00000000000000m";
    const minted = (await ok(asPeer("ccccc", MINT, { i: { containerUuid: container, clusterScopes: readInput("ccccc") } }))).mintContainerToken;
    expect(parseToken(minted.token)).toMatchObject({ uuid: minted.uuid, containerUuid: container });
    expect((await ok(gql(a.url, COLLECTION, { u: input }, minted.token))).collection.uuid).toBe(input);
    expectCode(await gql(a.url, COLLECTION, { u: other }, minted.token), "FORBIDDEN");
    // Another cluster's salted form of the same runtime token cannot revoke it; its own can.
    expect(codes(await asPeer("bbbbb", REVOKE, { u: minted.uuid }))).toEqual(["FORBIDDEN"]);
    expect(codes(await gql(a.url, REVOKE, { u: minted.uuid }, alice.token))).toEqual(["FORBIDDEN"]);
    expect((await ok(asPeer("ccccc", REVOKE, { u: minted.uuid }))).revokeContainerToken.revokedAt).not.toBeNull();
    expect(codes(await gql(a.url, COLLECTION, { u: input }, minted.token))).toEqual(["UNAUTHENTICATED"]);
  });
});

it("refuses the child of an earlier lock after a re-lock, even if its revocation at the home never happened", async () => {
  const cr = (await ok(gql(a.url, CREATE, { i: spec("relock", { "/in": { kind: "collection", uuid: input } }), c: "bbbbb" }, alice.token))).createContainerRequest;
  const lockAndAuth = async () => {
    await ok(gql(b.url, `mutation($u: ID!) { lockContainer(uuid: $u) { uuid } }`, { u: cr.containerUuid }, dispatcher.token));
    return (await ok(gql(b.url, AUTH, { u: cr.containerUuid }, dispatcher.token))).containerAuth;
  };
  const first = await lockAndAuth();
  await ok(gql(b.url, `mutation($u: ID!) { unlockContainer(uuid: $u) { uuid } }`, { u: cr.containerUuid }, dispatcher.token));
  const second = await lockAndAuth();
  // As if bbbbb's request to revoke the first child had been lost: aaaaa still holds it valid.
  await a.db.prisma.apiToken.update({ where: { uuid: first.uuid }, data: { revokedAt: null } });
  expect((await ok(gql(a.url, `{ currentToken { uuid } }`, {}, first.token))).currentToken.uuid).toBe(first.uuid);
  expect(codes(await gql(b.url, `{ currentContainer { uuid } }`, {}, first.token))).toEqual(["UNAUTHENTICATED"]);
  expect(codes(await gql(b.url, UPDATE_CT, { u: cr.containerUuid, i: { state: "Running" } }, first.token))).toEqual(["UNAUTHENTICATED"]);
  expect((await ok(gql(b.url, `{ currentContainer { uuid } }`, {}, second.token))).currentContainer.uuid).toBe(cr.containerUuid);
});

it("with the runtime token's home unreachable: a lock fails UNAVAILABLE and leaves the container Queued; a container still ends, its token refused at once", async () => {
  const { cr: running, auth } = await runOnB("ends-alone");
  const waiting = (await ok(gql(a.url, CREATE, { i: spec("waits", { "/in": { kind: "collection", uuid: input } }), c: "bbbbb" }, alice.token))).createContainerRequest;
  await a.stop();
  delete fed.aaaaa; // stopped here, not again in afterAll

  const lock = await gql(b.url, `mutation($u: ID!) { lockContainer(uuid: $u) { uuid } }`, { u: waiting.containerUuid }, dispatcher.token);
  expect(codes(lock)).toEqual(["UNAVAILABLE"]);
  expect(await b.db.prisma.container.findUnique({ where: { uuid: waiting.containerUuid }, select: { state: true, lockCount: true, authUuid: true } }))
    .toEqual({ state: "Queued", lockCount: 0, authUuid: null });

  expect((await ok(gql(b.url, UPDATE_CT, { u: running.containerUuid, i: { state: "Complete", exitCode: 0 } }, auth.token))).updateContainer.state).toBe("Complete");
  expect(codes(await gql(b.url, `{ currentContainer { uuid } }`, {}, auth.token))).toEqual(["UNAUTHENTICATED"]);
});
