/** The permission graph on one cluster: grants, roles, project trees, moves and deletes, kept correct. */
import { codes, createUserWithToken, gql, ok, startTestCluster, type TestCluster } from "../helpers/federation";

let z: TestCluster;
type Person = { uuid: string; token: string };
let alice: Person, bob: Person, carol: Person;
let team: string;

const as = (p: Person, query: string, variables: Record<string, unknown> = {}) => gql(z.url, query, variables, p.token);
const okAs = (p: Person, query: string, variables: Record<string, unknown> = {}) => ok(as(p, query, variables));

async function grant(by: Person | "root", head: string, tail: string, level: string): Promise<string> {
  const q = `mutation($h: ID!, $t: ID!, $l: String!) { grantPermission(headUuid: $h, tailUuid: $t, level: $l) { uuid } }`;
  const v = { h: head, t: tail, l: level };
  const r = by === "root" ? await z.root(q, v) : await okAs(by, q, v);
  return r.grantPermission.uuid;
}
async function project(by: Person, name: string, ownerUuid?: string): Promise<string> {
  return (await okAs(by, `mutation($n: String!, $o: ID) { createGroup(input: { name: $n, groupClass: "project", ownerUuid: $o }) { uuid } }`, { n: name, o: ownerUuid })).createGroup.uuid;
}
async function collection(by: Person, name: string, ownerUuid?: string): Promise<string> {
  return (await okAs(by, `mutation($n: String!, $o: ID) { createCollection(input: { name: $n, ownerUuid: $o }) { uuid } }`, { n: name, o: ownerUuid })).createCollection.uuid;
}
const readCollection = (p: Person, uuid: string) => as(p, `query($u: ID!) { collection(uuid: $u) { name } }`, { u: uuid });
const renameCollection = (p: Person, uuid: string) => as(p, `mutation($u: ID!) { updateCollection(uuid: $u, input: { name: "renamed" }) { name } }`, { u: uuid });

beforeAll(async () => {
  z = await startTestCluster("zzzzz");
  alice = await createUserWithToken(z, "alice@example.org");
  bob = await createUserWithToken(z, "bob@example.org");
  carol = await createUserWithToken(z, "carol@example.org");
  team = (await z.root(`mutation { createGroup(input: { name: "lab", groupClass: "role" }) { uuid } }`)).createGroup.uuid;
  await grant("root", team, alice.uuid, "can_read");
  await grant("root", team, bob.uuid, "can_read");
});
afterAll(() => z?.stop());

describe("grants on one cluster", () => {
  it("gives read, then write, then nothing, as the link changes", async () => {
    const p = await project(alice, "shared");
    const c = await collection(alice, "data", p);
    expect(codes(await readCollection(bob, c))).toEqual(["NOT_FOUND"]);
    const link = await grant(alice, p, bob.uuid, "can_read");
    expect((await ok(readCollection(bob, c))).collection.name).toBe("data");
    expect(codes(await renameCollection(bob, c))).toEqual(["FORBIDDEN"]);
    await okAs(alice, `mutation($u: ID!) { updatePermission(uuid: $u, level: "can_write") { level } }`, { u: link });
    expect((await ok(renameCollection(bob, c))).updateCollection.name).toBe("renamed");
    await okAs(alice, `mutation($u: ID!) { revokePermission(uuid: $u) { uuid } }`, { u: link });
    expect(codes(await readCollection(bob, c))).toEqual(["NOT_FOUND"]);
  });

  it("lists who has access for a manager, and refuses readers (FORBIDDEN) and strangers (NOT_FOUND)", async () => {
    const p = await project(alice, "listed");
    await grant(alice, p, bob.uuid, "can_read");
    const perms = await okAs(alice, `query($u: ID!) { permissions(objectUuid: $u) { tailUuid level cluster } }`, { u: p });
    expect(perms.permissions).toEqual([{ tailUuid: bob.uuid, level: "can_read", cluster: "zzzzz" }]);
    expect(codes(await as(bob, `query($u: ID!) { permissions(objectUuid: $u) { uuid } }`, { u: p }))).toEqual(["FORBIDDEN"]);
    expect(codes(await as(carol, `query($u: ID!) { permissions(objectUuid: $u) { uuid } }`, { u: p }))).toEqual(["NOT_FOUND"]);
  });

  it("refuses a grantor who cannot manage the object, and a grantee the grantor cannot see", async () => {
    const p = await project(alice, "guarded");
    await grant(alice, p, bob.uuid, "can_write");
    const byBob = await as(bob, `mutation($h: ID!, $t: ID!) { grantPermission(headUuid: $h, tailUuid: $t, level: "can_read") { uuid } }`, { h: p, t: alice.uuid });
    expect(codes(byBob)).toEqual(["FORBIDDEN"]);
    const toStranger = await as(alice, `mutation($h: ID!, $t: ID!) { grantPermission(headUuid: $h, tailUuid: $t, level: "can_read") { uuid } }`, { h: p, t: carol.uuid });
    expect(codes(toStranger)).toEqual(["NOT_FOUND"]);
    const twice = await as(alice, `mutation($h: ID!, $t: ID!) { grantPermission(headUuid: $h, tailUuid: $t, level: "can_read") { uuid } }`, { h: p, t: bob.uuid });
    expect(codes(twice)).toEqual(["CONFLICT"]);
    const badLevel = await as(alice, `mutation($h: ID!, $t: ID!) { grantPermission(headUuid: $h, tailUuid: $t, level: "can_fly") { uuid } }`, { h: p, t: bob.uuid });
    expect(codes(badLevel)).toEqual(["BAD_USER_INPUT"]);
  });

  it("gives a role group's members what the group is granted, and takes it back when the group goes", async () => {
    const role = (await okAs(alice, `mutation { createGroup(input: { name: "readers", groupClass: "role" }) { uuid } }`)).createGroup.uuid;
    await grant(alice, role, bob.uuid, "can_read");
    const p = await project(alice, "for-readers");
    const c = await collection(alice, "paper", p);
    await grant(alice, p, role, "can_write");
    // bob is only a reader of the role: the lowest level along the path wins
    expect((await ok(readCollection(bob, c))).collection.name).toBe("paper");
    expect(codes(await renameCollection(bob, c))).toEqual(["FORBIDDEN"]);
    expect(codes(await okAs(alice, `query($u: ID!) { permissions(objectUuid: $u) { uuid } }`, { u: role }).then(() => ({} as any), (e) => e))).toEqual([]);
    await okAs(alice, `mutation($u: ID!) { deleteGroup(uuid: $u) { uuid } }`, { u: role });
    expect(codes(await readCollection(bob, c))).toEqual(["NOT_FOUND"]);
  });

  it("reaches everything under a shared project, and follows a subproject when it moves", async () => {
    const top = await project(alice, "top");
    const sub = await project(alice, "sub", top);
    const deep = await collection(alice, "deep", sub);
    await grant(alice, top, bob.uuid, "can_read");
    expect((await ok(readCollection(bob, deep))).collection.name).toBe("deep");
    const contents = await okAs(bob, `query($u: ID!) { project(uuid: $u) { contents { nodes { ... on Group { uuid } } } } }`, { u: top });
    expect(contents.project.contents.nodes).toEqual([{ uuid: sub }]);
    await okAs(alice, `mutation($u: ID!) { updateGroup(uuid: $u, input: { ownerUuid: "${alice.uuid}" }) { ownerUuid } }`, { u: sub });
    expect(codes(await readCollection(bob, deep))).toEqual(["NOT_FOUND"]);
    await okAs(alice, `mutation($u: ID!, $o: ID!) { updateGroup(uuid: $u, input: { ownerUuid: $o }) { ownerUuid } }`, { u: sub, o: top });
    expect((await ok(readCollection(bob, deep))).collection.name).toBe("deep");
  });

  it("does not let a collaborator with can_write take an object over by moving it", async () => {
    const p = await project(alice, "not-yours");
    const c = await collection(alice, "keep-mine");
    await grant(alice, p, bob.uuid, "can_write");
    await grant(alice, c, bob.uuid, "can_write");
    const steal = await as(bob, `mutation($u: ID!, $o: ID!) { updateCollection(uuid: $u, input: { ownerUuid: $o }) { ownerUuid } }`, { u: c, o: bob.uuid });
    expect(codes(steal)).toEqual(["FORBIDDEN"]);
    const stealProject = await as(bob, `mutation($u: ID!, $o: ID!) { updateGroup(uuid: $u, input: { ownerUuid: $o }) { ownerUuid } }`, { u: p, o: bob.uuid });
    expect(codes(stealProject)).toEqual(["FORBIDDEN"]);
    expect((await ok(readCollection(alice, c))).collection.name).toBe("keep-mine");
    // Within what bob may write, moving is fine: into the shared project and back out of it.
    const inside = await collection(bob, "bobs-file");
    const moved = await okAs(bob, `mutation($u: ID!, $o: ID!) { updateCollection(uuid: $u, input: { ownerUuid: $o }) { ownerUuid } }`, { u: inside, o: p });
    expect(moved.updateCollection.ownerUuid).toBe(p);
  });

  it("lets a project's writer move its subprojects (Arvados' rule) but not its role groups, which need can_manage", async () => {
    const MOVE = `mutation($u: ID!, $o: ID!) { updateGroup(uuid: $u, input: { ownerUuid: $o }) { ownerUuid } }`;
    const p = await project(alice, "with-a-role");
    const role = (await okAs(alice, `mutation($o: ID) { createGroup(input: { name: "owned-role", groupClass: "role", ownerUuid: $o }) { uuid } }`, { o: p })).createGroup.uuid;
    const sub = await project(alice, "movable-sub", p);
    await grant(alice, p, bob.uuid, "can_write");
    // Taking the role would make bob its manager: he could then add himself and hold what it holds.
    const take = await as(bob, MOVE, { u: role, o: bob.uuid });
    expect(codes(take)).toEqual(["FORBIDDEN"]);
    expect(take.errors![0].message).toContain("can_manage");
    expect((await z.root(`query($u: ID!) { group(uuid: $u) { ownerUuid } }`, { u: role })).group.ownerUuid).toBe(p);
    const join = await as(bob, `mutation($h: ID!, $t: ID!) { grantPermission(headUuid: $h, tailUuid: $t, level: "can_read") { uuid } }`, { h: role, t: bob.uuid });
    expect(codes(join)).toEqual(["FORBIDDEN"]);
    // A project moves by write on it (through its owner) and on the new owner.
    expect((await okAs(bob, MOVE, { u: sub, o: bob.uuid })).updateGroup.ownerUuid).toBe(bob.uuid);
    // The role's manager (its project's owner) moves it.
    expect((await okAs(alice, MOVE, { u: role, o: alice.uuid })).updateGroup.ownerUuid).toBe(alice.uuid);
  });

  it("gives a permission on a user what that user owns, not the groups that user belongs to", async () => {
    const secretRole = (await okAs(bob, `mutation { createGroup(input: { name: "bobs-club", groupClass: "role" }) { uuid } }`)).createGroup.uuid;
    const clubProject = await project(bob, "club-project");
    await grant(bob, clubProject, secretRole, "can_read");
    const home = await collection(bob, "bobs-home-file");
    await grant(bob, bob.uuid, alice.uuid, "can_read"); // alice may read bob
    expect((await ok(readCollection(alice, home))).collection.name).toBe("bobs-home-file");
    // bob owns the role and the project; alice reads them as things bob owns...
    const viaRole = await collection(bob, "club-file", clubProject);
    expect((await ok(readCollection(alice, viaRole))).collection.name).toBe("club-file");
    // ...but a group that merely has bob as a member stays closed to her.
    const other = (await z.root(`mutation { createGroup(input: { name: "other", groupClass: "role" }) { uuid } }`)).createGroup.uuid;
    await grant("root", other, bob.uuid, "can_read");
    const otherProject = (await z.root(`mutation { createGroup(input: { name: "other-project", groupClass: "project" }) { uuid } }`)).createGroup.uuid;
    await grant("root", otherProject, other, "can_read");
    const hidden = (await z.root(`mutation($o: ID) { createCollection(input: { name: "members-only", ownerUuid: $o }) { uuid } }`, { o: otherProject })).createCollection.uuid;
    expect((await ok(readCollection(bob, hidden))).collection.name).toBe("members-only");
    expect(codes(await readCollection(alice, hidden))).toEqual(["NOT_FOUND"]);
  });

  it("refuses to move a project under itself, and to delete a project that is not empty", async () => {
    const top = await project(alice, "cyclic");
    const sub = await project(alice, "child", top);
    const cycle = await as(alice, `mutation($u: ID!, $o: ID!) { updateGroup(uuid: $u, input: { ownerUuid: $o }) { uuid } }`, { u: top, o: sub });
    expect(codes(cycle)).toEqual(["CONFLICT"]);
    expect(codes(await as(alice, `mutation($u: ID!) { deleteGroup(uuid: $u) { uuid } }`, { u: top }))).toEqual(["CONFLICT"]);
  });

  it("lists only readable collections, with correct pages", async () => {
    const p = await project(alice, "mixed");
    const visible = [];
    for (let i = 0; i < 5; i++) visible.push(await collection(alice, `mixed-${i}`, p));
    for (let i = 0; i < 5; i++) await collection(alice, `mixed-private-${i}`);
    await grant(alice, p, bob.uuid, "can_read");
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const r: any = await okAs(bob, `query($a: String) { collections(search: "mixed", first: 2, after: $a) { nodes { uuid } pageInfo { endCursor hasNextPage } } }`, { a: after });
      seen.push(...r.collections.nodes.map((n: { uuid: string }) => n.uuid));
      if (!r.collections.pageInfo.hasNextPage) break;
      after = r.collections.pageInfo.endCursor;
    }
    expect(seen.sort()).toEqual(visible.sort());
  });
});

describe("sharing dialog and workbench on one cluster", () => {
  it("lists fellow members and visible groups, searchable by prefix, never strangers", async () => {
    const all = await okAs(alice, `{ shareableSubjects(first: 100) { nodes { uuid kind name email cluster } failedClusters { cluster } } }`);
    const uuids = all.shareableSubjects.nodes.map((n: { uuid: string }) => n.uuid);
    expect(uuids).toEqual(expect.arrayContaining([alice.uuid, bob.uuid, team]));
    expect(uuids).not.toContain(carol.uuid);
    const bo = await okAs(alice, `{ shareableSubjects(search: "bob@") { nodes { uuid kind } } }`);
    expect(bo.shareableSubjects.nodes).toEqual([{ uuid: bob.uuid, kind: "user" }]);
    const seen = await okAs(alice, `query($u: [ID!]!) { visibleSubjects(uuids: $u) }`, { u: [bob.uuid, carol.uuid, team] });
    expect(seen.visibleSubjects.sort()).toEqual([bob.uuid, team].sort());
  });

  it("shows what others shared with the viewer, directly or through a role", async () => {
    const direct = await project(alice, "to-carol-direct");
    const viaRole = await collection(alice, "to-lab");
    const own = await project(carol, "carols-own");
    await grant("root", direct, carol.uuid, "can_read");
    await grant("root", team, carol.uuid, "can_read");
    await grant(alice, viaRole, team, "can_read");
    const r = await okAs(carol, `{ sharedWithMe(first: 100) { nodes { __typename ... on Group { uuid } ... on Collection { uuid } } } }`);
    const uuids = r.sharedWithMe.nodes.map((n: { uuid: string }) => n.uuid);
    expect(uuids).toEqual(expect.arrayContaining([direct, viaRole]));
    expect(uuids).not.toContain(own);
  });
});
