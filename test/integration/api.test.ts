/** One cluster's GraphQL API over HTTP: the contract's queries and mutations, errors and paging. */
import { codes, createUserWithToken, gql, ok, startTestCluster, type TestCluster } from "../helpers/federation";

let z: TestCluster;
let alice: { uuid: string; token: string; tokenUuid: string };
let bob: { uuid: string; token: string; tokenUuid: string };

beforeAll(async () => {
  z = await startTestCluster("zzzzz");
  alice = await createUserWithToken(z, "alice@example.org");
  bob = await createUserWithToken(z, "bob@example.org");
});
afterAll(() => z?.stop());

const CREATE = `mutation($i: CreateCollectionInput!) { createCollection(input: $i) { uuid name ownerUuid cluster } }`;

describe("viewer and tokens", () => {
  it("answers viewer and currentToken for a token sent as Bearer or OAuth2", async () => {
    const bearer = await ok(gql(z.url, `{ viewer { uuid email isActive isAdmin } currentToken { uuid scopes { method } } }`, {}, alice.token));
    expect(bearer.viewer).toEqual({ uuid: alice.uuid, email: "alice@example.org", isActive: true, isAdmin: false });
    expect(bearer.currentToken).toEqual({ uuid: alice.tokenUuid, scopes: null });
    const oauth = await ok(gql(z.url, `{ viewer { uuid } }`, {}, undefined, { authorization: `OAuth2 ${alice.token}` }));
    expect(oauth.viewer.uuid).toBe(alice.uuid);
  });

  it("refuses a wrong secret, a malformed token and an unknown scheme with 401 UNAUTHENTICATED", async () => {
    const wrong = alice.token.slice(0, -3) + "abc";
    for (const headers of [{ authorization: `Bearer ${wrong}` }, { authorization: "Bearer nonsense" }, { authorization: `Basic ${alice.token}` }]) {
      const r = await gql(z.url, `{ viewer { uuid } }`, {}, undefined, headers);
      expect(r.status).toBe(401);
      expect(codes(r)).toEqual(["UNAUTHENTICATED"]);
      expect(JSON.stringify(r)).not.toContain(alice.token.split("/")[2]);
    }
  });

  it("refuses a token bound to a container while no such container runs", async () => {
    const bound = `${alice.token}/zzzzz-dz642-000000000000000`;
    const r = await gql(z.url, `{ viewer { uuid } }`, {}, bound);
    expect(codes(r)).toEqual(["UNAUTHENTICATED"]);
    expect(r.errors![0].message).toMatch(/container/);
  });

  it("asks for a token when none is sent", async () => {
    const r = await gql(z.url, `{ viewer { uuid } }`);
    expect(codes(r)).toEqual(["UNAUTHENTICATED"]);
  });

  it("shows a new token's secret once and lists tokens without secrets", async () => {
    const created = await ok(gql(z.url, `mutation { createToken(input: {}) { uuid token } }`, {}, alice.token));
    expect(created.createToken.token).toMatch(new RegExp(`^v2/${created.createToken.uuid}/[a-z0-9]{50}$`));
    const list = await ok(gql(z.url, `{ tokens(first: 100) { nodes { uuid scopes { method path } } } }`, {}, alice.token));
    expect(list.tokens.nodes.map((t: { uuid: string }) => t.uuid)).toEqual(expect.arrayContaining([alice.tokenUuid, created.createToken.uuid]));
    expect(JSON.stringify(list)).not.toContain(created.createToken.token.split("/")[2]);
  });

  it("refuses revoked and expired tokens", async () => {
    const t = await ok(gql(z.url, `mutation { createToken(input: {}) { uuid token } }`, {}, alice.token));
    await ok(gql(z.url, `mutation($u: ID!) { revokeToken(uuid: $u) { revokedAt } }`, { u: t.createToken.uuid }, alice.token));
    const revoked = await gql(z.url, `{ viewer { uuid } }`, {}, t.createToken.token);
    expect(codes(revoked)).toEqual(["UNAUTHENTICATED"]);
    expect(revoked.errors![0].message).toMatch(/revoked/);

    const soon = new Date(Date.now() + 1500).toISOString();
    const e = await ok(gql(z.url, `mutation($x: DateTime) { createToken(input: { expiresAt: $x }) { token } }`, { x: soon }, alice.token));
    await ok(gql(z.url, `{ viewer { uuid } }`, {}, e.createToken.token));
    await new Promise((r) => setTimeout(r, 1600));
    const expired = await gql(z.url, `{ viewer { uuid } }`, {}, e.createToken.token);
    expect(codes(expired)).toEqual(["UNAUTHENTICATED"]);
    expect(expired.errors![0].message).toMatch(/expired/);
  });

  it("lets only the owner (or an admin) revoke a token; others get NOT_FOUND", async () => {
    const r = await gql(z.url, `mutation($u: ID!) { revokeToken(uuid: $u) { uuid } }`, { u: alice.tokenUuid }, bob.token);
    expect(codes(r)).toEqual(["NOT_FOUND"]);
    await ok(gql(z.url, `{ viewer { uuid } }`, {}, alice.token));
  });

  it("revoking a token revokes the tokens created with it", async () => {
    const parent = await ok(gql(z.url, `mutation { createToken(input: {}) { uuid token } }`, {}, alice.token));
    const child = await ok(gql(z.url, `mutation { createToken(input: {}) { uuid token } }`, {}, parent.createToken.token));
    await ok(gql(z.url, `{ viewer { uuid } }`, {}, child.createToken.token));
    await ok(gql(z.url, `mutation($u: ID!) { revokeToken(uuid: $u) { uuid } }`, { u: parent.createToken.uuid }, alice.token));
    expect(codes(await gql(z.url, `{ viewer { uuid } }`, {}, child.createToken.token))).toEqual(["UNAUTHENTICATED"]);
  });
});

describe("users", () => {
  it("lets only admins create users, and refuses a duplicate email with CONFLICT", async () => {
    const r = await gql(z.url, `mutation { createUser(input: { email: "eve@example.org" }) { uuid } }`, {}, alice.token);
    expect(codes(r)).toEqual(["FORBIDDEN"]);
    const dup = await gql(z.url, `mutation { createUser(input: { email: "alice@example.org" }) { uuid } }`, {}, z.rootToken);
    expect(codes(dup)).toEqual(["CONFLICT"]);
    const bad = await gql(z.url, `mutation { createUser(input: { email: "not-an-email" }) { uuid } }`, {}, z.rootToken);
    expect(codes(bad)).toEqual(["BAD_USER_INPUT"]);
  });

  it("shows a user itself but not unrelated users", async () => {
    expect((await ok(gql(z.url, `query($u: ID!) { user(uuid: $u) { uuid } }`, { u: alice.uuid }, alice.token))).user.uuid).toBe(alice.uuid);
    expect(codes(await gql(z.url, `query($u: ID!) { user(uuid: $u) { uuid } }`, { u: bob.uuid }, alice.token))).toEqual(["NOT_FOUND"]);
    const all = await z.root(`{ users(first: 100) { nodes { uuid } } }`);
    expect(all.users.nodes.map((u: { uuid: string }) => u.uuid)).toEqual(expect.arrayContaining([alice.uuid, bob.uuid]));
  });
});

describe("collections", () => {
  it("creates, reads, updates and deletes a collection", async () => {
    const { createCollection: c } = await ok(gql(z.url, CREATE, { i: { name: "reads", properties: { a: 1 } } }, alice.token));
    expect(c).toMatchObject({ name: "reads", ownerUuid: alice.uuid, cluster: "zzzzz" });
    const got = await ok(gql(z.url, `query($u: ID!) { collection(uuid: $u) { name properties } }`, { u: c.uuid }, alice.token));
    expect(got.collection).toEqual({ name: "reads", properties: { a: 1 } });
    const upd = await ok(gql(z.url, `mutation($u: ID!) { updateCollection(uuid: $u, input: { name: "reads-v2" }) { name } }`, { u: c.uuid }, alice.token));
    expect(upd.updateCollection.name).toBe("reads-v2");
    await ok(gql(z.url, `mutation($u: ID!) { deleteCollection(uuid: $u) { uuid } }`, { u: c.uuid }, alice.token));
    expect(codes(await gql(z.url, `query($u: ID!) { collection(uuid: $u) { name } }`, { u: c.uuid }, alice.token))).toEqual(["NOT_FOUND"]);
  });

  it("hides another user's collection as NOT_FOUND, without its name", async () => {
    const { createCollection: c } = await ok(gql(z.url, CREATE, { i: { name: "alice-secret-name" } }, alice.token));
    for (const q of [
      `query($u: ID!) { collection(uuid: $u) { name } }`,
      `mutation($u: ID!) { updateCollection(uuid: $u, input: { name: "x" }) { name } }`,
      `mutation($u: ID!) { deleteCollection(uuid: $u) { name } }`,
    ]) {
      const r = await gql(z.url, q, { u: c.uuid }, bob.token);
      expect(codes(r)).toEqual(["NOT_FOUND"]);
      expect(JSON.stringify(r)).not.toContain("alice-secret-name");
    }
  });

  it("answers a malformed uuid with BAD_USER_INPUT and an unknown one with NOT_FOUND", async () => {
    expect(codes(await gql(z.url, `{ collection(uuid: "nope") { name } }`, {}, alice.token))).toEqual(["BAD_USER_INPUT"]);
    expect(codes(await gql(z.url, `{ collection(uuid: "zzzzz-tpzed-000000000000000") { name } }`, {}, alice.token))).toEqual(["BAD_USER_INPUT"]);
    expect(codes(await gql(z.url, `{ collection(uuid: "zzzzz-4zz18-000000000000000") { name } }`, {}, alice.token))).toEqual(["NOT_FOUND"]);
  });

  it("pages in a stable order with a bounded page size, and searches by name", async () => {
    const names = Array.from({ length: 7 }, (_, i) => `paged-${i}`);
    for (const name of names) await ok(gql(z.url, CREATE, { i: { name } }, bob.token));
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page: any = await ok(gql(z.url, `query($a: String) { collections(first: 3, after: $a, search: "paged-") { nodes { uuid name } pageInfo { endCursor hasNextPage } } }`, { a: after }, bob.token));
      seen.push(...page.collections.nodes.map((n: { uuid: string }) => n.uuid));
      if (!page.collections.pageInfo.hasNextPage) break;
      after = page.collections.pageInfo.endCursor;
    }
    expect(seen).toHaveLength(7);
    expect([...seen].sort()).toEqual(seen);
    const tooBig = await gql(z.url, `{ collections(first: 100000) { nodes { uuid } } }`, {}, bob.token);
    expect(codes(tooBig)).toEqual(["BAD_USER_INPUT"]);
    const none = await ok(gql(z.url, `{ collections(search: "%") { nodes { uuid } } }`, {}, bob.token));
    expect(none.collections.nodes).toEqual([]);
  });
});

describe("scopes on nested resources", () => {
  it("lets a token scoped to a project's contents list them, as the REST contents endpoint would", async () => {
    const { createGroup: p } = await ok(gql(z.url, `mutation { createGroup(input: { name: "scoped-contents", groupClass: "project" }) { uuid } }`, {}, alice.token));
    const { createCollection: c } = await ok(gql(z.url, CREATE, { i: { name: "inside", ownerUuid: p.uuid } }, alice.token));
    const t = await ok(gql(z.url, `mutation($p: String!) { createToken(input: { scopes: [{ method: "GET", path: $p }] }) { token } }`, { p: `/arvados/v1/groups/${p.uuid}/contents` }, alice.token));
    const token = t.createToken.token;
    const contents = await ok(gql(z.url, `query($u: ID!) { project(uuid: $u) { uuid contents { nodes { ... on Collection { uuid name } } } } }`, { u: p.uuid }, token));
    expect(contents.project).toEqual({ uuid: p.uuid, contents: { nodes: [{ uuid: c.uuid, name: "inside" }] } });
    expect(codes(await gql(z.url, `query($u: ID!) { project(uuid: $u) { name } }`, { u: p.uuid }, token))).toEqual(["FORBIDDEN"]);
    expect(codes(await gql(z.url, `query($u: ID!) { project(uuid: $u) { uuid } }`, { u: p.uuid }, token))).toEqual(["FORBIDDEN"]);
    expect(codes(await gql(z.url, `query($u: ID!) { collection(uuid: $u) { uuid } }`, { u: c.uuid }, token))).toEqual(["FORBIDDEN"]);
  });

  it("never lets a write through because only the uuid is selected", async () => {
    const { createCollection: c } = await ok(gql(z.url, CREATE, { i: { name: "guarded" } }, alice.token));
    const t = await ok(gql(z.url, `mutation { createToken(input: { scopes: [{ method: "GET", path: "/arvados/v1/collections/" }] }) { token } }`, {}, alice.token));
    const r = await gql(z.url, `mutation($u: ID!) { updateCollection(uuid: $u, input: { name: "changed" }) { uuid } }`, { u: c.uuid }, t.createToken.token);
    expect(codes(r)).toEqual(["FORBIDDEN"]);
    expect((await ok(gql(z.url, `query($u: ID!) { collection(uuid: $u) { name } }`, { u: c.uuid }, alice.token))).collection.name).toBe("guarded");
  });
});

describe("bad input", () => {
  it("refuses text the database cannot store, before anything runs", async () => {
    const viaVariable = await gql(z.url, CREATE, { i: { name: "lone\ud800surrogate" } }, alice.token);
    expect(viaVariable.status).toBe(400);
    expect(codes(viaVariable)).toEqual(["BAD_USER_INPUT"]);
    const literal = `mutation { createCollection(input: { name: "x", properties: { a: "\\u0000" } }) { uuid } }`;
    // Twice: the second time the parsed document comes from Apollo's cache, and so does its verdict.
    for (const viaLiteral of [await gql(z.url, literal, {}, alice.token), await gql(z.url, literal, {}, alice.token)]) expect(codes(viaLiteral)).toEqual(["BAD_USER_INPUT"]);
    const list = await ok(gql(z.url, `{ collections(search: "lone") { nodes { uuid } } }`, {}, alice.token));
    expect(list.collections.nodes).toEqual([]);
  });

  it("refuses impossible dates, too many scopes and too many fields", async () => {
    const date = await gql(z.url, `mutation { createToken(input: { expiresAt: "2030-02-31T00:00:00Z" }) { uuid } }`, {}, alice.token);
    expect(codes(date)).toEqual(["BAD_USER_INPUT"]);
    const scopes = Array.from({ length: 101 }, (_, i) => ({ method: "GET", path: `/arvados/v1/collections/x${i}` }));
    const many = await gql(z.url, `mutation($s: [ScopeInput!]) { createToken(input: { scopes: $s }) { uuid } }`, { s: scopes }, alice.token);
    expect(codes(many)).toEqual(["BAD_USER_INPUT"]);
    const aliases = Array.from({ length: 2001 }, (_, i) => `a${i}: clusterId`).join(" ");
    const wide = await gql(z.url, `{ ${aliases} }`, {}, alice.token);
    expect(wide.status).toBe(400);
    expect(codes(wide)).toEqual(["BAD_USER_INPUT"]);
  });
});

describe("projects", () => {
  it("lists a project's subprojects and collections", async () => {
    const { createGroup: p } = await ok(gql(z.url, `mutation { createGroup(input: { name: "proj", groupClass: "project" }) { uuid } }`, {}, alice.token));
    const { createGroup: sub } = await ok(gql(z.url, `mutation($o: ID) { createGroup(input: { name: "sub", groupClass: "project", ownerUuid: $o }) { uuid } }`, { o: p.uuid }, alice.token));
    const { createCollection: c } = await ok(gql(z.url, CREATE, { i: { name: "in-proj", ownerUuid: p.uuid } }, alice.token));
    const r = await ok(gql(z.url, `query($u: ID!) { project(uuid: $u) { name contents { nodes { __typename ... on Group { uuid } ... on Collection { uuid } } } } }`, { u: p.uuid }, alice.token));
    expect(r.project.contents.nodes.map((n: { uuid: string }) => n.uuid).sort()).toEqual([sub.uuid, c.uuid].sort());
    expect(codes(await gql(z.url, `query($u: ID!) { project(uuid: $u) { name } }`, { u: p.uuid }, bob.token))).toEqual(["NOT_FOUND"]);
    const intoOthers = await gql(z.url, CREATE, { i: { name: "intruder", ownerUuid: p.uuid } }, bob.token);
    expect(codes(intoOthers)).toEqual(["NOT_FOUND"]);
  });
});
