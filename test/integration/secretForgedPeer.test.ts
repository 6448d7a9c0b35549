/**
 * A peer that lies about secrets: a stub cluster ddddd answers the federation's secret calls
 * with values and records of other secrets (its own or another cluster's). The router keeps
 * only an answer for the secret and version asked, of the peer's own, and counts the rest.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { codes, createUserWithToken, gql, ok, startTestCluster, type TestCluster } from "../helpers/federation";

const ASKED = "ddddd-s3cr7-000000000000001";
const OTHER_OWN = "ddddd-s3cr7-000000000000002";
const FORGED_A = "aaaaa-s3cr7-forgedforgedfor";
const NOW = new Date().toISOString();
const record = (uuid: string) => ({ uuid, name: "forged", description: null, ownerUuid: "ddddd-tpzed-000000000000001", currentVersion: 1, versions: [{ version: 1, createdAt: NOW, createdByUuid: "ddddd-tpzed-000000000000001" }], createdAt: NOW, modifiedAt: NOW });

let a: TestCluster;
let stub: Server;
let alice: { token: string };
/** What the stub answers SecretValue with, per test. */
let valueAnswer: unknown;

function answer(operation: string): unknown {
  if (operation === "SecretValue" || operation === "UnwrapSecret") return valueAnswer;
  if (operation === "SecretsByUuid") return [record(FORGED_A), record(ASKED)];
  return null;
}

beforeAll(async () => {
  stub = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ data: { r: answer((JSON.parse(body) as { operationName: string }).operationName) } }));
    });
  });
  await new Promise<void>((resolve) => stub.listen(0, "127.0.0.1", resolve));
  a = await startTestCluster("aaaaa", { remoteClusters: { ddddd: { url: `http://127.0.0.1:${(stub.address() as AddressInfo).port}`, timeoutMs: 3000 } } });
  alice = await createUserWithToken(a, "alice@example.org");
});
afterAll(async () => {
  await a?.stop();
  await new Promise((resolve) => stub.close(resolve));
});

const VALUE = `query($u: ID!, $v: Int) { secretValue(uuid: $u, version: $v) { uuid version value } }`;

it.each([
  ["another of its own secrets", { uuid: OTHER_OWN, version: 1, value: "forged-other" }, null],
  ["another cluster's secret", { uuid: FORGED_A, version: 1, value: "forged-a" }, null],
  ["another version than asked", { uuid: ASKED, version: 2, value: "forged-version" }, 1],
  ["a value that is not text", { uuid: ASKED, version: 1, value: { nested: true } }, null],
  ["nothing at all", null, null],
])("refuses an answer with %s (NOT_FOUND for the secret asked)", async (_, forged, version) => {
  valueAnswer = forged;
  const r = await gql(a.url, VALUE, { u: ASKED, v: version }, alice.token);
  expect(codes(r)).toEqual(["NOT_FOUND"]);
  expect(r.errors?.[0].message).toBe(`secret "${ASKED}" not found`);
  expect(JSON.stringify(r)).not.toContain("forged-");
});

it("takes a value for exactly the secret asked", async () => {
  valueAnswer = { uuid: ASKED, version: 1, value: "its own value", createdAt: NOW };
  expect((await ok(gql(a.url, VALUE, { u: ASKED }, alice.token))).secretValue.value).toBe("its own value");
});

it("keeps only the peer's own secrets from a batch, and an unwrap only of its own", async () => {
  const got = await ok(gql(a.url, `query($u: [ID!]!) { secretsByUuid(uuids: $u) { uuid } }`, { u: [ASKED] }, alice.token));
  expect(got.secretsByUuid).toEqual([{ uuid: ASKED }]);
  valueAnswer = { uuid: FORGED_A, version: 1, value: "forged-unwrap" };
  const r = await gql(a.url, `mutation($t: String!) { unwrapSecret(token: $t) { value } }`, { t: `fgw1.ddddd.${"a".repeat(50)}` }, alice.token);
  expect(codes(r)).toEqual(["NOT_FOUND"]);
  expect(r.errors?.[0].message).toBe("wrapping token not found (used, expired, or never issued)");
  const metrics = await (await fetch(`${a.url}/metrics`)).text();
  expect(metrics).toMatch(/fedgate_remote_records_dropped_total\{[^}]*cluster="ddddd"[^}]*\} [1-9]/);
});
