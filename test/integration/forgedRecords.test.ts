/**
 * A peer that forges other clusters' objects: a stub cluster (a small HTTP server answering the
 * federation's GraphQL with forged records) beside two real clusters. Merged lists and pages
 * keep only what each cluster may answer for, and the dropped records are counted.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { encodeCursor } from "../../src/graphql/args";
import { createUserWithToken, freePort, gql, ok, startTestCluster, type TestCluster } from "../helpers/federation";

type Person = { uuid: string; token: string };
let a: TestCluster, b: TestCluster;
let stub: Server;
let alice: Person, amy: Person, carol: Person;
let realB: string; // a bbbbb collection shared with alice

const STUB_PROJECT = "ddddd-j7d0g-000000000000001";
const STUB_COLLECTION = "ddddd-4zz18-000000000000001";
const STUB_USER = "ddddd-tpzed-000000000000001";
const FORGED_B_COLLECTION = "bbbbb-4zz18-forgedforgedfor";
const FORGED_B_GROUP = "bbbbb-j7d0g-forgedforgedfor";
const NOW = new Date().toISOString();

const collection = (uuid: string, manifestText: string) => ({
  __typename: "Collection", uuid, name: `copy of ${uuid}`, ownerUuid: STUB_USER, portableDataHash: null, manifestText, properties: {}, createdAt: NOW, modifiedAt: NOW,
});
const user = (uuid: string, fullName: string) => ({ uuid, email: `${fullName}@forged.example`, fullName, isActive: true, isAdmin: true });
const subject = (uuid: string, kind: string, name: string) => ({ uuid, kind, name, email: null, groupClass: kind === "group" ? "role" : null });
const page = (nodes: unknown[]) => ({ nodes: [...nodes].sort((x: any, y: any) => (x.uuid < y.uuid ? -1 : 1)), pageInfo: { endCursor: null, hasNextPage: false } });
/** A page claiming more to come after a cursor before every real uuid, which would cut every cluster's items off the merge. */
const hidingPage = (nodes: unknown[]) => ({ ...page(nodes), pageInfo: { endCursor: encodeCursor("aaaaa-4zz18-000000000000000"), hasNextPage: true } });
let hiding = false;

/** The stub's answers, by operation: each mixes its own records with other clusters' forged ones. */
function forgedAnswer(operation: string): unknown {
  switch (operation) {
    case "SharedWithMe":
      if (hiding) return hidingPage([collection(STUB_COLLECTION, ". own 0:0:own\n")]);
      return page([collection(realB, ". forged 0:0:forged\n"), collection(FORGED_B_COLLECTION, ". forged 0:0:x\n"), collection(STUB_COLLECTION, ". own 0:0:own\n")]);
    case "GroupsByUuid":
      return [{ uuid: STUB_PROJECT, name: "stub project", groupClass: "project", ownerUuid: STUB_USER, description: null, createdAt: NOW }];
    case "GroupContents":
      return { contents: page([collection(FORGED_B_COLLECTION, ". forged 0:0:x\n"), collection(STUB_COLLECTION, ". own 0:0:own\n")]) };
    case "ShareableSubjects":
      return page([subject(STUB_USER, "user", "stub user"), subject(FORGED_B_GROUP, "group", "forged group"), subject(amy.uuid, "user", "Forged Amy"), subject(carol.uuid, "user", "carol")]);
    case "Users":
      if (hiding) return hidingPage([user(FORGED_B_GROUP.replace("j7d0g", "tpzed"), "forged")]);
      return page([user(STUB_USER, "stub"), user(amy.uuid, "Forged Amy"), user(carol.uuid, "carol")]);
    default:
      return null;
  }
}

function startStub(): Promise<Server> {
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      const { operationName } = JSON.parse(body) as { operationName: string };
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ data: { r: forgedAnswer(operationName) } }));
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

async function dropped(cluster: string): Promise<number> {
  const text = await (await fetch(`${a.url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith("fedgate_remote_records_dropped_total{") && l.includes(`cluster="${cluster}"`));
  return line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : 0;
}

beforeAll(async () => {
  stub = await startStub();
  const stubUrl = `http://127.0.0.1:${(stub.address() as AddressInfo).port}`;
  const [portA, portB] = [await freePort(), await freePort()];
  const peer = (port: number) => ({ url: `http://127.0.0.1:${port}`, activateUsers: true, timeoutMs: 3000 });
  // The stub comes first in aaaaa's table: without the check its forged copy would win the merge.
  [a, b] = await Promise.all([
    startTestCluster("aaaaa", { remoteClusters: { ddddd: { url: stubUrl, activateUsers: true, timeoutMs: 3000 }, bbbbb: peer(portB) } }, portA),
    startTestCluster("bbbbb", { remoteClusters: { aaaaa: peer(portA) } }, portB),
  ]);
  [alice, amy, carol] = await Promise.all(["alice", "amy", "carol"].map((n) => createUserWithToken(a, `${n}@a.example`)));
  const team = (await a.root(`mutation { createGroup(input: { name: "team", groupClass: "role" }) { uuid } }`)).createGroup.uuid;
  for (const member of [alice, amy]) await a.root(`mutation($h: ID!, $t: ID!) { grantPermission(headUuid: $h, tailUuid: $t, level: "can_read") { uuid } }`, { h: team, t: member.uuid });
  await ok(gql(b.url, `{ viewer { uuid } }`, {}, alice.token)); // alice is known on bbbbb
  realB = (await b.root(`mutation { createCollection(input: { name: "real", manifestText: ". real 0:0:real\\n" }) { uuid } }`)).createCollection.uuid;
  await b.root(`mutation($h: ID!, $t: ID!) { grantPermission(headUuid: $h, tailUuid: $t, level: "can_read") { uuid } }`, { h: realB, t: alice.uuid });
});
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  stub?.close();
});

describe("records a peer answers for objects it does not own", () => {
  it("never reach sharedWithMe: the real bbbbb collection is shown as bbbbb has it, and the forgeries are counted", async () => {
    const before = await dropped("ddddd");
    const r = await ok(gql(a.url, `{ sharedWithMe(first: 50) { nodes { ... on Collection { uuid manifestText } } failedClusters { cluster } } }`, {}, alice.token));
    const nodes: { uuid: string; manifestText: string }[] = r.sharedWithMe.nodes;
    expect(nodes.find((n) => n.uuid === realB)?.manifestText).toBe(". real 0:0:real\n");
    expect(nodes.map((n) => n.uuid)).toContain(STUB_COLLECTION);
    expect(nodes.map((n) => n.uuid)).not.toContain(FORGED_B_COLLECTION);
    expect(JSON.stringify(r)).not.toContain("forged");
    expect(await dropped("ddddd")).toBe(before + 2);
  });

  it("never reach a project's contents", async () => {
    const before = await dropped("ddddd");
    const r = await ok(gql(a.url, `query($u: ID!) { project(uuid: $u) { contents { nodes { ... on Collection { uuid } } } } }`, { u: STUB_PROJECT }, alice.token));
    expect(r.project.contents.nodes).toEqual([{ uuid: STUB_COLLECTION }]);
    expect(await dropped("ddddd")).toBe(before + 1);
  });

  it("keep a third cluster's user in the sharing dialog only as its home shows it to the viewer", async () => {
    const before = await dropped("ddddd");
    const r = await ok(gql(a.url, `{ shareableSubjects(clusters: ["ddddd"]) { nodes { uuid kind name } failedClusters { cluster } } }`, {}, alice.token));
    expect(r.shareableSubjects.nodes).toEqual(
      [
        { uuid: STUB_USER, kind: "user", name: "stub user" },
        { uuid: amy.uuid, kind: "user", name: "amy@a.example" }, // aaaaa's record, not the stub's
      ].sort((x, y) => (x.uuid < y.uuid ? -1 : 1)),
    );
    expect(await dropped("ddddd")).toBe(before + 2); // carol (not visible to alice at home) and the forged group
  });

  it("keep a third cluster's user in user lists only as its home shows it", async () => {
    const r = await ok(gql(a.url, `{ users(clusters: ["ddddd"]) { nodes { uuid fullName isAdmin } } }`, {}, alice.token));
    const byUuid = new Map(r.users.nodes.map((u: { uuid: string }) => [u.uuid, u]));
    expect(byUuid.get(amy.uuid)).toEqual({ uuid: amy.uuid, fullName: "amy@a.example", isAdmin: false });
    expect(byUuid.has(carol.uuid)).toBe(false);
    expect(byUuid.has(STUB_USER)).toBe(true);
  });
});

describe("a peer's cursor", () => {
  afterEach(() => void (hiding = false));

  it("cannot cut other clusters' items off a merged list: it counts only after what the peer may answer for", async () => {
    hiding = true;
    const r = await ok(gql(a.url, `{ sharedWithMe(first: 50) { nodes { ... on Collection { uuid } } } }`, {}, alice.token));
    expect(r.sharedWithMe.nodes.map((n: { uuid: string }) => n.uuid)).toEqual([realB, STUB_COLLECTION]);
  });

  it("of a page whose records were all dropped says nothing", async () => {
    hiding = true;
    const r = await ok(gql(a.url, `{ users(clusters: ["aaaaa", "ddddd"]) { nodes { uuid } } }`, {}, alice.token));
    expect(r.users.nodes.map((n: { uuid: string }) => n.uuid)).toEqual(expect.arrayContaining([alice.uuid, amy.uuid]));
  });
});
