/**
 * Runtime tokens across three real clusters: a request made on aaaaa to run on bbbbb gets a
 * runtime token minted at aaaaa (only its salted form reaches bbbbb), and its container a
 * child of it minted at aaaaa on bbbbb's request. That token reads its input on aaaaa and
 * nothing else there, does its work on bbbbb, is refused on ccccc, and is refused everywhere
 * once the container ends. The home's mint refuses what a lying peer could ask.
 */
import { saltToken } from "../../src/auth/salt";
import { SecretBox } from "../../src/auth/secretBox";
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

describe("the runtime token aaaaa mints for a request it delegates to bbbbb", () => {
  const CURRENT = `{ currentToken { uuid } }`;
  /** The runtime token bbbbb holds for request `uuid`: salted for bbbbb (opened from its row, as bbbbb itself would). */
  async function heldAtB(uuid: string): Promise<{ uuid: string; salted: string }> {
    const row = (await b.db.prisma.containerRequest.findUnique({ where: { uuid } }))!;
    const salted = SecretBox.fromConfig(b.config.tokens.encryptionKey, b.config.systemRootToken).open(row.runtimeTokenSealed!, uuid)!;
    return { uuid: row.runtimeTokenUuid!, salted };
  }
  /** Whether the runtime token still works: at aaaaa as bbbbb presents it, and at bbbbb (which asks aaaaa). */
  async function works(salted: string): Promise<[string | undefined, string | undefined]> {
    const atA = await gql(a.url, CURRENT, {}, salted, { [FORWARDED_HEADER]: "bbbbb" });
    const atB = await gql(b.url, CURRENT, {}, salted);
    return [codes(atA)[0] ?? atA.data.currentToken.uuid, codes(atB)[0] ?? atB.data.currentToken.uuid];
  }
  const revokedAtA = async (uuid: string) => (await a.db.prisma.apiToken.findUnique({ where: { uuid } }))!.revokedAt;
  const requestAtB = (uuid: string) => b.db.prisma.containerRequest.findUnique({ where: { uuid }, select: { state: true, containerUuid: true, containerCount: true } });

  it("is marked as minted for bbbbb and revoked at aaaaa once the request is Final there: refused at aaaaa and through bbbbb", async () => {
    const { cr, auth } = await runOnB("dies-with-request");
    const runtime = await heldAtB(cr.uuid);
    expect(await a.db.prisma.apiToken.findUnique({ where: { uuid: runtime.uuid }, select: { mintedForCluster: true, parentUuid: true } }))
      .toEqual({ mintedForCluster: "bbbbb", parentUuid: alice.tokenUuid });
    expect(await works(runtime.salted)).toEqual([runtime.uuid, runtime.uuid]);

    await ok(gql(b.url, UPDATE_CT, { u: cr.containerUuid, i: { state: "Complete", exitCode: 0 } }, auth.token));
    expect((await requestAtB(cr.uuid))!.state).toBe("Final");
    expect(await revokedAtA(runtime.uuid)).not.toBeNull();
    expect(await a.db.prisma.auditLog.count({ where: { eventType: "revoke", objectUuid: runtime.uuid, actorUuid: alice.uuid } })).toBe(1);
    expect(await works(runtime.salted)).toEqual(["UNAUTHENTICATED", "UNAUTHENTICATED"]);
    // alice's own token, its parent, lives on.
    expect(await revokedAtA(alice.tokenUuid)).toBeNull();
  });

  it("survives a retry (a Cancelled container, containerCountMax 2): the next container gets a child of it; revoked when that one ends the request", async () => {
    const { cr, auth } = await runOnB("retried", { containerCountMax: 2 });
    const runtime = await heldAtB(cr.uuid);
    await ok(gql(b.url, UPDATE_CT, { u: cr.containerUuid, i: { state: "Cancelled" } }, auth.token));
    const retried = (await requestAtB(cr.uuid))!;
    expect(retried).toMatchObject({ state: "Committed", containerCount: 2 });
    expect(retried.containerUuid).not.toBe(cr.containerUuid);
    expect(await revokedAtA(runtime.uuid)).toBeNull();
    expect(await works(runtime.salted)).toEqual([runtime.uuid, runtime.uuid]);

    // Locking the retry asks aaaaa to mint from the runtime token: it must still be alive.
    await ok(gql(b.url, `mutation($u: ID!) { lockContainer(uuid: $u) { uuid } }`, { u: retried.containerUuid }, dispatcher.token));
    const next = (await ok(gql(b.url, AUTH, { u: retried.containerUuid }, dispatcher.token))).containerAuth;
    expect((await ok(gql(a.url, COLLECTION, { u: input }, next.token))).collection.uuid).toBe(input);
    await ok(gql(b.url, UPDATE_CT, { u: retried.containerUuid, i: { state: "Running" } }, next.token));
    await ok(gql(b.url, UPDATE_CT, { u: retried.containerUuid, i: { state: "Cancelled" } }, next.token));
    expect((await requestAtB(cr.uuid))!.state).toBe("Final");
    expect(await revokedAtA(runtime.uuid)).not.toBeNull();
    expect(await works(runtime.salted)).toEqual(["UNAUTHENTICATED", "UNAUTHENTICATED"]);
  });

  it("is kept for a retried request whose retry runs with another request's runtime token (they shared a container)", async () => {
    const i = { ...spec("shared", { "/in": { kind: "collection", uuid: input } }), state: "Uncommitted", containerCountMax: 2 };
    const made = await Promise.all([0, 1].map(async () => (await ok(gql(a.url, CREATE, { i, c: "bbbbb" }, alice.token))).createContainerRequest));
    const [low, high] = made.sort((x, y) => (x.uuid < y.uuid ? -1 : 1));
    // The larger uuid commits first: the container carries its runtime token, the retry the smaller one's.
    for (const r of [high, low]) await ok(gql(a.url, `mutation($u: ID!) { updateContainerRequest(uuid: $u, input: { state: "Committed" }) { uuid } }`, { u: r.uuid }, alice.token));
    const first = (await requestAtB(high.uuid))!.containerUuid!;
    expect((await requestAtB(low.uuid))!.containerUuid).toBe(first);
    const [lowToken, highToken] = [await heldAtB(low.uuid), await heldAtB(high.uuid)];
    await ok(gql(b.url, `mutation($u: ID!) { lockContainer(uuid: $u) { uuid } }`, { u: first }, dispatcher.token));
    const auth = (await ok(gql(b.url, AUTH, { u: first }, dispatcher.token))).containerAuth;
    expect(auth.uuid).not.toBe(lowToken.uuid);
    await ok(gql(b.url, UPDATE_CT, { u: first, i: { state: "Cancelled" } }, auth.token));

    const next = (await requestAtB(high.uuid))!.containerUuid!;
    expect((await b.db.prisma.container.findUnique({ where: { uuid: next } }))!.runtimeTokenUuid).toBe(lowToken.uuid);
    expect([(await requestAtB(low.uuid))!.state, (await requestAtB(high.uuid))!.state]).toEqual(["Committed", "Committed"]);
    expect([await revokedAtA(lowToken.uuid), await revokedAtA(highToken.uuid)]).toEqual([null, null]);
    expect(await works(highToken.salted)).toEqual([highToken.uuid, highToken.uuid]);
  });

  it("is revoked when its request is finalised by hand while the container it shares runs on for another request", async () => {
    const i = { ...spec("by-hand", { "/in": { kind: "collection", uuid: input } }), state: "Committed" };
    // The first gets the container (it carries that one's runtime token), the second reuses it.
    const kept = (await ok(gql(a.url, CREATE, { i, c: "bbbbb" }, alice.token))).createContainerRequest;
    const ended = (await ok(gql(a.url, CREATE, { i, c: "bbbbb" }, alice.token))).createContainerRequest;
    expect(ended.containerUuid).toBe(kept.containerUuid);
    const [keptToken, endedToken] = [await heldAtB(kept.uuid), await heldAtB(ended.uuid)];
    await ok(gql(a.url, `mutation($u: ID!) { updateContainerRequest(uuid: $u, input: { state: "Final" }) { uuid } }`, { u: ended.uuid }, alice.token));
    expect((await requestAtB(ended.uuid))!.state).toBe("Final");
    expect(await revokedAtA(endedToken.uuid)).not.toBeNull();
    expect(await works(endedToken.salted)).toEqual(["UNAUTHENTICATED", "UNAUTHENTICATED"]);
    // The container runs on for the other request, with whichever token it holds.
    expect((await requestAtB(kept.uuid))!.state).toBe("Committed");
    expect((await b.db.prisma.container.findUnique({ where: { uuid: kept.containerUuid } }))!.runtimeTokenUuid).toBe(keptToken.uuid);
    expect(await revokedAtA(keptToken.uuid)).toBeNull();
    expect(await works(keptToken.salted)).toEqual([keptToken.uuid, keptToken.uuid]);
  });

  it("is not what happens to a runtime token the user gave: it outlives its request, and aaaaa refuses bbbbb's revocation of it", async () => {
    const given = (await ok(gql(a.url, `mutation { createToken(input: {}) { uuid token } }`, {}, alice.token))).createToken;
    const { cr, auth } = await runOnB("given-lives", { runtimeToken: given.token });
    expect((await heldAtB(cr.uuid)).uuid).toBe(given.uuid);
    await ok(gql(b.url, UPDATE_CT, { u: cr.containerUuid, i: { state: "Complete", exitCode: 0 } }, auth.token));
    expect((await requestAtB(cr.uuid))!.state).toBe("Final");
    expect(await revokedAtA(auth.uuid)).not.toBeNull(); // the container's child, as always
    expect(await revokedAtA(given.uuid)).toBeNull();
    expect((await ok(gql(a.url, CURRENT, {}, given.token))).currentToken.uuid).toBe(given.uuid);
    const asB = await gql(a.url, REVOKE, { u: given.uuid }, saltToken(given.token, "bbbbb"), { [FORWARDED_HEADER]: "bbbbb" });
    expect(codes(asB)).toEqual(["NOT_FOUND"]);
    expect(await revokedAtA(given.uuid)).toBeNull();
  });
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
