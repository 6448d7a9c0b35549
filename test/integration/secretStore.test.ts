/**
 * The secret store over HTTP: versions, access through permission links (can_read reads,
 * can_write adds versions, can_manage grants and deletes), NOT_FOUND without the name for
 * strangers, scopes, limits, and audit rows that never hold a value.
 */
import { codes, createUserWithToken, gql, ok, startFederation, startTestCluster, type TestCluster } from "../helpers/federation";

let z: TestCluster;
type Person = { uuid: string; token: string; tokenUuid: string };
let alice: Person, bob: Person, carol: Person;

const as = (p: Person, query: string, variables: Record<string, unknown> = {}) => gql(z.url, query, variables, p.token);
const okAs = (p: Person, query: string, variables: Record<string, unknown> = {}) => ok(as(p, query, variables));

const CREATE = `mutation($i: CreateSecretInput!) { createSecret(input: $i) { uuid name ownerUuid currentVersion versions { version createdByUuid } } }`;
const VALUE = `query($u: ID!, $v: Int) { secretValue(uuid: $u, version: $v) { uuid version value } }`;
const UPDATE = `mutation($u: ID!, $i: UpdateSecretInput!) { updateSecret(uuid: $u, input: $i) { currentVersion versions { version } } }`;
const GRANT = `mutation($h: ID!, $t: ID!, $l: String!) { grantPermission(headUuid: $h, tailUuid: $t, level: $l) { uuid } }`;

async function secret(by: Person, value: string, extra: Record<string, unknown> = {}): Promise<string> {
  return (await okAs(by, CREATE, { i: { name: "db password", value, ...extra } })).createSecret.uuid;
}
const valueOf = (p: Person, u: string, v?: number) => as(p, VALUE, { u, v });

beforeAll(async () => {
  z = await startTestCluster("zzzzz");
  alice = await createUserWithToken(z, "alice@example.org");
  bob = await createUserWithToken(z, "bob@example.org");
  carol = await createUserWithToken(z, "carol@example.org");
  // One lab: they can see each other, so they can share with each other (and nothing more).
  const lab = (await z.root(`mutation { createGroup(input: { name: "lab", groupClass: "role" }) { uuid } }`)).createGroup.uuid;
  for (const p of [alice, bob, carol]) await z.root(GRANT, { h: lab, t: p.uuid, l: "can_read" });
});
afterAll(() => z?.stop());

describe("versions", () => {
  it("stores version 1, makes a new version per value written, and reads each by number", async () => {
    const s = await okAs(alice, CREATE, { i: { name: "api key", value: "first-value-1111", description: "for the lab" } });
    expect(s.createSecret).toMatchObject({ name: "api key", ownerUuid: alice.uuid, currentVersion: 1, versions: [{ version: 1, createdByUuid: alice.uuid }] });
    expect(s.createSecret.uuid).toMatch(/^zzzzz-s3cr7-[a-z0-9]{15}$/);
    const u = s.createSecret.uuid;
    expect((await okAs(alice, UPDATE, { u, i: { value: "second-value-2222" } })).updateSecret).toEqual({ currentVersion: 2, versions: [{ version: 1 }, { version: 2 }] });
    expect((await okAs(alice, UPDATE, { u, i: { description: "renamed only" } })).updateSecret.currentVersion).toBe(2);
    expect((await ok(valueOf(alice, u))).secretValue).toEqual({ uuid: u, version: 2, value: "second-value-2222" });
    expect((await ok(valueOf(alice, u, 1))).secretValue).toEqual({ uuid: u, version: 1, value: "first-value-1111" });
    expect(codes(await valueOf(alice, u, 3))).toEqual(["NOT_FOUND"]);
    expect(codes(await valueOf(alice, u, 0))).toEqual(["BAD_USER_INPUT"]);
  });

  it("gives concurrent writers consecutive versions, none lost", async () => {
    const u = await secret(alice, "v1-concurrent");
    await Promise.all(Array.from({ length: 8 }, (_, i) => okAs(alice, UPDATE, { u, i: { value: `value-${i}-concurrent` } })));
    const meta = await okAs(alice, `query($u: ID!) { secret(uuid: $u) { currentVersion versions { version } } }`, { u });
    expect(meta.secret.currentVersion).toBe(9);
    expect(meta.secret.versions.map((v: { version: number }) => v.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const values = await Promise.all([2, 3, 4, 5, 6, 7, 8, 9].map(async (v) => (await ok(valueOf(alice, u, v))).secretValue.value));
    expect(new Set(values).size).toBe(8);
  });

  it("races writes and wraps against a delete without an internal error: each lands before it or finds it gone", async () => {
    for (let round = 0; round < 5; round++) {
      const u = await secret(alice, `racing-delete-${round}`);
      const results = await Promise.all([
        ...Array.from({ length: 4 }, (_, i) => as(alice, UPDATE, { u, i: { value: `racing-${round}-${i}` } })),
        ...Array.from({ length: 4 }, () => as(alice, `mutation($u: ID!) { wrapSecret(uuid: $u, ttlSeconds: 60) { token } }`, { u })),
        as(alice, `mutation($u: ID!) { deleteSecret(uuid: $u) { uuid } }`, { u }),
      ]);
      for (const r of results) expect(codes(r).filter((c) => c !== "NOT_FOUND")).toEqual([]);
      expect(codes(results[8])).toEqual([]);
      expect(await z.db.prisma.secretVersion.count({ where: { secretUuid: u } })).toBe(0);
      expect(await z.db.prisma.secretWrap.count({ where: { secretUuid: u } })).toBe(0);
    }
  });

  it("deletes a secret with its versions; after that nothing about it answers", async () => {
    const u = await secret(alice, "to-be-deleted-value");
    await okAs(alice, UPDATE, { u, i: { value: "to-be-deleted-value-2" } });
    expect((await okAs(alice, `mutation($u: ID!) { deleteSecret(uuid: $u) { uuid currentVersion } }`, { u })).deleteSecret).toEqual({ uuid: u, currentVersion: 2 });
    expect(codes(await valueOf(alice, u, 1))).toEqual(["NOT_FOUND"]);
    expect(codes(await as(alice, `query($u: ID!) { secret(uuid: $u) { uuid } }`, { u }))).toEqual(["NOT_FOUND"]);
    expect(await z.db.prisma.secretVersion.count({ where: { secretUuid: u } })).toBe(0);
  });
});

describe("access", () => {
  it("lets a granted user read, not a stranger (NOT_FOUND, no name); can_read cannot write, can_write cannot delete or grant", async () => {
    const u = await secret(alice, "shared-secret-value", { name: "very-private-name" });
    const stranger = await valueOf(bob, u);
    expect(codes(stranger)).toEqual(["NOT_FOUND"]);
    expect(JSON.stringify(stranger)).not.toContain("very-private-name");
    expect(codes(await as(bob, `query($u: ID!) { secret(uuid: $u) { name } }`, { u }))).toEqual(["NOT_FOUND"]);
    expect((await okAs(bob, `{ secrets { nodes { uuid } } }`)).secrets.nodes).toEqual([]);

    const link = (await okAs(alice, GRANT, { h: u, t: bob.uuid, l: "can_read" })).grantPermission.uuid;
    expect((await ok(valueOf(bob, u))).secretValue.value).toBe("shared-secret-value");
    expect((await okAs(bob, `{ secrets { nodes { uuid name } } }`)).secrets.nodes).toEqual([{ uuid: u, name: "very-private-name" }]);
    expect(codes(await as(bob, UPDATE, { u, i: { value: "bob-overwrites-it" } }))).toEqual(["FORBIDDEN"]);
    expect((await ok(valueOf(alice, u))).secretValue.version).toBe(1);
    // A reader cannot hand the secret on: granting needs can_manage.
    expect(codes(await as(bob, GRANT, { h: u, t: carol.uuid, l: "can_read" }))).toEqual(["FORBIDDEN"]);
    expect(codes(await valueOf(carol, u))).toEqual(["NOT_FOUND"]);

    await okAs(alice, `mutation($u: ID!) { updatePermission(uuid: $u, level: "can_write") { uuid } }`, { u: link });
    expect((await okAs(bob, UPDATE, { u, i: { value: "bob-writes-v2" } })).updateSecret.currentVersion).toBe(2);
    expect(codes(await as(bob, `mutation($u: ID!) { deleteSecret(uuid: $u) { uuid } }`, { u }))).toEqual(["FORBIDDEN"]);
    expect(codes(await as(bob, GRANT, { h: u, t: carol.uuid, l: "can_write" }))).toEqual(["FORBIDDEN"]);
    // Nor can a writer raise itself: granting needs can_manage, whoever the grantee.
    expect(codes(await as(bob, GRANT, { h: u, t: bob.uuid, l: "can_manage" }))).toEqual(["FORBIDDEN"]);
    expect(codes(await as(bob, `mutation($u: ID!) { updatePermission(uuid: $u, level: "can_manage") { uuid } }`, { u: link }))).toEqual(["FORBIDDEN"]);

    await okAs(alice, `mutation($u: ID!) { revokePermission(uuid: $u) { uuid } }`, { u: link });
    expect(codes(await valueOf(bob, u))).toEqual(["NOT_FOUND"]);
  });

  it("reaches a secret through its project: project readers read it, writers add versions", async () => {
    const p = (await okAs(alice, `mutation { createGroup(input: { name: "vault", groupClass: "project" }) { uuid } }`)).createGroup.uuid;
    const u = await secret(alice, "in-a-project-value", { ownerUuid: p });
    expect(codes(await valueOf(carol, u))).toEqual(["NOT_FOUND"]);
    await okAs(alice, GRANT, { h: p, t: carol.uuid, l: "can_read" });
    expect((await ok(valueOf(carol, u))).secretValue.value).toBe("in-a-project-value");
    expect((await okAs(carol, `query($o: ID) { secrets(ownerUuid: $o) { nodes { uuid } } }`, { o: p })).secrets.nodes).toEqual([{ uuid: u }]);
    // Nobody creates a secret in a project they cannot write.
    expect(codes(await as(carol, CREATE, { i: { name: "x", value: "carol-sneaks-in", ownerUuid: p } }))).toEqual(["FORBIDDEN"]);
    expect(codes(await as(bob, CREATE, { i: { name: "x", value: "bob-sneaks-in", ownerUuid: p } }))).toEqual(["NOT_FOUND"]);
  });

  it("applies token scopes: a token scoped to one secret's value reads that and nothing else", async () => {
    const mine = await secret(alice, "scoped-one-value");
    const other = await secret(alice, "scoped-other-value");
    const scoped = (await okAs(alice, `mutation($p: String!) { createToken(input: { scopes: [{ method: "GET", path: $p }] }) { token } }`, { p: `/arvados/v1/secrets/${mine}/value` })).createToken.token;
    const r = (q: string, v: Record<string, unknown>) => gql(z.url, q, v, scoped);
    expect((await ok(r(VALUE, { u: mine }))).secretValue.value).toBe("scoped-one-value");
    expect(codes(await r(VALUE, { u: other }))).toEqual(["FORBIDDEN"]);
    expect(codes(await r(`query($u: ID!) { secret(uuid: $u) { name } }`, { u: mine }))).toEqual(["FORBIDDEN"]);
    expect(codes(await r(`{ secrets { nodes { uuid } } }`, {}))).toEqual(["FORBIDDEN"]);
    expect(codes(await r(UPDATE, { u: mine, i: { value: "scoped-overwrite" } }))).toEqual(["FORBIDDEN"]);
    expect(codes(await r(`mutation($u: ID!) { wrapSecret(uuid: $u, ttlSeconds: 60) { token } }`, { u: mine }))).toEqual(["FORBIDDEN"]);
    expect(codes(await r(`{ collections { nodes { uuid } } }`, {}))).toEqual(["FORBIDDEN"]);
  });
});

describe("ownership", () => {
  it("keeps a project that holds a secret from being deleted (CONFLICT) until the secret is gone", async () => {
    const p = (await okAs(alice, `mutation { createGroup(input: { name: "holder", groupClass: "project" }) { uuid } }`)).createGroup.uuid;
    const u = await secret(alice, "held-by-a-project", { ownerUuid: p });
    const del = `mutation($u: ID!) { deleteGroup(uuid: $u) { uuid } }`;
    expect(codes(await as(alice, del, { u: p }))).toEqual(["CONFLICT"]);
    expect((await ok(valueOf(alice, u))).secretValue.value).toBe("held-by-a-project");
    await okAs(alice, `mutation($u: ID!) { deleteSecret(uuid: $u) { uuid } }`, { u });
    expect((await okAs(alice, del, { u: p })).deleteGroup.uuid).toBe(p);
  });

  it("lists a secret's grants to its manager only", async () => {
    const u = await secret(alice, "grants-listed-value");
    await okAs(alice, GRANT, { h: u, t: bob.uuid, l: "can_read" });
    const q = `query($u: ID!) { permissions(objectUuid: $u) { tailUuid level } }`;
    expect((await okAs(alice, q, { u })).permissions).toEqual([{ tailUuid: bob.uuid, level: "can_read" }]);
    expect(codes(await as(bob, q, { u }))).toEqual(["FORBIDDEN"]);
    expect(codes(await as(carol, q, { u }))).toEqual(["NOT_FOUND"]);
  });
});

describe("cost", () => {
  it("weighs values and unwraps like large text: many aliases are refused before anything runs", async () => {
    const u = await secret(alice, "aliased-value");
    const aliases = (n: number, field: string) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(" ")} }`;
    const reads = await as(alice, `query${aliases(60, `secretValue(uuid: "${u}") { value }`)}`);
    expect(codes(reads)).toEqual(["QUERY_TOO_COMPLEX"]);
    const audited = () => z.db.prisma.auditLog.count({ where: { eventType: { in: ["secret_read", "secret_unwrap_failed"] } } });
    const before = await audited();
    const unwraps = await gql(z.url, `mutation${aliases(60, `unwrapSecret(token: "fgw1.zzzzz.${"c".repeat(50)}") { uuid }`)}`);
    expect(codes(unwraps)).toEqual(["QUERY_TOO_COMPLEX"]);
    expect(await audited()).toBe(before);
    expect(Object.keys(await ok(as(alice, `query${aliases(10, `secretValue(uuid: "${u}") { value }`)}`)))).toHaveLength(10);
  });
});

describe("input", () => {
  it("refuses a blank name and a value over 64 KiB (BAD_USER_INPUT), writing nothing", async () => {
    const before = await z.db.prisma.secret.count();
    expect(codes(await as(alice, CREATE, { i: { name: "  ", value: "blank-name-value" } }))).toEqual(["BAD_USER_INPUT"]);
    const big = await as(alice, CREATE, { i: { name: "big", value: "x".repeat(64 * 1024 + 1) } });
    expect(codes(big)).toEqual(["BAD_USER_INPUT"]);
    expect(JSON.stringify(big).length).toBeLessThan(1000);
    // Multi-byte characters count as their UTF-8 bytes.
    expect(codes(await as(alice, CREATE, { i: { name: "big", value: "é".repeat(32 * 1024 + 1) } }))).toEqual(["BAD_USER_INPUT"]);
    expect(await z.db.prisma.secret.count()).toBe(before);
    const u = await secret(alice, "x".repeat(64 * 1024));
    expect((await ok(valueOf(alice, u))).secretValue.value).toHaveLength(64 * 1024);
    expect(codes(await as(alice, UPDATE, { u, i: { value: "y".repeat(64 * 1024 + 1) } }))).toEqual(["BAD_USER_INPUT"]);
    expect(codes(await as(alice, UPDATE, { u, i: { name: "" } }))).toEqual(["BAD_USER_INPUT"]);
    expect((await ok(valueOf(alice, u))).secretValue.version).toBe(1);
  });
});

describe("audit", () => {
  it("records every value read (who, which token, which version, when), never the value", async () => {
    const u = await secret(alice, "audited-value-abcdef");
    await okAs(alice, GRANT, { h: u, t: bob.uuid, l: "can_read" });
    await ok(valueOf(bob, u));
    await ok(valueOf(alice, u, 1));
    await okAs(alice, `query($u: ID!) { secret(uuid: $u) { name versions { version } } }`, { u }); // metadata: not a read of the value
    const rows = await z.db.prisma.auditLog.findMany({ where: { objectUuid: u, eventType: "secret_read" } });
    const reads = rows.map((r) => [r.actorUuid, (r.properties as Record<string, unknown>).tokenUuid, (r.properties as Record<string, unknown>).version]);
    expect(reads).toHaveLength(2);
    expect(reads).toEqual(expect.arrayContaining([[bob.uuid, bob.tokenUuid, 1], [alice.uuid, alice.tokenUuid, 1]]));
    expect(rows.every((r) => r.createdAt instanceof Date)).toBe(true);
    const all = JSON.stringify(await z.db.prisma.auditLog.findMany({ where: { objectUuid: u } }));
    expect(all).not.toContain("audited-value");
  });
});

describe("audit of a container's read", () => {
  it("names the container whose token read the value", async () => {
    const u = await secret(alice, "read-by-a-container");
    const { createUser } = await z.root(`mutation { createUser(input: { email: "dispatcher@example.org", isAdmin: true }) { uuid } }`);
    const dispatcher = (await z.root(`mutation($u: ID!) { createToken(input: { userUuid: $u }) { token } }`, { u: createUser.uuid })).createToken.token;
    const request = (await okAs(alice, `mutation($i: CreateContainerRequestInput!) { createContainerRequest(input: $i) { containerUuid } }`, {
      i: { command: ["true"], containerImage: "arvados/jobs", outputPath: "/out", mounts: { "/out": { kind: "tmp", capacity: 1000 } }, runtimeConstraints: { vcpus: 1, ram: 1 << 20 }, state: "Committed", priority: 1,
        secretMounts: [{ path: "/secrets/key", secretUuid: u }] },
    })).createContainerRequest;
    const ct = request.containerUuid as string;
    await ok(gql(z.url, `mutation($u: ID!) { lockContainer(uuid: $u) { uuid } }`, { u: ct }, dispatcher));
    const auth = (await ok(gql(z.url, `query($u: ID!) { containerAuth(uuid: $u) { uuid token } }`, { u: ct }, dispatcher))).containerAuth;
    await ok(gql(z.url, `mutation($u: ID!) { updateContainer(uuid: $u, input: { state: "Running" }) { uuid } }`, { u: ct }, auth.token));
    // Without the 4th field too: the binding is in the token's record.
    const bare = (auth.token as string).split("/").slice(0, 3).join("/");
    for (const t of [auth.token, bare]) expect((await ok(gql(z.url, VALUE, { u }, t))).secretValue.value).toBe("read-by-a-container");
    const rows = await z.db.prisma.auditLog.findMany({ where: { objectUuid: u, eventType: "secret_read" } });
    expect(rows.map((r) => [r.actorUuid, r.properties])).toEqual([
      [alice.uuid, { tokenUuid: auth.uuid, containerUuid: ct, version: 1 }],
      [alice.uuid, { tokenUuid: auth.uuid, containerUuid: ct, version: 1 }],
    ]);
  });
});

describe("persistent database without keys", () => {
  it("starts, and refuses to store a value (UNAVAILABLE) instead of storing it unprotected", async () => {
    const bare = await startTestCluster("yyyyy", { secrets: { keys: {} }, ...(process.env.DATABASE_URL ? {} : { dataDir: `/tmp/s1-nokeys-${process.pid}` }) });
    try {
      const r = await gql(bare.url, CREATE, { i: { name: "n", value: "no-key-value" } }, bare.rootToken);
      expect(codes(r)).toEqual(["UNAVAILABLE"]);
      expect(r.errors?.[0].message).toMatch(/secrets\.keys/);
      expect(await bare.db.prisma.secret.count()).toBe(0);
    } finally {
      await bare.stop();
      require("node:fs").rmSync(`/tmp/s1-nokeys-${process.pid}`, { recursive: true, force: true });
    }
  });
});

describe("across clusters", () => {
  let fed: Record<string, TestCluster>;
  beforeAll(async () => {
    fed = await startFederation(["aaaaa", "bbbbb"]);
  });
  afterAll(() => Promise.all(Object.values(fed ?? {}).map((c) => c.stop())));

  it("reaches a secret on another cluster through the router: create there, read, list, grant, wrap", async () => {
    const { aaaaa: a, bbbbb: b } = fed;
    const ann = await createUserWithToken(a, "ann@example.org");
    const ben = await createUserWithToken(b, "ben@example.org");
    const project = (await ok(gql(b.url, `mutation { createGroup(input: { name: "remote-vault", groupClass: "project" }) { uuid } }`, {}, ben.token))).createGroup.uuid;
    await b.root(GRANT, { h: project, t: ann.uuid, l: "can_write" });
    // Ann, on her own cluster, creates a secret in Ben's project: it lives on bbbbb.
    const created = (await ok(gql(a.url, CREATE, { i: { name: "cross", value: "cross-cluster-value", ownerUuid: project } }, ann.token))).createSecret;
    expect(created.uuid.startsWith("bbbbb-s3cr7-")).toBe(true);
    const u = created.uuid;
    expect((await ok(gql(a.url, VALUE, { u }, ann.token))).secretValue).toEqual({ uuid: u, version: 1, value: "cross-cluster-value" });
    expect((await ok(gql(a.url, `query($u: ID!) { secret(uuid: $u) { cluster versions { version } } }`, { u }, ann.token))).secret).toEqual({ cluster: "bbbbb", versions: [{ version: 1 }] });
    expect((await ok(gql(a.url, `{ secrets(clusters: ["aaaaa", "bbbbb"]) { nodes { uuid } } }`, {}, ann.token))).secrets.nodes).toEqual([{ uuid: u }]);
    expect((await ok(gql(a.url, UPDATE, { u, i: { value: "cross-cluster-v2" } }, ann.token))).updateSecret.currentVersion).toBe(2);
    // A writer through the project cannot grant, not even itself, from its own cluster either.
    expect(codes(await gql(a.url, GRANT, { h: u, t: ann.uuid, l: "can_manage" }, ann.token))).toEqual(["FORBIDDEN"]);
    expect(codes(await gql(a.url, `mutation($u: ID!) { deleteSecret(uuid: $u) { uuid } }`, { u }, ann.token))).toEqual(["FORBIDDEN"]);
    // The read is audited where the secret lives, naming Ann.
    const reads = await b.db.prisma.auditLog.findMany({ where: { objectUuid: u, eventType: "secret_read" } });
    expect(reads.map((r) => r.actorUuid)).toEqual([ann.uuid]);
    const wrapped = (await ok(gql(a.url, `mutation($u: ID!) { wrapSecret(uuid: $u, ttlSeconds: 60) { token } }`, { u }, ann.token))).wrapSecret.token;
    expect(wrapped.startsWith("fgw1.bbbbb.")).toBe(true);
    expect((await ok(gql(a.url, `mutation($t: String!) { unwrapSecret(token: $t) { value } }`, { t: wrapped }, ann.token))).unwrapSecret.value).toBe("cross-cluster-v2");
    expect(codes(await gql(b.url, `mutation($t: String!) { unwrapSecret(token: $t) { value } }`, { t: wrapped }))).toEqual(["NOT_FOUND"]);
  });
});
