/**
 * A home cluster's bare HTTP answers to a token validation (a stub peer stands in for it): a
 * 4xx without a GraphQL body is a refusal (UNAUTHENTICATED, cached as one), a 5xx a failure
 * (UNAVAILABLE, asked again next time); an answer longer than the cap fails naming the cluster.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { codes, gql, startTestCluster, type TestCluster } from "../helpers/federation";

let stub: Server;
let answer: { status: number; body: string } = { status: 401, body: "Unauthorized" };
let hits = 0;
let z: TestCluster;

beforeAll(async () => {
  stub = createServer((req, res) => {
    hits++;
    req.resume();
    res.writeHead(answer.status, { "content-type": "text/plain" });
    res.end(answer.body);
  });
  await new Promise<void>((r) => stub.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(stub.address() as AddressInfo).port}`;
  z = await startTestCluster("zzzzz", {
    remoteClusters: { stubh: { url, timeoutMs: 3000 } },
    limits: { maxRemoteResponseBytes: 10_000 },
  });
});
afterAll(async () => {
  await z?.stop();
  await new Promise((r) => stub.close(r));
});

let n = 0;
/** A token homed at the stub, new each time (so no earlier answer is cached). */
const stubToken = () => `v2/stubh-gj3su-${String(++n).padStart(15, "0")}/${"s".repeat(50)}`;

it("reports a bare 401 from the home cluster as UNAUTHENTICATED, cached as a refusal", async () => {
  answer = { status: 401, body: "Unauthorized" };
  const token = stubToken();
  hits = 0;
  const first = await gql(z.url, "{ viewer { uuid } }", {}, token);
  expect(first.status).toBe(401);
  expect(codes(first)).toEqual(["UNAUTHENTICATED"]);
  const again = await gql(z.url, "{ viewer { uuid } }", {}, token);
  expect(codes(again)).toEqual(["UNAUTHENTICATED"]);
  expect(hits).toBe(1);
});

it("reports a bare 403 or 404 as a refusal too", async () => {
  for (const status of [403, 404]) {
    answer = { status, body: "" };
    expect(codes(await gql(z.url, "{ viewer { uuid } }", {}, stubToken()))).toEqual(["UNAUTHENTICATED"]);
  }
});

it("reports a bare 5xx as UNAVAILABLE, not cached", async () => {
  answer = { status: 502, body: "<html>bad gateway</html>" };
  const token = stubToken();
  hits = 0;
  const first = await gql(z.url, "{ viewer { uuid } }", {}, token);
  expect(first.status).toBe(503);
  expect(codes(first)).toEqual(["UNAVAILABLE"]);
  await gql(z.url, "{ viewer { uuid } }", {}, token);
  expect(hits).toBe(2);
});

it("stops reading an answer past the byte cap: UNAVAILABLE naming the cluster", async () => {
  answer = { status: 200, body: JSON.stringify({ data: { pad: "x".repeat(50_000) } }) };
  const r = await gql(z.url, "{ viewer { uuid } }", {}, stubToken());
  expect(codes(r)).toEqual(["UNAVAILABLE"]);
  expect(r.errors![0].message).toMatch(/stubh answered more than 10000 bytes/);
});
