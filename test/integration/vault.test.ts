/**
 * The Vault-compatible API (/v1/) through a standard Vault client, node-vault, against real
 * clusters: KV v2 reads (current and by version), response wrapping of a read and its single
 * unwrap, wrapping look-ups, lookup-self, Vault's error shapes, scopes and permissions as on
 * GraphQL, audit rows, and a secret homed on another cluster read through this one.
 */
import nodeVault from "node-vault";
import { createUserWithToken, ok, gql, startFederation, type TestCluster } from "../helpers/federation";

let a: TestCluster, b: TestCluster;
type Person = { uuid: string; token: string; tokenUuid: string };
let alice: Person, bob: Person, carol: Person;
let pw: string; // alice's, versions 1 and 2, granted to bob (can_read)
let json: string; // alice's JSON object value

const CREATE = `mutation($i: CreateSecretInput!) { createSecret(input: $i) { uuid } }`;
const UPDATE = `mutation($u: ID!, $i: UpdateSecretInput!) { updateSecret(uuid: $u, input: $i) { currentVersion } }`;
const GRANT = `mutation($h: ID!, $t: ID!, $l: String!) { grantPermission(headUuid: $h, tailUuid: $t, level: $l) { uuid } }`;

const vault = (c: TestCluster, token?: string) => nodeVault({ endpoint: c.url, token });

/** The status and body of a node-vault call that must fail. */
async function refusal(p: Promise<unknown>): Promise<{ statusCode: number; body: any }> {
  try {
    await p;
  } catch (e) {
    const r = (e as { response?: { statusCode: number; body: unknown } }).response;
    if (r) return r;
    throw e;
  }
  throw new Error("expected the call to fail");
}

/** A raw request to /v1/ (what node-vault cannot send: malformed headers and bodies). */
async function raw(c: TestCluster, method: string, path: string, headers: Record<string, string> = {}, body?: string) {
  const res = await fetch(`${c.url}/v1/${path}`, { method, headers, body });
  return { status: res.status, body: (await res.json()) as any, cacheControl: res.headers.get("cache-control") };
}

async function createSecret(c: TestCluster, p: Person, value: string): Promise<string> {
  return (await ok(gql(c.url, CREATE, { i: { name: "vault test", value } }, p.token))).createSecret.uuid;
}

beforeAll(async () => {
  ({ aaaaa: a, bbbbb: b } = await startFederation(["aaaaa", "bbbbb"]));
  alice = await createUserWithToken(a, "alice@example.org");
  bob = await createUserWithToken(a, "bob@example.org");
  carol = await createUserWithToken(a, "carol@example.org");
  const lab = (await a.root(`mutation { createGroup(input: { name: "lab", groupClass: "role" }) { uuid } }`)).createGroup.uuid;
  for (const p of [alice, bob, carol]) await a.root(GRANT, { h: lab, t: p.uuid, l: "can_read" });
  pw = await createSecret(a, alice, "first-password-v1");
  await ok(gql(a.url, UPDATE, { u: pw, i: { value: "second-password-v2" } }, alice.token));
  await ok(gql(a.url, GRANT, { h: pw, t: bob.uuid, l: "can_read" }, alice.token));
  json = await createSecret(a, alice, JSON.stringify({ username: "svc", password: "json-password-xyz" }));
});
afterAll(async () => {
  await a?.stop();
  await b?.stop();
});

describe("KV v2 reads", () => {
  it("reads the current version in Vault's KV v2 shape, audited with the reading token", async () => {
    const r = await vault(a, bob.token).read(`secret/data/${pw}`);
    expect(r.data.data).toEqual({ value: "second-password-v2" });
    expect(r.data.metadata).toMatchObject({ version: 2, deletion_time: "", destroyed: false });
    expect(new Date(r.data.metadata.created_time).getTime()).not.toBeNaN();
    expect(r).toMatchObject({ lease_id: "", renewable: false, lease_duration: 0, wrap_info: null, mount_type: "kv" });
    const rows = await a.db.prisma.auditLog.findMany({ where: { objectUuid: pw, eventType: "secret_read", actorUuid: bob.uuid } });
    expect(rows.map((row) => row.properties)).toEqual([expect.objectContaining({ tokenUuid: bob.tokenUuid, version: 2 })]);
  });

  it("reads an earlier version with ?version=N (0: the latest, as in Vault)", async () => {
    const v = vault(a, alice.token);
    const one = await v.read(`secret/data/${pw}?version=1`);
    expect(one.data).toMatchObject({ data: { value: "first-password-v1" }, metadata: { version: 1 } });
    expect((await v.read(`secret/data/${pw}?version=0`)).data.metadata.version).toBe(2);
    expect(await refusal(v.read(`secret/data/${pw}?version=3`))).toEqual({ statusCode: 404, body: { errors: [] } });
  });

  it("gives a JSON object value as data.data itself, any other value as {value}", async () => {
    expect((await vault(a, alice.token).read(`secret/data/${json}`)).data.data).toEqual({ username: "svc", password: "json-password-xyz" });
  });

  it("accepts the token as Authorization: Bearer too, and answers no-store", async () => {
    const r = await raw(a, "GET", `secret/data/${pw}`, { authorization: `Bearer ${bob.token}` });
    expect(r.status).toBe(200);
    expect(r.body.data.data.value).toBe("second-password-v2");
    expect(r.cacheControl).toBe("no-store");
  });

  it("reads a secret homed on another cluster through this one (delegated, salted, audited at home)", async () => {
    const r = await vault(b, bob.token).read(`secret/data/${pw}?version=1`);
    expect(r.data.data).toEqual({ value: "first-password-v1" });
    const rows = await a.db.prisma.auditLog.findMany({ where: { objectUuid: pw, eventType: "secret_read", actorUuid: bob.uuid } });
    expect(rows.some((row) => (row.properties as { version?: number }).version === 1)).toBe(true);
  });
});

describe("refusals in Vault's shape", () => {
  it("answers 404 with no message to a stranger and for an unknown secret, like a missing path", async () => {
    expect(await refusal(vault(a, carol.token).read(`secret/data/${pw}`))).toEqual({ statusCode: 404, body: { errors: [] } });
    expect(await refusal(vault(a, alice.token).read(`secret/data/aaaaa-s3cr7-000000000000000`))).toEqual({ statusCode: 404, body: { errors: [] } });
  });

  it("answers 403 permission denied without a token and with an unknown one", async () => {
    for (const token of [undefined, "v2/aaaaa-gj3su-000000000000abc/notasecretnotasecretnotasecretnotasecret0000000000"]) {
      const r = await refusal(vault(a, token).read(`secret/data/${pw}`));
      expect(r.statusCode).toBe(403);
      expect(r.body.errors[0]).toBe("permission denied");
    }
  });

  it("refuses a token whose scopes do not allow GET /arvados/v1/secrets/{uuid}/value (403), and allows one that does", async () => {
    const { createToken } = await ok(gql(a.url, `mutation($i: CreateTokenInput!) { createToken(input: $i) { token } }`, {
      i: { scopes: [{ method: "GET", path: `/arvados/v1/secrets/${pw}/value` }] },
    }, bob.token));
    const scoped = vault(a, createToken.token);
    expect((await scoped.read(`secret/data/${pw}`)).data.data.value).toBe("second-password-v2");
    const other = await refusal(scoped.read(`secret/data/${json}`));
    expect(other.statusCode).toBe(403);
    expect(other.body.errors.join(" ")).toContain(`/arvados/v1/secrets/${json}/value`);
    // A wrapped read is a wrap (POST …/wrap), which this token may not do.
    expect((await refusal(scoped.read(`secret/data/${pw}`, { headers: { "X-Vault-Wrap-TTL": "60" } }))).statusCode).toBe(403);
  });

  it("answers 400 for bad input, 404 for unknown routes, 405 for other methods; never 5xx", async () => {
    const t = { "x-vault-token": alice.token };
    expect((await raw(a, "GET", `secret/data/not-a-uuid`, t)).status).toBe(400);
    expect((await raw(a, "GET", `secret/data/${alice.uuid}`, t)).status).toBe(400);
    expect((await raw(a, "GET", `secret/data/${pw}?version=-1`, t)).status).toBe(400);
    expect((await raw(a, "GET", `secret/data/${pw}?version=1&version=2`, t)).status).toBe(400);
    expect((await raw(a, "GET", `secret/data/${pw}`, { ...t, "x-vault-wrap-ttl": "soon" })).status).toBe(400);
    expect((await raw(a, "GET", `secret/data/${pw}`, { ...t, "x-vault-wrap-ttl": "99999999" })).status).toBe(400);
    expect((await raw(a, "GET", `auth/token/lookup-self`, { ...t, "x-vault-wrap-ttl": "60" })).status).toBe(400);
    expect((await raw(a, "POST", `sys/wrapping/unwrap`, t, "{not json")).status).toBe(400);
    expect((await raw(a, "POST", `sys/wrapping/unwrap`, t, JSON.stringify({ token: 42 }))).status).toBe(400);
    expect((await raw(a, "POST", `sys/wrapping/unwrap`, {}, "")).status).toBe(400);
    expect((await raw(a, "GET", `secret/data/${pw}`, { authorization: "Basic xyz" })).status).toBe(403);
    expect(await raw(a, "GET", `secret/metadata/${pw}`, t)).toMatchObject({ status: 404, body: { errors: ["no handler for route"] } });
    expect((await raw(a, "DELETE", `secret/data/${pw}`, t)).status).toBe(405);
    expect((await raw(a, "POST", `secret/data/${pw}`, t, "{}")).status).toBe(405);
    // Still readable: nothing above changed it.
    expect((await vault(a, alice.token).read(`secret/data/${pw}`)).data.metadata.version).toBe(2);
  });
});

describe("response wrapping", () => {
  it("wraps a read (X-Vault-Wrap-TTL) into Vault's wrap_info; the first unwrap returns the KV read, later ones fail", async () => {
    const w = await vault(a, bob.token).read(`secret/data/${pw}?version=1`, { headers: { "X-Vault-Wrap-TTL": "5m" } });
    expect(w.data).toBeNull();
    expect(w.wrap_info).toMatchObject({ ttl: 300, creation_path: `secret/data/${pw}`, accessor: "", wrapped_accessor: "" });
    expect(w.wrap_info.token).toMatch(/^fgw1\.aaaaa\./);
    const token = w.wrap_info.token as string;
    // Anyone holding the token may look it up (no client token needed), never the value.
    const look = await vault(a).write("sys/wrapping/lookup", { token });
    expect(look.data).toEqual({ creation_path: `secret/data/${pw}`, creation_time: expect.any(String), creation_ttl: 300 });
    // node-vault's unwrap: the wrapping token as the client token.
    const u = await vault(a, token).unwrap();
    expect(u.data).toMatchObject({ data: { value: "first-password-v1" }, metadata: { version: 1 } });
    for (const again of [vault(a, token).unwrap(), vault(a, alice.token).unwrap({ token })]) {
      expect(await refusal(again)).toEqual({ statusCode: 400, body: { errors: ["wrapping token is not valid or does not exist"] } });
    }
    expect(await refusal(vault(a).write("sys/wrapping/lookup", { token }))).toMatchObject({ statusCode: 400 });
    const audit = await a.db.prisma.auditLog.findMany({ where: { objectUuid: pw, eventType: { in: ["secret_wrap", "secret_unwrap", "secret_unwrap_failed"] } } });
    expect(audit.map((r) => r.eventType).sort()).toEqual(["secret_unwrap", "secret_unwrap_failed", "secret_unwrap_failed", "secret_wrap"]);
    expect(JSON.stringify(audit)).not.toContain("first-password");
  });

  it("unwraps with the token in the body, the client token naming who unwraps", async () => {
    const w = await vault(a, alice.token).read(`secret/data/${json}`, { headers: { "X-Vault-Wrap-TTL": "60" } });
    const u = await vault(a, carol.token).unwrap({ token: w.wrap_info.token });
    expect(u.data.data).toEqual({ username: "svc", password: "json-password-xyz" });
    const row = await a.db.prisma.auditLog.findFirst({ where: { objectUuid: json, eventType: "secret_unwrap" } });
    expect(row?.actorUuid).toBe(carol.uuid);
  });

  it("unwraps a token that GraphQL's wrapSecret made, through another cluster when a client token is given", async () => {
    const { wrapSecret } = await ok(gql(a.url, `mutation($u: ID!) { wrapSecret(uuid: $u, ttlSeconds: 60) { token } }`, { u: pw }, alice.token));
    const u = await vault(b, bob.token).unwrap({ token: wrapSecret.token });
    expect(u.data).toMatchObject({ data: { value: "second-password-v2" }, metadata: { version: 2 } });
  });

  it("answers an unknown wrapping token like a used one", async () => {
    const unknown = `fgw1.aaaaa.${"x".repeat(50)}`;
    expect(await refusal(vault(a, unknown).unwrap())).toEqual({ statusCode: 400, body: { errors: ["wrapping token is not valid or does not exist"] } });
    expect(await refusal(vault(a).write("sys/wrapping/lookup", { token: unknown }))).toEqual({ statusCode: 400, body: { errors: ["wrapping token is not valid or does not exist"] } });
  });
});

describe("auth/token/lookup-self", () => {
  it("describes the client token (uuid, user, scopes, expiry) and never echoes its secret", async () => {
    const expiresAt = new Date(Date.now() + 3600_000).toISOString();
    const { createToken } = await ok(gql(a.url, `mutation($i: CreateTokenInput!) { createToken(input: $i) { uuid token } }`, {
      i: { scopes: [{ method: "GET", path: "/arvados/v1/secrets/" }], expiresAt },
    }, bob.token));
    const r = await vault(a, createToken.token).tokenLookupSelf();
    expect(r.data).toMatchObject({
      id: createToken.uuid, accessor: createToken.uuid, entity_id: bob.uuid, policies: ["default"], renewable: false,
      meta: { user_uuid: bob.uuid, scopes: JSON.stringify(["GET /arvados/v1/secrets/"]) },
    });
    expect(r.data.ttl).toBeGreaterThan(3500);
    expect(r.data.ttl).toBeLessThanOrEqual(3600);
    expect(new Date(r.data.expire_time).toISOString()).toBe(expiresAt);
    expect(JSON.stringify(r)).not.toContain(createToken.token.split("/")[2]);
    expect((await refusal(vault(a).tokenLookupSelf())).statusCode).toBe(403);
  });
});
