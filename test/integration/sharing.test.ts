/**
 * Sharing across three real clusters: the five grant cases of DESIGN.md (who stores the link,
 * who is asked what), each allowed and refused; batched visibility checks; the federated
 * sharing dialog and "shared with me".
 */
import { codes, createUserWithToken, gql, ok, startFederation, type TestCluster } from "../helpers/federation";

type Person = { uuid: string; token: string };
let fed: Record<string, TestCluster>;
let a: TestCluster, b: TestCluster, c: TestCluster;
let alice: Person, amy: Person, carol: Person; // on aaaaa; alice grants, amy is visible to her, carol is not
let bella: Person, dora: Person; // on bbbbb; bella is visible to alice, dora is not
let teamA: string, teamB: string, hiddenGroupB: string;

const GRANT = `mutation($h: ID!, $t: ID!) { grantPermission(headUuid: $h, tailUuid: $t, level: "can_read") { uuid cluster headUuid tailUuid } }`;
const grant = (cl: TestCluster, who: Person, head: string, tail: string) => gql(cl.url, GRANT, { h: head, t: tail }, who.token);
const rootGrant = (cl: TestCluster, head: string, tail: string) => cl.root(GRANT, { h: head, t: tail });
const newProject = async (cl: TestCluster, who: Person, name: string) =>
  (await ok(gql(cl.url, `mutation($n: String!) { createGroup(input: { name: $n, groupClass: "project" }) { uuid } }`, { n: name }, who.token))).createGroup.uuid as string;
const role = async (cl: TestCluster, name: string) =>
  (await cl.root(`mutation($n: String!) { createGroup(input: { name: $n, groupClass: "role" }) { uuid } }`, { n: name })).createGroup.uuid as string;
const linksOn = async (cl: TestCluster, who: Person, object: string) =>
  (await ok(gql(cl.url, `query($u: ID!) { permissions(objectUuid: $u) { tailUuid cluster } }`, { u: object }, who.token))).permissions;

beforeAll(async () => {
  fed = await startFederation(["aaaaa", "bbbbb", "ccccc"]);
  ({ aaaaa: a, bbbbb: b, ccccc: c } = fed);
  [alice, amy, carol] = await Promise.all(["alice", "amy", "carol"].map((n) => createUserWithToken(a, `${n}@a.example`)));
  [bella, dora] = await Promise.all(["bella", "dora"].map((n) => createUserWithToken(b, `${n}@b.example`)));
  // On aaaaa, alice and amy share a role group: each can see the other.
  teamA = await role(a, "team-a");
  await rootGrant(a, teamA, alice.uuid);
  await rootGrant(a, teamA, amy.uuid);
  // On bbbbb, bella and alice share a role group; bella is also linked with team-a (recorded on bbbbb).
  teamB = await role(b, "team-b");
  await rootGrant(b, teamB, bella.uuid);
  await rootGrant(b, teamB, alice.uuid);
  hiddenGroupB = await role(b, "hidden-b");
  await rootGrant(b, hiddenGroupB, dora.uuid);
});
afterAll(() => Promise.all(Object.values(fed ?? {}).map((x) => x.stop())));

describe("the five grant cases", () => {
  it("1–2: user on A grants a user or group on A access to an object on A: a local link", async () => {
    const p = await newProject(a, alice, "a-local");
    const toUser = await ok(grant(a, alice, p, amy.uuid));
    expect(toUser.grantPermission.cluster).toBe("aaaaa");
    const toGroup = await ok(grant(a, alice, p, teamA));
    expect(toGroup.grantPermission.cluster).toBe("aaaaa");
    expect(codes(await grant(a, alice, p, carol.uuid))).toEqual(["NOT_FOUND"]);
    expect((await ok(gql(a.url, `query($u: ID!) { project(uuid: $u) { name } }`, { u: p }, amy.token))).project.name).toBe("a-local");
  });

  it("3: user on A grants a user on A access to an object on B: the link is on B, which asks A", async () => {
    const p = await newProject(b, alice, "b-object-a-grantee");
    const r = await ok(grant(a, alice, p, amy.uuid)); // asked on A, delegated to B
    expect(r.grantPermission).toMatchObject({ cluster: "bbbbb", headUuid: p, tailUuid: amy.uuid });
    expect(await linksOn(b, alice, p)).toEqual([{ tailUuid: amy.uuid, cluster: "bbbbb" }]);
    expect((await ok(gql(b.url, `query($u: ID!) { project(uuid: $u) { name } }`, { u: p }, amy.token))).project.name).toBe("b-object-a-grantee");
    const refused = await grant(b, alice, p, carol.uuid);
    expect(codes(refused)).toEqual(["NOT_FOUND"]);
    expect(await linksOn(b, alice, p)).toHaveLength(1);
  });

  it("3 with a group: members of a group on A get access to an object on B through it", async () => {
    const p = await newProject(b, alice, "b-object-a-group");
    const r = await ok(grant(a, alice, p, teamA));
    expect(r.grantPermission.cluster).toBe("bbbbb");
    expect((await ok(gql(b.url, `query($u: ID!) { project(uuid: $u) { name } }`, { u: p }, amy.token))).project.name).toBe("b-object-a-group");
    expect((await ok(gql(a.url, `query($u: ID!) { project(uuid: $u) { name } }`, { u: p }, amy.token))).project.name).toBe("b-object-a-group");
    expect(codes(await gql(b.url, `query($u: ID!) { project(uuid: $u) { name } }`, { u: p }, carol.token))).toEqual(["NOT_FOUND"]);
  });

  it("gives a remote group's member no more than its own level in that group, and a home admin nothing", async () => {
    const p = await newProject(b, alice, "b-managed-by-team-a");
    await ok(gql(a.url, `mutation($h: ID!, $t: ID!) { grantPermission(headUuid: $h, tailUuid: $t, level: "can_manage") { uuid } }`, { h: p, t: teamA }, alice.token));
    // amy is a can_read member of team-a: she reads the project, but cannot manage or change it
    expect((await ok(gql(b.url, `query($u: ID!) { project(uuid: $u) { name } }`, { u: p }, amy.token))).project.name).toBe("b-managed-by-team-a");
    expect(codes(await gql(b.url, `query($u: ID!) { permissions(objectUuid: $u) { uuid } }`, { u: p }, amy.token))).toEqual(["FORBIDDEN"]);
    expect(codes(await gql(b.url, `mutation($u: ID!) { updateGroup(uuid: $u, input: { name: "taken" }) { name } }`, { u: p }, amy.token))).toEqual(["FORBIDDEN"]);
    // an admin of aaaaa who is not in team-a holds nothing through it on bbbbb
    const ada = (await a.root(`mutation { createUser(input: { email: "ada@a.example", isAdmin: true }) { uuid } }`)).createUser.uuid;
    const adaToken = (await a.root(`mutation($u: ID) { createToken(input: { userUuid: $u }) { token } }`, { u: ada })).createToken.token;
    expect(codes(await gql(b.url, `query($u: ID!) { project(uuid: $u) { name } }`, { u: p }, adaToken))).toEqual(["NOT_FOUND"]);
  });

  it("4: user on A grants a user on B access to an object on B: B asks A for the grantor's groups", async () => {
    const p = await newProject(b, alice, "b-object-b-grantee");
    // bella is visible to alice on bbbbb through team-b; dora only through nothing.
    const r = await ok(grant(b, alice, p, bella.uuid));
    expect(r.grantPermission.cluster).toBe("bbbbb");
    expect(codes(await grant(b, alice, p, dora.uuid))).toEqual(["NOT_FOUND"]);
    expect(codes(await grant(b, alice, p, hiddenGroupB))).toEqual(["NOT_FOUND"]);
    // Through a group alice can see on her home cluster: dora linked with team-a on bbbbb.
    await rootGrant(b, dora.uuid, teamA);
    const viaHomeGroup = await ok(grant(b, alice, p, dora.uuid));
    expect(viaHomeGroup.grantPermission.cluster).toBe("bbbbb");
  });

  it("5: user on A grants a user on B access to an object on A: the link is on A, which asks B", async () => {
    const p = await newProject(a, alice, "a-object-b-grantee");
    const r = await ok(grant(a, alice, p, bella.uuid));
    expect(r.grantPermission.cluster).toBe("aaaaa");
    expect((await ok(gql(a.url, `query($u: ID!) { project(uuid: $u) { name } }`, { u: p }, bella.token))).project.name).toBe("a-object-b-grantee");
    const stranger = await createUserWithToken(b, "stranger@b.example");
    expect(codes(await grant(a, alice, p, stranger.uuid))).toEqual(["NOT_FOUND"]);
    expect(await linksOn(a, alice, p)).toEqual([{ tailUuid: bella.uuid, cluster: "aaaaa" }]);
  });

  it("refuses a grantor who cannot manage the object, wherever it is, without revealing it", async () => {
    const p = await newProject(b, alice, "alice-only");
    const r = await grant(a, amy, p, alice.uuid);
    expect(codes(r)).toEqual(["NOT_FOUND"]);
    expect(JSON.stringify(r)).not.toContain("alice-only");
  });
});

describe("batched visibility checks", () => {
  let candidatesB: string[];
  let candidatesC: string[];

  beforeAll(async () => {
    const make = (cl: TestCluster, n: number) =>
      Promise.all(Array.from({ length: n }, (_, i) => cl.root(`mutation($e: String!) { createUser(input: { email: $e }) { uuid } }`, { e: `cand${i}@${cl.id}.example` })));
    candidatesB = (await make(b, 50)).map((r) => r.createUser.uuid);
    candidatesC = (await make(c, 50)).map((r) => r.createUser.uuid);
    // alice can see the first ten on each cluster (they share a role group with her there).
    for (const [cl, cands] of [[b, candidatesB], [c, candidatesC]] as const) {
      const g = await role(cl, "candidates");
      await rootGrant(cl, g, alice.uuid);
      for (const u of cands.slice(0, 10)) await rootGrant(cl, g, u);
    }
  });

  it("checks 100 candidates on 2 remote clusters with 2 remote requests", async () => {
    const r = await gql(a.url, `query($u: [ID!]!) { visibleSubjects(uuids: $u) }`, { u: [...candidatesB, ...candidatesC] }, alice.token, { "x-fedgate-stats": "1" });
    expect(r.errors).toBeUndefined();
    expect(r.data.visibleSubjects.sort()).toEqual([...candidatesB.slice(0, 10), ...candidatesC.slice(0, 10)].sort());
    expect(r.extensions!.fedgate.remoteRequests).toEqual({ bbbbb: 1, ccccc: 1 });
  });

  it("batches separate checks in one request too", async () => {
    const fields = [...candidatesB, ...candidatesC].map((u, i) => `v${i}: visibleSubjects(uuids: ["${u}"])`).join(" ");
    const r = await gql(a.url, `{ ${fields} }`, {}, alice.token, { "x-fedgate-stats": "1" });
    expect(r.errors).toBeUndefined();
    expect(r.data.v0).toEqual([candidatesB[0]]);
    expect(r.data.v99).toEqual([]);
    expect(r.extensions!.fedgate.remoteRequests).toEqual({ bbbbb: 1, ccccc: 1 });
  });
});

describe("sharing dialog and workbench across clusters", () => {
  it("lists shareable users and groups from every cluster, once each, paged with a stable cursor", async () => {
    const seen: { uuid: string; cluster: string }[] = [];
    let after: string | null = null;
    for (let guard = 0; guard < 50; guard++) {
      const r: any = await ok(gql(a.url, `query($a: String) { shareableSubjects(first: 7, after: $a) { nodes { uuid cluster kind } pageInfo { endCursor hasNextPage } failedClusters { cluster } } }`, { a: after }, alice.token));
      expect(r.shareableSubjects.failedClusters).toEqual([]);
      seen.push(...r.shareableSubjects.nodes);
      if (!r.shareableSubjects.pageInfo.hasNextPage) break;
      after = r.shareableSubjects.pageInfo.endCursor;
    }
    const uuids = seen.map((s) => s.uuid);
    expect(new Set(uuids).size).toBe(uuids.length);
    expect(uuids).toEqual([...uuids].sort());
    expect(uuids).toEqual(expect.arrayContaining([alice.uuid, amy.uuid, teamA, bella.uuid, teamB]));
    expect(uuids).not.toContain(carol.uuid);
    expect(uuids).not.toContain(hiddenGroupB);
    expect(seen.find((s) => s.uuid === bella.uuid)!.cluster).toBe("bbbbb");
  });

  it("searches by prefix on every cluster", async () => {
    const r = await ok(gql(a.url, `{ shareableSubjects(search: "bel") { nodes { uuid } } }`, {}, alice.token));
    expect(r.shareableSubjects.nodes).toEqual([{ uuid: bella.uuid }]);
  });

  it("reports a cluster that fails and still lists the others", async () => {
    const r = await gql(a.url, `{ shareableSubjects(clusters: ["aaaaa", "qqqqq"], search: "am") { nodes { uuid } failedClusters { cluster code } } }`, {}, alice.token);
    expect(r.data.shareableSubjects.nodes).toEqual([{ uuid: amy.uuid }]);
    expect(r.data.shareableSubjects.failedClusters).toEqual([{ cluster: "qqqqq", code: "NOT_FOUND" }]);
  });

  it("shows a remote user what was shared with them on every cluster, and opens it", async () => {
    const onA = await newProject(a, alice, "for-bella-on-a");
    const onB = await newProject(b, alice, "for-bella-on-b");
    await ok(grant(a, alice, onA, bella.uuid));
    await ok(grant(b, alice, onB, bella.uuid));
    const r = await ok(gql(b.url, `{ sharedWithMe(first: 50) { nodes { ... on Group { uuid cluster name } } failedClusters { cluster } } }`, {}, bella.token));
    expect(r.sharedWithMe.failedClusters).toEqual([]);
    const uuids = r.sharedWithMe.nodes.map((n: { uuid: string }) => n.uuid);
    expect(uuids).toEqual(expect.arrayContaining([onA, onB]));
    const opened = await ok(gql(b.url, `query($u: ID!) { project(uuid: $u) { name contents { nodes { __typename } } } }`, { u: onA }, bella.token));
    expect(opened.project.name).toBe("for-bella-on-a");
  });
});
