/**
 * Child container requests (a workflow runner's): a running container's token submits a
 * request, which records requestingContainerUuid. The child's container token is minted from
 * the requesting container's token, so it is never broader than it on any cluster (its own
 * container record aside), dies when the parent's token is revoked (the parent ended), and the
 * child reuses only a container that ran with the same authority.
 */
import { randomBytes } from "node:crypto";
import { codes, createUserWithToken, gql, ok, startFederation, startTestCluster, type GqlResult, type TestCluster } from "../helpers/federation";

type User = { uuid: string; token: string; tokenUuid: string };
let z: TestCluster;
let alice: User;
let dispatcher: User;
let input: string;
let hidden: string;
/** A collection on a cluster the parent's token has no entry for (its uuid is all a scope needs). */
const REMOTE = "bbbbb-4zz18-000000000000001";

const CR = `uuid state containerUuid requestingContainerUuid hasRuntimeToken runtimeClusterScopes`;
const CREATE = `mutation($i: CreateContainerRequestInput!) { createContainerRequest(input: $i) { ${CR} } }`;
const UPDATE = `mutation($u: ID!, $i: UpdateContainerRequestInput!) { updateContainerRequest(uuid: $u, input: $i) { ${CR} } }`;
const AUTH = `query($u: ID!) { containerAuth(uuid: $u) { uuid token clusterScopes } }`;
const UPDATE_CT = `mutation($u: ID!, $i: UpdateContainerInput!) { updateContainer(uuid: $u, input: $i) { uuid state exitCode output } }`;
const GET_CT = `query($u: ID!) { container(uuid: $u) { uuid state } }`;
const COLLECTION = `query($u: ID!) { collection(uuid: $u) { uuid } }`;
const CREATE_COLLECTION = `mutation($n: String!) { createCollection(input: { name: $n }) { uuid portableDataHash } }`;
const CURRENT = `{ currentContainer { uuid state } }`;

const collectionMount = (uuid: string) => ({ kind: "collection", uuid });
const spec = (tag: string, mounts: Record<string, unknown>) => ({
  command: ["true"], containerImage: "img", outputPath: "/out", mounts: { "/out": { kind: "tmp" }, ...mounts },
  runtimeConstraints: { vcpus: 1, ram: 1024 }, environment: { TAG: tag }, state: "Committed", priority: 5,
});
const tag = () => randomBytes(6).toString("hex");

const create = (token: string, input: Record<string, unknown>) => gql(z.url, CREATE, { i: input }, token);
const created = async (token: string, input: Record<string, unknown>) => (await ok(create(token, input))).createContainerRequest;

/** Locks container `uuid` with the dispatcher, marks it Running with its own token; that token and its cluster scopes. */
async function run(uuid: string): Promise<{ token: string; clusterScopes: Record<string, [string, string][] | null> }> {
  await ok(gql(z.url, `mutation($u: ID!) { lockContainer(uuid: $u) { uuid } }`, { u: uuid }, dispatcher.token));
  const auth = (await ok(gql(z.url, AUTH, { u: uuid }, dispatcher.token))).containerAuth;
  await ok(gql(z.url, UPDATE_CT, { u: uuid, i: { state: "Running" } }, auth.token));
  return auth;
}

/** A request of alice's mounting `input`, Running: its container's token (the parent of what it submits). */
async function runningParent(): Promise<{ containerUuid: string; token: string; clusterScopes: Record<string, [string, string][] | null> }> {
  const cr = await created(alice.token, spec(tag(), { "/in": collectionMount(input) }));
  return { containerUuid: cr.containerUuid, ...(await run(cr.containerUuid)) };
}

function expectCode(r: GqlResult, code: string) {
  expect(codes(r)).toEqual([code]);
}

const has = (scopes: [string, string][] | null | undefined, method: string, path: string) => (scopes ?? []).some(([m, p]) => m === method && p === path);

beforeAll(async () => {
  z = await startTestCluster("aaaaa", { containers: { maxDispatchAttempts: 10, runtimeTokenTTL: 3600 } });
  alice = await createUserWithToken(z, "alice@example.org");
  const { createUser } = await z.root(`mutation { createUser(input: { email: "dispatch@a", isAdmin: true }) { uuid } }`);
  const { createToken } = await z.root(`mutation($u: ID!) { createToken(input: { userUuid: $u }) { uuid token } }`, { u: createUser.uuid });
  dispatcher = { uuid: createUser.uuid, token: createToken.token, tokenUuid: createToken.uuid };
  input = (await ok(gql(z.url, CREATE_COLLECTION, { n: "input" }, alice.token))).createCollection.uuid;
  hidden = (await ok(gql(z.url, CREATE_COLLECTION, { n: "not the parent's" }, alice.token))).createCollection.uuid;
});
afterAll(() => z?.stop());

describe("a child request of a running container", () => {
  it("gets a container token that cannot read what the parent's cannot, has no cluster entry the parent lacks, and still runs its own container", async () => {
    const parent = await runningParent();
    expectCode(await gql(z.url, COLLECTION, { u: hidden }, parent.token), "FORBIDDEN");

    const child = await created(parent.token, spec(tag(), { "/in": collectionMount(input), "/x": collectionMount(hidden), "/remote": collectionMount(REMOTE) }));
    expect(child).toMatchObject({ state: "Committed", requestingContainerUuid: parent.containerUuid, hasRuntimeToken: true });
    const auth = await run(child.containerUuid);

    // Never broader than the parent's token: no entry for bbbbb, no read of the hidden collection.
    expect(Object.keys(auth.clusterScopes).sort()).toEqual(Object.keys(parent.clusterScopes).sort());
    expect(has(auth.clusterScopes.aaaaa, "GET", `/arvados/v1/collections/${hidden}`)).toBe(false);
    expectCode(await gql(z.url, COLLECTION, { u: hidden }, auth.token), "FORBIDDEN");
    // It reads the inputs the parent could, and does its own container's work.
    expect((await ok(gql(z.url, COLLECTION, { u: input }, auth.token))).collection.uuid).toBe(input);
    expect(has(auth.clusterScopes.aaaaa, "GET", `/arvados/v1/containers/${parent.containerUuid}`)).toBe(false);
    expect((await ok(gql(z.url, CURRENT, {}, auth.token))).currentContainer).toEqual({ uuid: child.containerUuid, state: "Running" });
    expect((await ok(gql(z.url, GET_CT, { u: child.containerUuid }, auth.token))).container.uuid).toBe(child.containerUuid);
    // The parent's own container is not the child's to change.
    expectCode(await gql(z.url, UPDATE_CT, { u: parent.containerUuid, i: { progress: 0.5 } }, auth.token), "FORBIDDEN");
    const output = (await ok(gql(z.url, CREATE_COLLECTION, { n: "child output" }, auth.token))).createCollection.portableDataHash;
    await ok(gql(z.url, UPDATE_CT, { u: child.containerUuid, i: { output } }, auth.token));
    const done = (await ok(gql(z.url, UPDATE_CT, { u: child.containerUuid, i: { state: "Complete", exitCode: 0 } }, auth.token))).updateContainer;
    expect(done).toMatchObject({ state: "Complete", exitCode: 0, output });
  });

  it("created uncommitted, stays held within the parent's token when its user commits it later", async () => {
    const parent = await runningParent();
    const draft = await created(parent.token, { ...spec(tag(), { "/x": collectionMount(hidden) }), state: "Uncommitted" });
    const child = (await ok(gql(z.url, UPDATE, { u: draft.uuid, i: { state: "Committed" } }, alice.token))).updateContainerRequest;
    const auth = await run(child.containerUuid);
    expectCode(await gql(z.url, COLLECTION, { u: hidden }, auth.token), "FORBIDDEN");
  });

  it("loses its token when the parent's is revoked: the parent's container ended", async () => {
    const parent = await runningParent();
    const child = await created(parent.token, spec(tag(), { "/in": collectionMount(input) }));
    const auth = await run(child.containerUuid);
    await ok(gql(z.url, UPDATE_CT, { u: parent.containerUuid, i: { state: "Complete", exitCode: 0 } }, parent.token));
    expectCode(await gql(z.url, CURRENT, {}, auth.token), "UNAUTHENTICATED");
    // A child not yet locked cannot get a token at all: the parent's end cancelled it.
    const parent2 = await runningParent();
    const queued = await created(parent2.token, spec(tag(), { "/in": collectionMount(input) }));
    await ok(gql(z.url, UPDATE_CT, { u: parent2.containerUuid, i: { state: "Cancelled" } }, parent2.token));
    const r = await gql(z.url, `mutation($u: ID!) { lockContainer(uuid: $u) { uuid } }`, { u: queued.containerUuid }, dispatcher.token);
    expectCode(r, "CONFLICT");
    expect(r.errors![0].message).toMatch(/is Cancelled/);
  });
});

describe("the end of a parent container", () => {
  const GET_CR = `query($u: ID!) { containerRequest(uuid: $u) { state priority containerUuid } }`;
  const request = async (uuid: string) => (await ok(gql(z.url, GET_CR, { u: uuid }, alice.token))).containerRequest;
  const container = async (uuid: string) => (await ok(gql(z.url, `query($u: ID!) { container(uuid: $u) { state priority } }`, { u: uuid }, z.rootToken))).container;

  it("cancels the committed requests it submitted: a Queued child is cancelled and final, a running one drops to priority 0", async () => {
    const parent = await runningParent();
    const queued = await created(parent.token, spec(tag(), { "/in": collectionMount(input) }));
    const running = await created(parent.token, spec(tag(), { "/in": collectionMount(input) }));
    const grandparent = await run(running.containerUuid);
    const grandchild = await created(grandparent.token, spec(tag(), { "/in": collectionMount(input) }));

    await ok(gql(z.url, UPDATE_CT, { u: parent.containerUuid, i: { state: "Complete", exitCode: 0 } }, parent.token));
    expect(await request(queued.uuid)).toMatchObject({ state: "Final", priority: 0 });
    expect(await container(queued.containerUuid)).toMatchObject({ state: "Cancelled" });
    expect(await request(running.uuid)).toMatchObject({ state: "Committed", priority: 0 });
    expect(await container(running.containerUuid)).toEqual({ state: "Running", priority: 0 });
    // The running child's own children wait for its end, which its dispatcher brings.
    expect(await request(grandchild.uuid)).toMatchObject({ state: "Committed", priority: 5 });
    await ok(gql(z.url, `mutation($u: ID!, $i: UpdateContainerInput!) { updateContainer(uuid: $u, input: $i) { uuid } }`, { u: running.containerUuid, i: { state: "Cancelled" } }, dispatcher.token));
    expect(await request(grandchild.uuid)).toMatchObject({ state: "Final", priority: 0 });
    expect(await container(grandchild.containerUuid)).toMatchObject({ state: "Cancelled" });
  });
});

describe("reuse by child requests", () => {
  it("does not reuse a container that ran with broader authority than the child's", async () => {
    const t = tag();
    const mounts = { "/in": collectionMount(input), "/x": collectionMount(hidden) };
    const own = await created(alice.token, spec(t, mounts));
    await run(own.containerUuid);
    const parent = await runningParent();
    const child = await created(parent.token, spec(t, mounts));
    expect(child.containerUuid).not.toBe(own.containerUuid);
    // The narrowing it records is what the parent's token allowed: no read of the hidden collection.
    expect(has(child.runtimeClusterScopes.aaaaa, "GET", `/arvados/v1/collections/${input}`)).toBe(true);
    expect(has(child.runtimeClusterScopes.aaaaa, "GET", `/arvados/v1/collections/${hidden}`)).toBe(false);
  });

  it("reuses the container of another parent's child with the same authority over its inputs", async () => {
    const t = tag();
    const mounts = { "/in": collectionMount(input) };
    const first = await created((await runningParent()).token, spec(t, mounts));
    const second = await created((await runningParent()).token, spec(t, mounts));
    expect(second.containerUuid).toBe(first.containerUuid);
  });
});

describe("a child request of a container whose token is homed on another cluster", () => {
  let home: TestCluster;
  let runs: TestCluster;
  let fed: Record<string, TestCluster>;
  let carol: User;
  let dispatcherB: string;
  let parent: { containerUuid: string; token: string };

  beforeAll(async () => {
    fed = await startFederation(["hhhhh", "rrrrr"], { hhhhh: { containers: { maxDispatchAttempts: 10, runtimeTokenTTL: 3600 } } });
    ({ hhhhh: home, rrrrr: runs } = fed);
    carol = await createUserWithToken(home, "carol@example.org");
    const { createUser } = await runs.root(`mutation { createUser(input: { email: "dispatch@r", isAdmin: true }) { uuid } }`);
    dispatcherB = (await runs.root(`mutation($u: ID!) { createToken(input: { userUuid: $u }) { token } }`, { u: createUser.uuid })).createToken.token;
    // Submitted at hhhhh to run on rrrrr: its container's token is a child minted at hhhhh.
    const cr = (await ok(gql(home.url, `mutation($i: CreateContainerRequestInput!) { createContainerRequest(input: $i, cluster: "rrrrr") { containerUuid } }`, { i: spec(tag(), {}) }, carol.token))).createContainerRequest;
    await ok(gql(runs.url, `mutation($u: ID!) { lockContainer(uuid: $u) { uuid } }`, { u: cr.containerUuid }, dispatcherB));
    const auth = (await ok(gql(runs.url, AUTH, { u: cr.containerUuid }, dispatcherB))).containerAuth;
    await ok(gql(runs.url, UPDATE_CT, { u: cr.containerUuid, i: { state: "Running" } }, auth.token));
    parent = { containerUuid: cr.containerUuid, token: auth.token };
    expect(parent.token.startsWith("v2/hhhhh-gj3su-")).toBe(true);
  });
  afterAll(() => Promise.all(Object.values(fed ?? {}).map((cl) => cl.stop())));

  it("is refused where the container runs (only its token's home could mint the child's token), and nothing is created", async () => {
    const before = await runs.db.prisma.containerRequest.count();
    const r = await gql(runs.url, CREATE, { i: spec(tag(), {}) }, parent.token);
    expectCode(r, "FORBIDDEN");
    expect(r.errors![0].message).toMatch(/homed on cluster hhhhh/);
    // Nor does it pass as a runtime token given explicitly.
    const given = await gql(runs.url, CREATE, { i: { ...spec(tag(), {}), runtimeToken: parent.token } }, parent.token);
    expectCode(given, "BAD_USER_INPUT");
    expect(given.errors![0].message).toMatch(/^runtimeToken: /);
    expect(await runs.db.prisma.containerRequest.count()).toBe(before);
  });
});
