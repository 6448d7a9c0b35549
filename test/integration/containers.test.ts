/**
 * Containers and container requests over HTTP on a real cluster: the life cycles (allowed and
 * refused), the fields each request state allows, commit validation, dispatchers' locks and
 * the container's own tokens, priorities, retries, dispatch attempts, reuse, runtime tokens.
 */
import { randomBytes } from "node:crypto";
import { codes, createUserWithToken, gql, ok, startTestCluster, type GqlResult, type TestCluster } from "../helpers/federation";

type User = { uuid: string; token: string; tokenUuid: string };

const MAX_DISPATCH = 3;
let z: TestCluster;
let alice: User;
let bob: User;
let d1: User;
let d2: User;

const CR = `uuid state priority containerUuid containerCount containerCountMax hasRuntimeToken name command logUuid outputUuid`;
const CT = `uuid state priority lockedByUuid authUuid lockCount exitCode output log runtimeStatus runtimeUserUuid runtimeAuthScopes { method path }`;
const CREATE = `mutation($i: CreateContainerRequestInput!) { createContainerRequest(input: $i) { ${CR} } }`;
const UPDATE = `mutation($u: ID!, $i: UpdateContainerRequestInput!) { updateContainerRequest(uuid: $u, input: $i) { ${CR} } }`;
const CANCEL = `mutation($u: ID!) { cancelContainerRequest(uuid: $u) { ${CR} } }`;
const GET_CR = `query($u: ID!) { containerRequest(uuid: $u) { ${CR} } }`;
const GET_CT = `query($u: ID!) { container(uuid: $u) { ${CT} } }`;
const LOCK = `mutation($u: ID!) { lockContainer(uuid: $u) { ${CT} } }`;
const UNLOCK = `mutation($u: ID!) { unlockContainer(uuid: $u) { ${CT} } }`;
const AUTH = `query($u: ID!) { containerAuth(uuid: $u) { uuid token expiresAt scopes { method path } } }`;
const UPDATE_CT = `mutation($u: ID!, $i: UpdateContainerInput!) { updateContainer(uuid: $u, input: $i) { ${CT} } }`;
const CURRENT = `{ currentContainer { uuid state } }`;

async function admin(email: string): Promise<User> {
  const { createUser } = await z.root(`mutation($e: String!) { createUser(input: { email: $e, isAdmin: true }) { uuid } }`, { e: email });
  const { createToken } = await z.root(`mutation($u: ID!) { createToken(input: { userUuid: $u }) { uuid token } }`, { u: createUser.uuid });
  return { uuid: createUser.uuid, token: createToken.token, tokenUuid: createToken.uuid };
}

/** A committable spec, unique per call (so nothing is reused by accident) unless `tag` repeats. */
function spec(tag = randomBytes(6).toString("hex"), extra: Record<string, unknown> = {}) {
  return {
    command: ["echo", "hello"],
    containerImage: "arvados/jobs",
    outputPath: "/out",
    mounts: { "/out": { kind: "tmp", capacity: 1000 } },
    runtimeConstraints: { vcpus: 1, ram: 1 << 20 },
    environment: { TAG: tag },
    ...extra,
  };
}

const create = (token: string, input: Record<string, unknown>) => gql(z.url, CREATE, { i: input }, token);
const created = async (token: string, input: Record<string, unknown>) => (await ok(create(token, input))).createContainerRequest;
const committed = (token: string, extra: Record<string, unknown> = {}, tag?: string) =>
  created(token, { ...spec(tag), state: "Committed", priority: 500, ...extra });
const container = async (uuid: string) => (await ok(gql(z.url, GET_CT, { u: uuid }, z.rootToken))).container;
const request = async (uuid: string) => (await ok(gql(z.url, GET_CR, { u: uuid }, z.rootToken))).containerRequest;
const lock = (d: User, uuid: string) => gql(z.url, LOCK, { u: uuid }, d.token);
const authOf = async (d: User, uuid: string) => (await ok(gql(z.url, AUTH, { u: uuid }, d.token))).containerAuth;
const updateContainer = (token: string, uuid: string, input: Record<string, unknown>) => gql(z.url, UPDATE_CT, { u: uuid, i: input }, token);

/** Locks, fetches the container's token and marks it Running; returns that token. */
async function run(d: User, uuid: string): Promise<string> {
  await ok(lock(d, uuid));
  const { token } = await authOf(d, uuid);
  await ok(updateContainer(token, uuid, { state: "Running" }));
  return token;
}

async function rowCounts() {
  return { requests: await z.db.prisma.containerRequest.count(), containers: await z.db.prisma.container.count() };
}

function expectError(r: GqlResult, code: string, pattern: RegExp) {
  expect(codes(r)).toEqual([code]);
  expect(r.errors![0].message).toMatch(pattern);
}

beforeAll(async () => {
  z = await startTestCluster("aaaaa", { containers: { maxDispatchAttempts: MAX_DISPATCH, runtimeTokenTTL: 3600 } });
  alice = await createUserWithToken(z, "alice@example.org");
  bob = await createUserWithToken(z, "bob@example.org");
  d1 = await admin("dispatcher1@example.org");
  d2 = await admin("dispatcher2@example.org");
});
afterAll(() => z?.stop());

describe("container requests", () => {
  it("commits only with a command, an image, an output path among the mounts, and positive integer vcpus and ram", async () => {
    const before = await rowCounts();
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ command: [] }, /^command:/],
      [{ containerImage: " " }, /^containerImage:/],
      [{ outputPath: "/elsewhere" }, /^outputPath:/],
      [{ runtimeConstraints: { vcpus: 0, ram: 1 } }, /^runtimeConstraints\.vcpus:/],
      [{ runtimeConstraints: { vcpus: 1, ram: "1" } }, /^runtimeConstraints\.ram:/],
      [{ runtimeConstraints: { vcpus: 1.5, ram: 1 } }, /^runtimeConstraints\.vcpus:/],
      [{ runtimeConstraints: { vcpus: 1 } }, /^runtimeConstraints\.ram:/],
    ];
    for (const [override, pattern] of bad) expectError(await create(alice.token, { ...spec(), ...override, state: "Committed" }), "BAD_USER_INPUT", pattern);
    expect(await rowCounts()).toEqual(before);

    // The same checks when an uncommitted request is committed later; it stays as it was.
    const draft = await created(alice.token, { ...spec(), command: [] });
    expect(draft.state).toBe("Uncommitted");
    expectError(await gql(z.url, UPDATE, { u: draft.uuid, i: { state: "Committed" } }, alice.token), "BAD_USER_INPUT", /^command:/);
    expect(await request(draft.uuid)).toMatchObject({ state: "Uncommitted", containerUuid: null });
    expect((await rowCounts()).containers).toBe(before.containers);
  });

  it("refuses malformed input with BAD_USER_INPUT naming the field", async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ priority: 1001 }, /input\.priority/],
      [{ containerCountMax: 0 }, /input\.containerCountMax/],
      [{ environment: { A: 1 } }, /input\.environment\.A/],
      [{ mounts: ["/out"] }, /input\.mounts/],
      [{ state: "Final" }, /input\.state/],
      [{ runtimeToken: "not-a-token" }, /runtimeToken/],
      [{ mounts: { "/out": { kind: "tmp", padding: "x".repeat(70_000) } } }, /input\.mounts: at most 65536 bytes/],
      [{ command: Array.from({ length: 1001 }, () => "a") }, /input\.command: at most 1000/],
      [{ name: "n".repeat(5000) }, /input\.name: at most 4096/],
      [{ runtimeClusterScopes: [{ cluster: "AAAAA", scopes: [] }] }, /input\.runtimeClusterScopes\[0\]\.cluster/],
    ];
    for (const [override, pattern] of cases) expectError(await create(alice.token, { ...spec(), ...override }), "BAD_USER_INPUT", pattern);
  });

  it("lets everything change before commit; after it only priority, containerCountMax, name, description, properties; once Final only name, description, properties", async () => {
    const cr = await created(alice.token, spec());
    await ok(gql(z.url, UPDATE, { u: cr.uuid, i: { command: ["true"], cwd: "/tmp", mounts: { "/out": { kind: "tmp" } } } }, alice.token));
    const c = (await ok(gql(z.url, UPDATE, { u: cr.uuid, i: { state: "Committed", priority: 1 } }, alice.token))).updateContainerRequest;
    expect(c).toMatchObject({ state: "Committed", command: ["true"], containerCount: 1 });
    for (const frozen of [{ command: ["false"] }, { cwd: "/" }, { environment: { X: "y" } }, { useExisting: false }, { ownerUuid: bob.uuid }])
      expectError(await gql(z.url, UPDATE, { u: cr.uuid, i: frozen }, alice.token), "CONFLICT", /is Committed/);
    // The same value is no change.
    await ok(gql(z.url, UPDATE, { u: cr.uuid, i: { command: ["true"] } }, alice.token));
    const changed = (await ok(gql(z.url, UPDATE, { u: cr.uuid, i: { priority: 7, containerCountMax: 5, name: "n", description: "d", properties: { a: 1 } } }, alice.token))).updateContainerRequest;
    expect(changed).toMatchObject({ priority: 7, containerCountMax: 5, name: "n" });
    expect((await container(c.containerUuid)).priority).toBe(7);

    const final = (await ok(gql(z.url, CANCEL, { u: cr.uuid }, alice.token))).cancelContainerRequest;
    expect(final.state).toBe("Final");
    expect((await container(c.containerUuid)).state).toBe("Cancelled");
    for (const frozen of [{ priority: 3 }, { containerCountMax: 2 }, { state: "Committed" }])
      expectError(await gql(z.url, UPDATE, { u: cr.uuid, i: frozen }, alice.token), "CONFLICT", /is Final/);
    await ok(gql(z.url, UPDATE, { u: cr.uuid, i: { name: "renamed", description: "x", properties: { b: 2 } } }, alice.token));
  });

  it("is readable and writable through the permission closure", async () => {
    const { createGroup: project } = await ok(gql(z.url, `mutation { createGroup(input: { name: "crs", groupClass: "project" }) { uuid } }`, {}, alice.token));
    const cr = await created(alice.token, { ...spec(), ownerUuid: project.uuid });
    expectError(await gql(z.url, GET_CR, { u: cr.uuid }, bob.token), "NOT_FOUND", /not found/);
    expectError(await gql(z.url, UPDATE, { u: cr.uuid, i: { name: "mine" } }, bob.token), "NOT_FOUND", /not found/);
    await z.root(`mutation($h: ID!, $t: ID!) { grantPermission(headUuid: $h, tailUuid: $t, level: "can_read") { uuid } }`, { h: project.uuid, t: bob.uuid });
    expect((await ok(gql(z.url, GET_CR, { u: cr.uuid }, bob.token))).containerRequest.uuid).toBe(cr.uuid);
    expectError(await gql(z.url, UPDATE, { u: cr.uuid, i: { name: "mine" } }, bob.token), "FORBIDDEN", /read-only/);
    const listed = await ok(gql(z.url, `{ containerRequests(first: 1000) { nodes { uuid } } }`, {}, bob.token));
    expect(listed.containerRequests.nodes.map((n: { uuid: string }) => n.uuid)).toContain(cr.uuid);
    expectError(await create(bob.token, { ...spec(), ownerUuid: project.uuid }), "FORBIDDEN", /cannot write/);
    // The project is not empty while it owns a request.
    expectError(await gql(z.url, `mutation($u: ID!) { deleteGroup(uuid: $u) { uuid } }`, { u: project.uuid }, alice.token), "CONFLICT", /not empty/);
  });
});

describe("containers", () => {
  it("locks only for an admin's token, only when Queued with priority > 0", async () => {
    const waiting = await committed(alice.token, { priority: 0 });
    expect(waiting.state).toBe("Committed");
    expectError(await lock(d1, waiting.containerUuid), "CONFLICT", /priority 0/);
    const cr = await committed(alice.token);
    expectError(await lock(alice, cr.containerUuid), "FORBIDDEN", /admin/);
    const locked = (await ok(lock(d1, cr.containerUuid))).lockContainer;
    expect(locked).toMatchObject({ state: "Locked", lockedByUuid: d1.tokenUuid, lockCount: 1 });
    expectError(await lock(d2, cr.containerUuid), "CONFLICT", /is Locked/);
    expectError(await lock(d1, cr.containerUuid), "CONFLICT", /is Locked/);
  });

  it("records the system root token's own record as the lock holder, and currentToken answers for it", async () => {
    const root = await ok(gql(z.url, `{ currentToken { uuid scopes { method } } }`, {}, z.rootToken));
    expect(root.currentToken).toEqual({ uuid: "aaaaa-gj3su-000000000000000", scopes: null });
    const cr = await committed(alice.token);
    expect((await ok(gql(z.url, LOCK, { u: cr.containerUuid }, z.rootToken))).lockContainer.lockedByUuid).toBe("aaaaa-gj3su-000000000000000");
    expectError(await gql(z.url, `mutation { revokeToken(uuid: "aaaaa-gj3su-000000000000000") { uuid } }`, {}, z.rootToken), "FORBIDDEN", /systemRootToken/);
    expectError(await gql(z.url, `{ viewer { uuid } }`, {}, `v2/aaaaa-gj3su-000000000000000/${"a".repeat(50)}`), "UNAUTHENTICATED", /invalid/);
  });

  it("lets only the locking token unlock or fetch the auth; unlock kills the container's token and the next lock mints another", async () => {
    const cr = await committed(alice.token);
    const ct = cr.containerUuid;
    await ok(lock(d1, ct));
    for (const other of [d2, alice]) {
      expectError(await gql(z.url, UNLOCK, { u: ct }, other.token), "FORBIDDEN", other === alice ? /admin/ : /holding the lock/);
      expectError(await gql(z.url, AUTH, { u: ct }, other.token), "FORBIDDEN", /holding the lock/);
    }
    const first = await authOf(d1, ct);
    expect(first.token).toMatch(new RegExp(`^v2/${first.uuid}/[a-z0-9]{50}/${ct}$`));
    expect((await authOf(d1, ct)).token).toBe(first.token);
    expect((await ok(gql(z.url, CURRENT, {}, first.token))).currentContainer).toEqual({ uuid: ct, state: "Locked" });
    // With or without the 4th field, and never for another container.
    expect((await ok(gql(z.url, CURRENT, {}, first.token.split("/").slice(0, 3).join("/")))).currentContainer.uuid).toBe(ct);
    expectError(await gql(z.url, CURRENT, {}, `${first.token.split("/").slice(0, 3).join("/")}/aaaaa-dz642-000000000000000`), "UNAUTHENTICATED", /container/);

    const unlocked = (await ok(gql(z.url, UNLOCK, { u: ct }, d1.token))).unlockContainer;
    expect(unlocked).toMatchObject({ state: "Queued", lockedByUuid: null, authUuid: null });
    expectError(await gql(z.url, CURRENT, {}, first.token), "UNAUTHENTICATED", /revoked|Locked or Running/);
    expectError(await gql(z.url, AUTH, { u: ct }, d1.token), "FORBIDDEN", /holding the lock/);

    await ok(lock(d2, ct));
    const second = await authOf(d2, ct);
    expect(second.uuid).not.toBe(first.uuid);
    expectError(await gql(z.url, CURRENT, {}, first.token), "UNAUTHENTICATED", /revoked|Locked or Running/);
    expect((await ok(gql(z.url, CURRENT, {}, second.token))).currentContainer.uuid).toBe(ct);
    expectError(await gql(z.url, UNLOCK, { u: ct }, d1.token), "FORBIDDEN", /holding the lock/);
  });

  it("allows only the life cycle's transitions, and only to the container's token and the dispatcher holding the lock", async () => {
    const cr = await committed(alice.token);
    const ct = cr.containerUuid;
    expectError(await gql(z.url, UNLOCK, { u: ct }, d1.token), "CONFLICT", /is Queued/);
    // A transition the life cycle has not is a CONFLICT naming the state, whoever asks it (of those who may update it at all).
    expectError(await updateContainer(d1.token, ct, { state: "Running" }), "CONFLICT", /is Queued: it cannot become Running/);
    expectError(await updateContainer(alice.token, ct, { state: "Running" }), "FORBIDDEN", /holding the lock/);
    await ok(lock(d1, ct));
    const token = (await authOf(d1, ct)).token;
    expectError(await updateContainer(token, ct, { state: "Complete", exitCode: 0 }), "CONFLICT", /is Locked/);
    expectError(await updateContainer(token, ct, { exitCode: 0 }), "CONFLICT", /is Locked/);
    expectError(await updateContainer(d1.token, ct, { state: "Running", exitCode: 0 }), "FORBIDDEN", /only the state/);
    expectError(await updateContainer(alice.token, ct, { state: "Running" }), "FORBIDDEN", /holding the lock/);
    expect((await ok(updateContainer(d1.token, ct, { state: "Running" }))).updateContainer.state).toBe("Running");
    expectError(await gql(z.url, UNLOCK, { u: ct }, d1.token), "CONFLICT", /is Running/);
    expectError(await updateContainer(token, ct, { state: "Queued" }), "CONFLICT", /is Running/);
    expectError(await updateContainer(token, ct, { state: "Locked" }), "CONFLICT", /is Running/);
    expectError(await updateContainer(d1.token, ct, { state: "Complete" }), "FORBIDDEN", /cannot set state Complete/);
    expectError(await updateContainer(token, ct, { state: "Complete" }), "BAD_USER_INPUT", /exitCode/);
    const log = (await ok(gql(z.url, `mutation { createCollection(input: { name: "log" }) { uuid } }`, {}, token))).createCollection.uuid;
    expectError(await updateContainer(token, ct, { log: "not-a-uuid" }), "BAD_USER_INPUT", /input\.log/);
    // Its log is a collection it created, not any the runtime user can name.
    const alicesOwn = (await ok(gql(z.url, `mutation { createCollection(input: { name: "not a log" }) { uuid } }`, {}, alice.token))).createCollection.uuid;
    expectError(await updateContainer(token, ct, { log: alicesOwn }), "BAD_USER_INPUT", /log: .* is not a collection container .* created/);
    expect((await container(ct)).log).toBeNull();
    await ok(updateContainer(token, ct, { progress: 0.5, runtimeStatus: { note: "half" }, output: "d41d8cd98f00b204e9800998ecf8427e+0", log }));
    const done = (await ok(updateContainer(token, ct, { state: "Complete", exitCode: 3 }))).updateContainer;
    expect(done).toMatchObject({ state: "Complete", exitCode: 3, lockedByUuid: null, log });
    expect(await request(cr.uuid)).toMatchObject({ state: "Final", logUuid: log });
    // The container's token died with it; the dispatcher's lock is gone.
    expectError(await updateContainer(token, ct, { state: "Cancelled" }), "UNAUTHENTICATED", /revoked|Locked or Running/);
    expectError(await gql(z.url, CURRENT, {}, token), "UNAUTHENTICATED", /revoked|Locked or Running/);
    expectError(await updateContainer(d1.token, ct, { state: "Cancelled" }), "CONFLICT", /is Complete: it cannot become Cancelled/);
    expectError(await lock(d1, ct), "CONFLICT", /is Complete/);
  });

  it("lets an admin not holding the lock cancel a container, and nothing else", async () => {
    const queued = await committed(alice.token, { containerCountMax: 1 });
    expectError(await updateContainer(d2.token, queued.containerUuid, { state: "Locked" }), "FORBIDDEN", /admin's token not holding the lock cannot set state Locked/);
    expectError(await updateContainer(d2.token, queued.containerUuid, { progress: 0.1 }), "FORBIDDEN", /may set only the state/);
    expect((await ok(updateContainer(d2.token, queued.containerUuid, { state: "Cancelled" }))).updateContainer.state).toBe("Cancelled");
    expect(await request(queued.uuid)).toMatchObject({ state: "Final" });

    const held = await committed(alice.token, { containerCountMax: 1 });
    const token = await run(d1, held.containerUuid);
    expectError(await updateContainer(d2.token, held.containerUuid, { state: "Complete" }), "FORBIDDEN", /cannot set state Complete/);
    expect((await ok(updateContainer(d2.token, held.containerUuid, { state: "Cancelled" }))).updateContainer.state).toBe("Cancelled");
    expectError(await gql(z.url, CURRENT, {}, token), "UNAUTHENTICATED", /revoked|Locked or Running/);
  });

  it("lets a container's token change only the collections its container created", async () => {
    const cr = await committed(alice.token, { containerCountMax: 1 });
    const token = await run(d1, cr.containerUuid);
    const CREATE_COLL = `mutation { createCollection(input: { name: "out" }) { uuid } }`;
    const RENAME = `mutation($u: ID!) { updateCollection(uuid: $u, input: { name: "renamed" }) { uuid name } }`;
    const own = (await ok(gql(z.url, CREATE_COLL, {}, token))).createCollection.uuid;
    const alices = (await ok(gql(z.url, CREATE_COLL, {}, alice.token))).createCollection.uuid;
    expect((await ok(gql(z.url, RENAME, { u: own }, token))).updateCollection.name).toBe("renamed");
    // Alice may write hers; the container running as Alice may not.
    expectError(await gql(z.url, RENAME, { u: alices }, token), "FORBIDDEN", /only the collections its container created/);
    expect((await z.db.prisma.collection.findUnique({ where: { uuid: alices } }))!.name).toBe("out");
    expect((await ok(gql(z.url, RENAME, { u: own }, alice.token))).updateCollection.name).toBe("renamed");
  });

  it("acts as the container only with the token of its current lock, even when a cache still holds an earlier one", async () => {
    const cr = await committed(alice.token);
    const ct = cr.containerUuid;
    const stale = await run(d1, ct);
    expect((await ok(gql(z.url, CURRENT, {}, stale))).currentContainer.uuid).toBe(ct); // now cached
    // A re-lock on another replica whose revocation push this one missed: the old token's row
    // revoked and a new token recorded on the container, while this replica's cache still has the old one.
    const staleUuid = (await container(ct)).authUuid;
    await z.db.prisma.apiToken.update({ where: { uuid: staleUuid }, data: { revokedAt: new Date() } });
    await z.db.prisma.container.update({ where: { uuid: ct }, data: { authUuid: d2.tokenUuid } });
    expectError(await gql(z.url, CURRENT, {}, stale), "NOT_FOUND", /current container/);
    expectError(await updateContainer(stale, ct, { progress: 0.9 }), "FORBIDDEN", /holding the lock/);
    expectError(await updateContainer(stale, ct, { state: "Complete", exitCode: 0 }), "FORBIDDEN", /holding the lock/);
    expect(await container(ct)).toMatchObject({ state: "Running", exitCode: null });
  });

  it("refuses the container's token once it is Cancelled by the dispatcher", async () => {
    const cr = await committed(alice.token, { containerCountMax: 1 });
    const token = await run(d1, cr.containerUuid);
    expect((await ok(updateContainer(d1.token, cr.containerUuid, { state: "Cancelled" }))).updateContainer.state).toBe("Cancelled");
    expectError(await gql(z.url, CURRENT, {}, token), "UNAUTHENTICATED", /revoked|Locked or Running/);
    expect(await request(cr.uuid)).toMatchObject({ state: "Final", containerCount: 1 });
    const row = await z.db.prisma.container.findUnique({ where: { uuid: cr.containerUuid } });
    expect(row).toMatchObject({ authTokenSealed: null, lockedByUuid: null });
  });

  it("has the highest priority of the committed requests that want it; 0 cancels a Queued container", async () => {
    const tag = randomBytes(6).toString("hex");
    const low = await committed(alice.token, { priority: 10 }, tag);
    const high = await committed(alice.token, { priority: 500 }, tag);
    expect(high.containerUuid).toBe(low.containerUuid);
    const ct = low.containerUuid;
    expect((await container(ct)).priority).toBe(500);
    await ok(gql(z.url, UPDATE, { u: high.uuid, i: { priority: 20 } }, alice.token));
    expect((await container(ct)).priority).toBe(20);
    await ok(gql(z.url, CANCEL, { u: high.uuid }, alice.token));
    expect((await container(ct)).priority).toBe(10);
    expect((await container(ct)).state).toBe("Queued");
    await ok(gql(z.url, CANCEL, { u: low.uuid }, alice.token));
    expect(await container(ct)).toMatchObject({ state: "Cancelled", priority: 0 });
    expect((await request(low.uuid)).state).toBe("Final");
    expect((await request(high.uuid)).state).toBe("Final");
  });

  it("leaves a Locked container to its dispatcher when its requests are cancelled, and cancels it when unlocked", async () => {
    const cr = await committed(alice.token);
    await ok(lock(d1, cr.containerUuid));
    await ok(gql(z.url, CANCEL, { u: cr.uuid }, alice.token));
    expect(await container(cr.containerUuid)).toMatchObject({ state: "Locked", priority: 0 });
    expect((await request(cr.uuid)).state).toBe("Committed");
    expect((await ok(gql(z.url, UNLOCK, { u: cr.containerUuid }, d1.token))).unlockContainer.state).toBe("Cancelled");
    expect(await request(cr.uuid)).toMatchObject({ state: "Final", containerCount: 1 });
  });

  it("retries a Cancelled container while containerCount < containerCountMax", async () => {
    const cr = await committed(alice.token, { containerCountMax: 2 });
    const first = cr.containerUuid;
    await run(d1, first);
    await ok(updateContainer(d1.token, first, { state: "Cancelled" }));
    const retried = await request(cr.uuid);
    expect(retried).toMatchObject({ state: "Committed", containerCount: 2 });
    expect(retried.containerUuid).not.toBe(first);
    expect(await container(retried.containerUuid)).toMatchObject({ state: "Queued", priority: 500 });
    await ok(lock(d1, retried.containerUuid));
    await ok(updateContainer(d1.token, retried.containerUuid, { state: "Cancelled" }));
    expect(await request(cr.uuid)).toMatchObject({ state: "Final", containerCount: 2, containerUuid: retried.containerUuid });
  });

  it(`cancels a container unlocked after ${MAX_DISPATCH} dispatch attempts, saying why`, async () => {
    const cr = await committed(alice.token, { containerCountMax: 1 });
    const ct = cr.containerUuid;
    for (let i = 1; i < MAX_DISPATCH; i++) {
      await ok(lock(i % 2 ? d1 : d2, ct));
      expect((await ok(gql(z.url, UNLOCK, { u: ct }, (i % 2 ? d1 : d2).token))).unlockContainer.state).toBe("Queued");
    }
    await ok(lock(d1, ct));
    const last = (await ok(gql(z.url, UNLOCK, { u: ct }, d1.token))).unlockContainer;
    expect(last).toMatchObject({ state: "Cancelled", lockCount: MAX_DISPATCH });
    expect(last.runtimeStatus.error).toMatch(/dispatch attempts/);
    expect((await request(cr.uuid)).state).toBe("Final");
  });

  it("answers currentContainer only for a container's own token", async () => {
    expectError(await gql(z.url, CURRENT, {}, alice.token), "NOT_FOUND", /current container/);
  });
});

describe("reuse", () => {
  const pdh = () => `${randomBytes(16).toString("hex")}+0`;

  it("prefers a Complete container with exit code 0 and readable output, then Running, Locked, Queued; never Cancelled", async () => {
    const tag = randomBytes(6).toString("hex");
    const queued = await committed(alice.token, {}, tag);
    const again = await committed(alice.token, {}, tag);
    expect(again.containerUuid).toBe(queued.containerUuid);

    const fresh = await committed(alice.token, { useExisting: false }, tag);
    expect(fresh.containerUuid).not.toBe(queued.containerUuid);
    await ok(lock(d1, fresh.containerUuid));
    expect((await committed(alice.token, {}, tag)).containerUuid).toBe(fresh.containerUuid); // Locked over Queued
    const token = (await authOf(d1, fresh.containerUuid)).token;
    await ok(updateContainer(token, fresh.containerUuid, { state: "Running" }));
    const third = await committed(alice.token, { useExisting: false }, tag);
    await ok(lock(d1, third.containerUuid));
    expect((await committed(alice.token, {}, tag)).containerUuid).toBe(fresh.containerUuid); // Running over Locked

    // Complete with exit 0 and an output alice can read: reused, and the request is Final at once.
    const output = pdh();
    const collection = (await ok(gql(z.url, `mutation($p: String!) { createCollection(input: { name: "out", portableDataHash: $p }) { uuid } }`, { p: output }, alice.token))).createCollection.uuid;
    await ok(updateContainer(token, fresh.containerUuid, { state: "Complete", exitCode: 0, output }));
    expect(await request(fresh.uuid)).toMatchObject({ state: "Final", outputUuid: collection });
    const reused = await committed(alice.token, {}, tag);
    expect(reused).toMatchObject({ containerUuid: fresh.containerUuid, state: "Final", outputUuid: collection });
  });

  it("does not reuse a Complete container that failed, or whose output the requester cannot read, or a Cancelled one", async () => {
    const failedTag = randomBytes(6).toString("hex");
    const failed = await committed(alice.token, {}, failedTag);
    const t1 = await run(d1, failed.containerUuid);
    await ok(updateContainer(t1, failed.containerUuid, { state: "Complete", exitCode: 1 }));
    expect((await committed(alice.token, {}, failedTag)).containerUuid).not.toBe(failed.containerUuid);

    const hiddenTag = randomBytes(6).toString("hex");
    const hidden = await committed(alice.token, {}, hiddenTag);
    const output = pdh();
    await ok(gql(z.url, `mutation($p: String!) { createCollection(input: { name: "bob's", portableDataHash: $p }) { uuid } }`, { p: output }, bob.token));
    const t2 = await run(d1, hidden.containerUuid);
    await ok(updateContainer(t2, hidden.containerUuid, { state: "Complete", exitCode: 0, output }));
    expect(await request(hidden.uuid)).toMatchObject({ state: "Final", outputUuid: null }); // bob's collection is not its runtime user's
    expect((await committed(alice.token, {}, hiddenTag)).containerUuid).not.toBe(hidden.containerUuid);

    const cancelledTag = randomBytes(6).toString("hex");
    const cancelled = await committed(alice.token, { containerCountMax: 1 }, cancelledTag);
    await ok(gql(z.url, CANCEL, { u: cancelled.uuid }, alice.token));
    expect((await container(cancelled.containerUuid)).state).toBe("Cancelled");
    expect((await committed(alice.token, {}, cancelledTag)).containerUuid).not.toBe(cancelled.containerUuid);
  });

  it("does not reuse across runtime users or runtime scopes", async () => {
    const tag = randomBytes(6).toString("hex");
    const mine = await committed(alice.token, {}, tag);
    const bobs = await committed(bob.token, {}, tag);
    expect(bobs.containerUuid).not.toBe(mine.containerUuid);
    expect((await container(bobs.containerUuid)).runtimeUserUuid).toBe(bob.uuid);

    const scopes = [{ method: "POST", path: "/arvados/v1/container_requests" }, { method: "GET", path: "/arvados/v1/containers/" }];
    const scoped = (await ok(gql(z.url, `mutation($s: [ScopeInput!]) { createToken(input: { scopes: $s }) { token } }`, { s: scopes }, alice.token))).createToken.token;
    const viaScoped = (await ok(gql(z.url, `mutation($i: CreateContainerRequestInput!) { createContainerRequest(input: $i) { uuid containerUuid } }`, { i: { ...spec(tag), state: "Committed", priority: 1 } }, scoped))).createContainerRequest;
    expect(viaScoped.containerUuid).not.toBe(mine.containerUuid);
    const scopedContainer = await container(viaScoped.containerUuid);
    expect(scopedContainer.runtimeUserUuid).toBe(alice.uuid);
    expect(scopedContainer.runtimeAuthScopes).toEqual([...scopes].sort((a, b) => (`${a.method} ${a.path}` < `${b.method} ${b.path}` ? -1 : 1)));

    // A runtime token of bob's, submitted by alice: the container runs as bob, reused with bob's own.
    const viaRuntime = await committed(alice.token, { runtimeToken: bob.token }, tag);
    expect(viaRuntime.containerUuid).toBe(bobs.containerUuid);
  });
});

describe("runtime tokens", () => {
  it("refuses an invalid, revoked or unknown runtime token with BAD_USER_INPUT, creating nothing", async () => {
    const t = (await ok(gql(z.url, `mutation { createToken(input: {}) { uuid token } }`, {}, alice.token))).createToken;
    await ok(gql(z.url, `mutation($u: ID!) { revokeToken(uuid: $u) { uuid } }`, { u: t.uuid }, alice.token));
    const before = await rowCounts();
    for (const runtimeToken of [t.token, `${alice.token.slice(0, -4)}zzzz`, `v2/aaaaa-gj3su-${"q".repeat(15)}/${"x".repeat(50)}`, "v2/nonsense", z.rootToken]) {
      const r = await create(alice.token, { ...spec(), state: "Committed", runtimeToken });
      expectError(r, "BAD_USER_INPUT", /runtimeToken/);
      expect(JSON.stringify(r)).not.toContain(runtimeToken.split("/")[2] ?? runtimeToken);
    }
    expect(await rowCounts()).toEqual(before);
  });

  it("takes a runtime token on an uncommitted request's update (validated likewise), not after commit", async () => {
    const rt = (await ok(gql(z.url, `mutation { createToken(input: {}) { uuid token } }`, {}, bob.token))).createToken;
    const cr = await created(alice.token, spec());
    expect(cr.hasRuntimeToken).toBe(false);
    expectError(await gql(z.url, UPDATE, { u: cr.uuid, i: { runtimeToken: `${rt.token.slice(0, -4)}zzzz` } }, alice.token), "BAD_USER_INPUT", /runtimeToken/);
    expect((await request(cr.uuid)).hasRuntimeToken).toBe(false);
    const withToken = (await ok(gql(z.url, UPDATE, { u: cr.uuid, i: { runtimeToken: rt.token, state: "Committed", priority: 1 } }, alice.token))).updateContainerRequest;
    expect(withToken.hasRuntimeToken).toBe(true);
    expect((await container(withToken.containerUuid)).runtimeUserUuid).toBe(bob.uuid);
    expectError(await gql(z.url, UPDATE, { u: cr.uuid, i: { runtimeToken: rt.token } }, alice.token), "CONFLICT", /is Committed: runtimeToken/);
  });

  it("runs a request as whoever commits it: a writer of another's request commits it as itself, and cannot use a runtime token another gave", async () => {
    const { createGroup: project } = await ok(gql(z.url, `mutation { createGroup(input: { name: "shared-crs", groupClass: "project" }) { uuid } }`, {}, alice.token));
    await z.root(`mutation($h: ID!, $t: ID!) { grantPermission(headUuid: $h, tailUuid: $t, level: "can_write") { uuid } }`, { h: project.uuid, t: bob.uuid });
    const privy = (await ok(gql(z.url, `mutation { createCollection(input: { name: "alice private" }) { uuid } }`, {}, alice.token))).createCollection.uuid;
    const READ = `query($u: ID!) { collection(uuid: $u) { uuid } }`;
    const withPrivy = { mounts: { "/out": { kind: "tmp" }, "/in": { kind: "collection", uuid: privy } }, command: ["cat", "/in/x"] };

    // No runtime token: bob changes alice's draft and commits it; it runs as bob, with bob's token's scopes.
    const draft = await created(alice.token, { ...spec(), ownerUuid: project.uuid });
    const c = (await ok(gql(z.url, UPDATE, { u: draft.uuid, i: { ...withPrivy, state: "Committed", priority: 1 } }, bob.token))).updateContainerRequest;
    expect(c.state).toBe("Committed");
    expect((await container(c.containerUuid)).runtimeUserUuid).toBe(bob.uuid);
    expect((await z.db.prisma.containerRequest.findUnique({ where: { uuid: draft.uuid } }))!.runtimeUserUuid).toBe(bob.uuid);
    const token = await run(d1, c.containerUuid);
    expect((await ok(gql(z.url, READ, { u: privy }, alice.token))).collection.uuid).toBe(privy);
    const refused = await gql(z.url, READ, { u: privy }, token);
    expect(codes(refused)).toEqual(["NOT_FOUND"]);
    expect(refused.data?.collection ?? null).toBeNull();

    // A runtime token alice gave: bob may neither change what runs nor commit without giving one of his own.
    const mine = (await ok(gql(z.url, `mutation { createToken(input: {}) { token } }`, {}, alice.token))).createToken.token;
    const held = await created(alice.token, { ...spec(), ownerUuid: project.uuid, runtimeToken: mine });
    const before = await z.db.prisma.containerRequest.findUnique({ where: { uuid: held.uuid } });
    for (const i of [{ state: "Committed", priority: 1 }, withPrivy, { environment: { X: "y" } }])
      expectError(await gql(z.url, UPDATE, { u: held.uuid, i }, bob.token), "FORBIDDEN", /runtime token that another user gave: give runtimeToken/);
    expect(await z.db.prisma.containerRequest.findUnique({ where: { uuid: held.uuid } })).toEqual(before);
    await ok(gql(z.url, UPDATE, { u: held.uuid, i: { name: "renamed by bob" } }, bob.token));
    const bobs = (await ok(gql(z.url, UPDATE, { u: held.uuid, i: { ...withPrivy, runtimeToken: bob.token, state: "Committed", priority: 1 } }, bob.token))).updateContainerRequest;
    expect((await container(bobs.containerUuid)).runtimeUserUuid).toBe(bob.uuid);
    // alice commits one holding her own runtime token: it runs as her.
    const hers = await created(alice.token, { ...spec(), ownerUuid: project.uuid, runtimeToken: mine });
    const committedByHer = (await ok(gql(z.url, UPDATE, { u: hers.uuid, i: { ...withPrivy, state: "Committed", priority: 1 } }, alice.token))).updateContainerRequest;
    expect(committedByHer.hasRuntimeToken).toBe(true);
    expect((await container(committedByHer.containerUuid)).runtimeUserUuid).toBe(alice.uuid);
  });

  it("gives the container a child of a local runtime token, bound to it, never the runtime token; scrubs it when final", async () => {
    const rt = (await ok(gql(z.url, `mutation { createToken(input: {}) { uuid token } }`, {}, alice.token))).createToken;
    const cr = await committed(alice.token, { runtimeToken: rt.token });
    expect(cr.hasRuntimeToken).toBe(true);
    await ok(lock(d1, cr.containerUuid));
    const auth = await authOf(d1, cr.containerUuid);
    expect(auth.uuid).not.toBe(rt.uuid);
    expect(auth.token).not.toContain(rt.token.split("/")[2]);
    expect(auth.token.endsWith(`/${cr.containerUuid}`)).toBe(true);
    const child = await z.db.prisma.apiToken.findUnique({ where: { uuid: auth.uuid } });
    expect(child).toMatchObject({ parentUuid: rt.uuid, containerUuid: cr.containerUuid, userUuid: alice.uuid });
    const ttl = new Date(auth.expiresAt).getTime() - Date.now();
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(3600 * 1000);
    expect((await ok(gql(z.url, CURRENT, {}, auth.token))).currentContainer.uuid).toBe(cr.containerUuid);

    await ok(updateContainer(auth.token, cr.containerUuid, { state: "Running" }));
    const stored = await z.db.prisma.container.findUnique({ where: { uuid: cr.containerUuid } });
    expect(stored!.runtimeTokenSealed).not.toBeNull();
    await ok(updateContainer(auth.token, cr.containerUuid, { state: "Complete", exitCode: 0 }));
    expect(await request(cr.uuid)).toMatchObject({ state: "Final", hasRuntimeToken: false });
    expect((await z.db.prisma.containerRequest.findUnique({ where: { uuid: cr.uuid } }))!.runtimeTokenSealed).toBeNull();
    expect((await z.db.prisma.container.findUnique({ where: { uuid: cr.containerUuid } }))!.runtimeTokenSealed).toBeNull();
    expect((await z.db.prisma.apiToken.findUnique({ where: { uuid: auth.uuid } }))!.revokedAt).not.toBeNull();
    expectError(await gql(z.url, `{ viewer { uuid } }`, {}, auth.token), "UNAUTHENTICATED", /revoked|Locked or Running/);
  });

  it("carries the runtime token to a retry, and cancels a container whose runtime token was revoked", async () => {
    const rt = (await ok(gql(z.url, `mutation { createToken(input: {}) { uuid token } }`, {}, alice.token))).createToken;
    const cr = await committed(alice.token, { runtimeToken: rt.token, containerCountMax: 2 });
    await ok(lock(d1, cr.containerUuid));
    await ok(updateContainer(d1.token, cr.containerUuid, { state: "Cancelled" }));
    const retried = await request(cr.uuid);
    expect(retried).toMatchObject({ state: "Committed", hasRuntimeToken: true, containerCount: 2 });
    const next = await z.db.prisma.container.findUnique({ where: { uuid: retried.containerUuid } });
    expect(next).toMatchObject({ runtimeTokenUuid: rt.uuid });
    expect(next!.runtimeTokenSealed).not.toBeNull();

    await ok(gql(z.url, `mutation($u: ID!) { revokeToken(uuid: $u) { uuid } }`, { u: rt.uuid }, alice.token));
    expectError(await lock(d1, retried.containerUuid), "CONFLICT", /runtime token has been revoked/);
    const dead = await container(retried.containerUuid);
    expect(dead.state).toBe("Cancelled");
    expect(dead.runtimeStatus.error).toMatch(/revoked/);
    expect(await request(cr.uuid)).toMatchObject({ state: "Final", hasRuntimeToken: false });
  });

  it("revokes the container's child token when its runtime token is revoked", async () => {
    const rt = (await ok(gql(z.url, `mutation { createToken(input: {}) { uuid token } }`, {}, alice.token))).createToken;
    const cr = await committed(alice.token, { runtimeToken: rt.token });
    const token = await run(d1, cr.containerUuid);
    await ok(gql(z.url, `mutation($u: ID!) { revokeToken(uuid: $u) { uuid } }`, { u: rt.uuid }, alice.token));
    expectError(await gql(z.url, CURRENT, {}, token), "UNAUTHENTICATED", /revoked/);
  });
});
