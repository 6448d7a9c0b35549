/**
 * Secret mounts: a container request names secrets by uuid and version (pinned at commit, the
 * requester must be able to read each one), they take part in reuse by identity, and the
 * running container, and nothing else, fetches exactly those values with its own token
 * (containerSecrets), only while Running. Across clusters, a secret homed elsewhere is read at
 * its home with the container's token, and the home asks the container's cluster, uncached,
 * whether the container is Running.
 */
import { codes, createUserWithToken, gql, ok, startFederation, startTestCluster, type GqlResult, type TestCluster } from "../helpers/federation";

type User = { uuid: string; token: string; tokenUuid: string };

const CREATE_SECRET = `mutation($i: CreateSecretInput!) { createSecret(input: $i) { uuid } }`;
const UPDATE_SECRET = `mutation($u: ID!, $v: String!) { updateSecret(uuid: $u, input: { value: $v }) { currentVersion } }`;
const CR = `uuid state containerUuid secretMounts { path secretUuid version } container { uuid secretMounts { path secretUuid version } }`;
const CREATE = `mutation($i: CreateContainerRequestInput!, $c: String) { createContainerRequest(input: $i, cluster: $c) { ${CR} } }`;
const UPDATE = `mutation($u: ID!, $i: UpdateContainerRequestInput!) { updateContainerRequest(uuid: $u, input: $i) { ${CR} } }`;
const LOCK = `mutation($u: ID!) { lockContainer(uuid: $u) { uuid } }`;
const AUTH = `query($u: ID!) { containerAuth(uuid: $u) { token clusterScopes } }`;
const UPDATE_CT = `mutation($u: ID!, $i: UpdateContainerInput!) { updateContainer(uuid: $u, input: $i) { state } }`;
const SECRETS = `{ containerSecrets { path secretUuid version value } }`;
const VALUE = `query($u: ID!) { secretValue(uuid: $u) { value } }`;

const spec = (tag: string, secretMounts: unknown[], extra: Record<string, unknown> = {}) => ({
  command: ["true"], containerImage: "img", outputPath: "/out", mounts: { "/out": { kind: "tmp" } },
  runtimeConstraints: { vcpus: 1, ram: 1024 }, environment: { TAG: tag }, state: "Committed", priority: 1, secretMounts, ...extra,
});

function refused(r: GqlResult, code: string, message?: RegExp) {
  expect(codes(r)).toEqual([code]);
  if (message) expect(r.errors![0].message).toMatch(message);
}

async function secretOn(cl: TestCluster, owner: User, value: string): Promise<string> {
  return (await ok(gql(cl.url, CREATE_SECRET, { i: { name: `s-${value}`, value } }, owner.token))).createSecret.uuid;
}

async function dispatcherOn(cl: TestCluster): Promise<User> {
  const { createUser } = await cl.root(`mutation { createUser(input: { email: "dispatch@${cl.id}", isAdmin: true }) { uuid } }`);
  const { createToken } = await cl.root(`mutation($u: ID!) { createToken(input: { userUuid: $u }) { uuid token } }`, { u: createUser.uuid });
  return { uuid: createUser.uuid, token: createToken.token, tokenUuid: createToken.uuid };
}

/** Locks the container as `dispatcher`; its own token, and Running set with it unless `running` is false. */
async function start(cl: TestCluster, dispatcher: User, containerUuid: string, running = true): Promise<{ token: string; clusterScopes: Record<string, unknown> }> {
  await ok(gql(cl.url, LOCK, { u: containerUuid }, dispatcher.token));
  const auth = (await ok(gql(cl.url, AUTH, { u: containerUuid }, dispatcher.token))).containerAuth;
  if (running) await ok(gql(cl.url, UPDATE_CT, { u: containerUuid, i: { state: "Running" } }, auth.token));
  return auth;
}

describe("on one cluster", () => {
  let z: TestCluster;
  let alice: User;
  let bob: User;
  let dispatcher: User;
  let db: string;
  let api: string;

  beforeAll(async () => {
    z = await startTestCluster("zzzzz");
    alice = await createUserWithToken(z, "alice@example.org");
    bob = await createUserWithToken(z, "bob@example.org");
    dispatcher = await dispatcherOn(z);
    db = await secretOn(z, alice, "db-password-0001");
    api = await secretOn(z, alice, "api-key-value-0002");
  });
  afterAll(() => z?.stop());

  const requests = () => z.db.prisma.containerRequest.count();

  it("gives the running container exactly its mounts' values, pinned at commit, and only while it is Running", async () => {
    const cr = (await ok(gql(z.url, CREATE, { i: spec("main", [{ path: "secrets/db", secretUuid: db }, { path: "/etc/api", secretUuid: api, version: 1 }]) }, alice.token))).createContainerRequest;
    const pinned = [{ path: "/etc/api", secretUuid: api, version: 1 }, { path: "/secrets/db", secretUuid: db, version: 1 }];
    expect(cr.secretMounts).toEqual(pinned);
    expect(cr.container.secretMounts).toEqual(pinned);
    await ok(gql(z.url, UPDATE_SECRET, { u: db, v: "db-password-newer" }, alice.token)); // version 2: not the pinned one

    const locked = await start(z, dispatcher, cr.containerUuid, false);
    refused(await gql(z.url, SECRETS, {}, locked.token), "FORBIDDEN", /is Locked/);
    refused(await gql(z.url, VALUE, { u: db }, locked.token), "FORBIDDEN", /not Running/);
    await ok(gql(z.url, UPDATE_CT, { u: cr.containerUuid, i: { state: "Running" } }, locked.token));

    expect((await ok(gql(z.url, SECRETS, {}, locked.token))).containerSecrets).toEqual([
      { path: "/etc/api", secretUuid: api, version: 1, value: "api-key-value-0002" },
      { path: "/secrets/db", secretUuid: db, version: 1, value: "db-password-0001" },
    ]);
    const reads = await z.db.prisma.auditLog.findMany({ where: { eventType: "secret_read", objectUuid: { in: [db, api] } } });
    expect(reads.map((r) => (r.properties as { containerUuid: string }).containerUuid)).toEqual([cr.containerUuid, cr.containerUuid]);
    // Nobody else fetches them through the container: not the requester, not the dispatcher.
    refused(await gql(z.url, SECRETS, {}, alice.token), "FORBIDDEN", /container's own token/);
    refused(await gql(z.url, SECRETS, {}, dispatcher.token), "FORBIDDEN");

    await ok(gql(z.url, UPDATE_CT, { u: cr.containerUuid, i: { state: "Complete", exitCode: 0 } }, locked.token));
    refused(await gql(z.url, SECRETS, {}, locked.token), "UNAUTHENTICATED");
  });

  it("reads no other secret with the container's token, even one the runtime user owns", async () => {
    const other = await secretOn(z, alice, "not-mounted-0003");
    const cr = (await ok(gql(z.url, CREATE, { i: spec("only-db", [{ path: "/db", secretUuid: db }]) }, alice.token))).createContainerRequest;
    const auth = await start(z, dispatcher, cr.containerUuid);
    expect((await ok(gql(z.url, VALUE, { u: db }, auth.token))).secretValue.value).toBe("db-password-newer");
    refused(await gql(z.url, VALUE, { u: other }, auth.token), "FORBIDDEN", /token scopes/);
  });

  it("pins an Uncommitted request's versions when it commits, and freezes its mounts from then on", async () => {
    const s = await secretOn(z, alice, "pin-me-v1-0004");
    const cr = (await ok(gql(z.url, CREATE, { i: spec("pin", [{ path: "/p", secretUuid: s }], { state: "Uncommitted" }) }, alice.token))).createContainerRequest;
    expect(cr.secretMounts).toEqual([{ path: "/p", secretUuid: s, version: null }]);
    await ok(gql(z.url, UPDATE_SECRET, { u: s, v: "pin-me-v2-0004" }, alice.token));
    const committed = (await ok(gql(z.url, UPDATE, { u: cr.uuid, i: { state: "Committed" } }, alice.token))).updateContainerRequest;
    expect(committed.secretMounts).toEqual([{ path: "/p", secretUuid: s, version: 2 }]);
    expect(committed.container.secretMounts).toEqual([{ path: "/p", secretUuid: s, version: 2 }]);
    refused(await gql(z.url, UPDATE, { u: cr.uuid, i: { secretMounts: [{ path: "/p", secretUuid: s, version: 1 }] } }, alice.token), "CONFLICT", /secretMounts can no longer change/);
  });

  it("refuses mounts the requester cannot read (FORBIDDEN) and bad ones (BAD_USER_INPUT), creating nothing", async () => {
    const before = await requests();
    refused(await gql(z.url, CREATE, { i: spec("bob", [{ path: "/db", secretUuid: db }]) }, bob.token), "FORBIDDEN", /cannot be read by the requester/);
    refused(await gql(z.url, CREATE, { i: spec("bob", [{ path: "/db", secretUuid: db }], { state: "Uncommitted" }) }, bob.token), "FORBIDDEN");
    const bad: [unknown[], RegExp, Record<string, unknown>?][] = [
      [[{ path: "/db", secretUuid: db, version: 9 }], /has no version 9/],
      [[{ path: "../db", secretUuid: db }], /secretMounts\[0\]\.path: must not contain "\.\."/],
      [[{ path: "/", secretUuid: db }], /secretMounts\[0\]\.path: must name a file/],
      [[{ path: "/a", secretUuid: db }, { path: "a/", secretUuid: api }], /"\/a" is mounted twice/],
      [[{ path: "/out/key", secretUuid: db }], /inside outputPath/],
      [[{ path: "/in", secretUuid: db }], /also a key of mounts/, { mounts: { "/out": { kind: "tmp" }, "/in": { kind: "tmp" } } }],
      [[{ path: "/db", secretUuid: "zzzzz-4zz18-000000000000000" }], /secretMounts\[0\]\.secretUuid: .* is not a secret uuid/],
      [[{ path: "/db", secretUuid: db, version: 0 }], /secretMounts\[0\]\.version/],
    ];
    for (const [mounts, message, extra] of bad) refused(await gql(z.url, CREATE, { i: spec("bad", mounts, extra) }, alice.token), "BAD_USER_INPUT", message);
    expect(await requests()).toBe(before);
  });

  it("refuses a token whose scopes do not allow reading a mounted secret's value", async () => {
    const { createToken } = await z.root(`mutation($u: ID!) { createToken(input: { userUuid: $u, scopes: [{ method: "POST", path: "/arvados/v1/container_requests" }] }) { token } }`, { u: alice.uuid });
    const before = await requests();
    refused(await gql(z.url, CREATE, { i: spec("scoped", [{ path: "/db", secretUuid: db }]) }, createToken.token), "FORBIDDEN", /token scopes do not allow GET \/arvados\/v1\/secrets\//);
    expect(await requests()).toBe(before);
  });

  it("reuses a container only for the same mounts by uuid and version", async () => {
    const s = await secretOn(z, alice, "reuse-v1-0005");
    const first = (await ok(gql(z.url, CREATE, { i: spec("reuse", [{ path: "/r", secretUuid: s }]) }, alice.token))).createContainerRequest;
    const same = (await ok(gql(z.url, CREATE, { i: spec("reuse", [{ path: "/r", secretUuid: s, version: 1 }]) }, alice.token))).createContainerRequest;
    expect(same.containerUuid).toBe(first.containerUuid);
    await ok(gql(z.url, UPDATE_SECRET, { u: s, v: "reuse-v2-0005" }, alice.token));
    const newer = (await ok(gql(z.url, CREATE, { i: spec("reuse", [{ path: "/r", secretUuid: s }]) }, alice.token))).createContainerRequest;
    const elsewhere = (await ok(gql(z.url, CREATE, { i: spec("reuse", [{ path: "/other", secretUuid: s, version: 1 }]) }, alice.token))).createContainerRequest;
    const none = (await ok(gql(z.url, CREATE, { i: spec("reuse", []) }, alice.token))).createContainerRequest;
    expect(new Set([first.containerUuid, newer.containerUuid, elsewhere.containerUuid, none.containerUuid]).size).toBe(4);
  });
});

describe("across clusters", () => {
  let fed: Record<string, TestCluster>;
  let a: TestCluster;
  let b: TestCluster;
  let ann: User;
  let dispatcher: User;
  let secret: string;

  beforeAll(async () => {
    fed = await startFederation(["aaaaa", "bbbbb"]);
    ({ aaaaa: a, bbbbb: b } = fed);
    ann = await createUserWithToken(a, "ann@example.org");
    dispatcher = await dispatcherOn(b);
    secret = await secretOn(a, ann, "home-on-aaaaa-0006");
  });
  afterAll(() => Promise.all(Object.values(fed ?? {}).map((cl) => cl.stop())));

  /** A request made on aaaaa to run on bbbbb, mounting aaaaa's secret. */
  async function requestOnB(tag: string) {
    return (await ok(gql(a.url, CREATE, { i: spec(tag, [{ path: "/s", secretUuid: secret }]), c: "bbbbb" }, ann.token))).createContainerRequest;
  }

  it("fetches a secret homed on aaaaa from a container on bbbbb, read at aaaaa with the container's token and audited there", async () => {
    const cr = await requestOnB("fetch");
    expect(cr.secretMounts).toEqual([{ path: "/s", secretUuid: secret, version: 1 }]);
    const auth = await start(b, dispatcher, cr.containerUuid);
    expect(auth.clusterScopes.aaaaa).toEqual([["GET", `/arvados/v1/secrets/${secret}`], ["GET", `/arvados/v1/secrets/${secret}/value`]]);
    expect((await ok(gql(b.url, SECRETS, {}, auth.token))).containerSecrets).toEqual([{ path: "/s", secretUuid: secret, version: 1, value: "home-on-aaaaa-0006" }]);
    const reads = await a.db.prisma.auditLog.findMany({ where: { eventType: "secret_read", objectUuid: secret } });
    expect(reads.map((r) => (r.properties as { containerUuid: string }).containerUuid)).toEqual([cr.containerUuid]);
    await ok(gql(b.url, UPDATE_CT, { u: cr.containerUuid, i: { state: "Complete", exitCode: 0 } }, auth.token));
  });

  it("is refused at aaaaa while the container on bbbbb is not Running, and after it ended even if aaaaa never heard of the end", async () => {
    const cr = await requestOnB("binding");
    const auth = await start(b, dispatcher, cr.containerUuid, false);
    // The token is valid at aaaaa (its home) and its cluster scopes allow the read there: only bbbbb knows it is merely Locked.
    refused(await gql(a.url, VALUE, { u: secret }, auth.token), "FORBIDDEN", /not Running/);
    await ok(gql(b.url, UPDATE_CT, { u: cr.containerUuid, i: { state: "Running" } }, auth.token));
    expect((await ok(gql(a.url, VALUE, { u: secret }, auth.token))).secretValue.value).toBe("home-on-aaaaa-0006");

    await ok(gql(b.url, UPDATE_CT, { u: cr.containerUuid, i: { state: "Complete", exitCode: 0 } }, auth.token));
    // As if bbbbb's revocation of the child had been lost on the way: aaaaa still asks bbbbb.
    const childUuid = auth.token.split("/")[1];
    await a.db.prisma.apiToken.update({ where: { uuid: childUuid }, data: { revokedAt: null } });
    expect((await ok(gql(a.url, `{ currentToken { uuid } }`, {}, auth.token))).currentToken.uuid).toBe(childUuid);
    refused(await gql(a.url, VALUE, { u: secret }, auth.token), "FORBIDDEN", /not Running/);
    refused(await gql(b.url, SECRETS, {}, auth.token), "UNAUTHENTICATED");
  });
});
