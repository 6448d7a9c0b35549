/**
 * Response wrapping over HTTP: a wrapping token unwraps once, before it expires; used, expired
 * and unknown tokens fail alike (NOT_FOUND) and every attempt is audited; the value is read
 * from the store at unwrap (the version pinned when wrapped) and never copied; tokens are kept
 * only as hashes. 100 concurrent unwraps of one token give one success: on this backend
 * against one server, and on PostgreSQL against two replicas sharing one database.
 */
import { codes, createUserWithToken, gql, ok, startTestCluster, testSecretKeys, type GqlResult, type TestCluster } from "../helpers/federation";

let z: TestCluster;
let alice: { uuid: string; token: string; tokenUuid: string };
let bob: { uuid: string; token: string };

const CREATE = `mutation($i: CreateSecretInput!) { createSecret(input: $i) { uuid } }`;
const WRAP = `mutation($u: ID!, $v: Int, $t: Int!) { wrapSecret(uuid: $u, version: $v, ttlSeconds: $t) { token expiresAt } }`;
const UNWRAP = `mutation($t: String!) { unwrapSecret(token: $t) { uuid version value } }`;
const INFO = `query($t: String!) { wrappingInfo(token: $t) { secretUuid version creatorUuid createdAt expiresAt unwrapped } }`;
const MAX_TTL = 600;

async function secret(value: string): Promise<string> {
  return (await ok(gql(z.url, CREATE, { i: { name: "wrapped", value } }, alice.token))).createSecret.uuid;
}
async function wrap(u: string, ttl = 60, v?: number): Promise<string> {
  return (await ok(gql(z.url, WRAP, { u, v, t: ttl }, alice.token))).wrapSecret.token;
}
const unwrap = (url: string, t: string, token?: string) => gql(url, UNWRAP, { t }, token);
const notFoundAlike = (r: GqlResult) => {
  expect(codes(r)).toEqual(["NOT_FOUND"]);
  expect(r.errors?.[0].message).toBe("wrapping token not found (used, expired, or never issued)");
};

beforeAll(async () => {
  z = await startTestCluster("zzzzz", { secrets: testSecretKeys({ maxWrapTtlSeconds: MAX_TTL }) });
  alice = await createUserWithToken(z, "alice@example.org");
  bob = await createUserWithToken(z, "bob@example.org");
});
afterAll(() => z?.stop());

it("unwraps once without a bearer token; wrappingInfo tells creator, times and use, never the value", async () => {
  const u = await secret("wrapped-value-0123456789");
  const w = await ok(gql(z.url, WRAP, { u, t: 60 }, alice.token));
  const token = w.wrapSecret.token as string;
  expect(token).toMatch(/^fgw1\.zzzzz\.[a-z0-9]{50}$/);
  const before = (await ok(gql(z.url, INFO, { t: token }))).wrappingInfo;
  expect(before).toMatchObject({ secretUuid: u, version: 1, creatorUuid: alice.uuid, expiresAt: w.wrapSecret.expiresAt, unwrapped: false });
  expect(new Date(before.expiresAt).getTime() - new Date(before.createdAt).getTime()).toBe(60_000);

  expect((await ok(unwrap(z.url, token))).unwrapSecret).toEqual({ uuid: u, version: 1, value: "wrapped-value-0123456789" });
  notFoundAlike(await unwrap(z.url, token));
  notFoundAlike(await unwrap(z.url, token, alice.token));
  const after = await gql(z.url, INFO, { t: token });
  expect(after.data.wrappingInfo.unwrapped).toBe(true);
  expect(JSON.stringify(after)).not.toContain("wrapped-value");
});

it("fails expired and unknown tokens exactly like used ones, and audits every attempt without the value", async () => {
  const u = await secret("expiring-value-abcdefgh");
  const expired = await wrap(u);
  await z.db.prisma.secretWrap.updateMany({ where: { secretUuid: u }, data: { expiresAt: new Date(Date.now() - 1000) } });
  notFoundAlike(await unwrap(z.url, expired));
  notFoundAlike(await unwrap(z.url, `fgw1.zzzzz.${"a".repeat(50)}`, bob.token));
  notFoundAlike(await unwrap(z.url, "not a wrapping token at all"));
  notFoundAlike(await gql(z.url, INFO, { t: `fgw1.zzzzz.${"b".repeat(50)}` }));
  // An expired token is still looked up (so its holder can tell it was never used).
  expect((await ok(gql(z.url, INFO, { t: expired }))).wrappingInfo.unwrapped).toBe(false);

  const used = await wrap(u);
  await ok(unwrap(z.url, used, bob.token));
  notFoundAlike(await unwrap(z.url, used));
  const rows = await z.db.prisma.auditLog.findMany({ where: { eventType: { in: ["secret_wrap", "secret_unwrap", "secret_unwrap_failed"] } }, orderBy: { createdAt: "asc" } });
  const mine = rows.filter((r) => r.objectUuid === u || r.objectUuid === null);
  const summary = mine.map((r) => [r.eventType, r.actorUuid, (r.properties as { reason?: string }).reason ?? null]);
  expect(summary).toEqual(expect.arrayContaining([
    ["secret_wrap", alice.uuid, null],
    ["secret_unwrap_failed", null, "expired"],
    ["secret_unwrap_failed", bob.uuid, "unknown"],
    ["secret_unwrap_failed", null, "unknown"],
    ["secret_unwrap", bob.uuid, null],
    ["secret_unwrap_failed", null, "used"],
  ]));
  const text = JSON.stringify(rows);
  expect(text).not.toContain("expiring-value");
  expect(text).not.toContain(used);
  expect(text).not.toContain(expired);
});

it("pins the version when wrapped, reads it from the store at unwrap, and a deleted secret unwraps to nothing", async () => {
  const u = await secret("pinned-version-one");
  const pinned = await wrap(u);
  const explicit = await wrap(u, 60, 1);
  await ok(gql(z.url, `mutation($u: ID!) { updateSecret(uuid: $u, input: { value: "pinned-version-two" }) { uuid } }`, { u }, alice.token));
  const latest = await wrap(u);
  expect((await ok(unwrap(z.url, pinned))).unwrapSecret).toMatchObject({ version: 1, value: "pinned-version-one" });
  expect((await ok(unwrap(z.url, explicit))).unwrapSecret.version).toBe(1);
  expect((await ok(unwrap(z.url, latest))).unwrapSecret).toMatchObject({ version: 2, value: "pinned-version-two" });
  const orphan = await wrap(u);
  await ok(gql(z.url, `mutation($u: ID!) { deleteSecret(uuid: $u) { uuid } }`, { u }, alice.token));
  notFoundAlike(await unwrap(z.url, orphan));
  // Nothing but hashes is stored: no token, and no copy of a value, in the wraps table.
  const dump = JSON.stringify(await z.db.prisma.$queryRawUnsafe(`SELECT row_to_json(w)::text AS r FROM secret_wraps w`));
  for (const t of [pinned, explicit, latest, orphan]) expect(dump).not.toContain(t.slice(11));
  expect(dump).not.toContain("pinned-version");
});

it("needs can_read to wrap, bounds the TTL by secrets.maxWrapTtlSeconds, and refuses versions that do not exist", async () => {
  const u = await secret("bounded-ttl-value");
  expect(codes(await gql(z.url, WRAP, { u, t: 60 }, bob.token))).toEqual(["NOT_FOUND"]);
  for (const t of [0, -5, MAX_TTL + 1]) expect(codes(await gql(z.url, WRAP, { u, t }, alice.token))).toEqual(["BAD_USER_INPUT"]);
  expect((await ok(gql(z.url, WRAP, { u, t: MAX_TTL }, alice.token))).wrapSecret.token).toBeTruthy();
  expect(codes(await gql(z.url, WRAP, { u, t: 60, v: 2 }, alice.token))).toEqual(["NOT_FOUND"]);
  expect(await z.db.prisma.secretWrap.count({ where: { secretUuid: u } })).toBe(1);
});

/**
 * One unwrap as a client would make it: a database too busy to answer in time (UNAVAILABLE,
 * "try again", nothing claimed: the claim and the read are one transaction) is asked again.
 */
async function unwrapRetrying(url: string, token: string): Promise<GqlResult> {
  for (;;) {
    const r = await unwrap(url, token);
    if (codes(r)[0] !== "UNAVAILABLE") return r;
  }
}

/** Fires `n` unwraps of one token at once, spread over `urls`; returns how many returned the value. */
async function race(urls: string[], token: string, n: number, value: string): Promise<number> {
  const results = await Promise.all(Array.from({ length: n }, (_, i) => unwrapRetrying(urls[i % urls.length], token)));
  for (const r of results) if (r.errors) notFoundAlike(r);
  return results.filter((r) => r.data?.unwrapSecret?.value === value).length;
}

it("gives exactly one success of 100 concurrent unwraps of one token, round after round", async () => {
  for (let round = 0; round < 5; round++) {
    const value = `concurrent-value-${round}`;
    const token = await wrap(await secret(value));
    expect(await race([z.url], token, 100, value)).toBe(1);
  }
});

(process.env.DATABASE_URL ? describe : describe.skip)("two replicas on one PostgreSQL database (PostgreSQL only: set DATABASE_URL)", () => {
  let replica: TestCluster;
  beforeAll(async () => {
    replica = await startTestCluster("zzzzz", { databaseUrl: z.config.databaseUrl, secrets: z.config.secrets });
  });
  afterAll(() => replica?.stop());

  it("gives exactly one success of 100 concurrent unwraps spread over both, round after round", async () => {
    for (let round = 0; round < 10; round++) {
      const value = `replicated-value-${round}`;
      const token = await wrap(await secret(value));
      expect(await race([z.url, replica.url], token, 100, value)).toBe(1);
      expect((await ok(gql(replica.url, INFO, { t: token }))).wrappingInfo.unwrapped).toBe(true);
    }
  });
});
