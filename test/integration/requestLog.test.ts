/**
 * The request log: one JSON line per GraphQL request with what was asked, by whom, what it cost
 * and how it ended; never the document, its variables or a token's secret.
 */
import { log } from "../../src/log";
import { codes, createUserWithToken, gql, ok, startFederation, type TestCluster } from "../helpers/federation";

let clusters: Record<string, TestCluster>;
const lines: Record<string, unknown>[] = [];

beforeAll(async () => {
  log.configure({ level: "info", sink: (line) => lines.push(JSON.parse(line)) });
  clusters = await startFederation(["rlog1", "rlog2"]);
}, 60_000);

afterAll(async () => {
  log.configure({ level: "error", sink: (line) => process.stderr.write(line + "\n") });
  await Promise.all(Object.values(clusters).map((c) => c.stop()));
});

/** The request lines written while `fn` ran. */
async function requestLines(fn: () => Promise<unknown>): Promise<Record<string, unknown>[]> {
  const from = lines.length;
  await fn();
  return lines.slice(from).filter((l) => l.msg === "graphql request");
}

it("logs one line per request: operation, viewer and token, clusters and remote requests, database time, duration, error codes", async () => {
  const { rlog1: a, rlog2: b } = clusters;
  const alice = await createUserWithToken(a, "alice@rlog.example");
  await ok(gql(b.url, `mutation { createCollection(input: { name: "on b" }) { uuid } }`, {}, b.rootToken));
  const secretish = "variable-value-that-must-not-be-logged";
  const written = await requestLines(() =>
    gql(a.url, `query Look($s: String) { viewer { uuid } collections(search: $s, clusters: ["rlog1", "rlog2"]) { nodes { uuid } } }`, { s: secretish }, alice.token),
  );
  // Both clusters log here: rlog1's line for the request, rlog2's for its delegated part and its validation.
  const mine = written.filter((l) => l.forwardedFor === null);
  expect(mine).toHaveLength(1);
  expect(written.filter((l) => l.forwardedFor === "rlog1").map((l) => l.operationName)).toEqual(["Collections"]);
  const line = mine[0];
  expect(line).toMatchObject({
    level: "info",
    operationName: "Look",
    operationType: "query",
    viewerUuid: alice.uuid,
    tokenUuid: alice.tokenUuid,
    forwardedFor: null,
    clusters: ["rlog2"],
    status: 200,
    errorCodes: [],
  });
  expect(line.remoteRequests).toBeGreaterThanOrEqual(1);
  expect(typeof line.databaseMs).toBe("number");
  expect(line.durationMs).toBeGreaterThan(0);
  expect(typeof line.time).toBe("string");
  const text = JSON.stringify(lines);
  expect(text).not.toContain(secretish);
  expect(text).not.toContain(alice.token.split("/")[2]);
  expect(text).not.toContain("collections(search");
}, 60_000);

it("records the error codes of a failed field and of a refused token", async () => {
  const { rlog1: a } = clusters;
  const denied = await requestLines(() => gql(a.url, `mutation M { createCollection(input: { name: "x" }) { uuid } }`));
  expect(denied).toHaveLength(1);
  expect(denied[0]).toMatchObject({ operationName: "M", operationType: "mutation", viewerUuid: null, errorCodes: ["UNAUTHENTICATED"] });
  const bad = `v2/rlog1-gj3su-${"0".repeat(15)}/${"s".repeat(50)}`;
  const refused = await requestLines(async () => expect(codes(await gql(a.url, `{ clusterId }`, {}, bad))).toEqual(["UNAUTHENTICATED"]));
  expect(refused).toHaveLength(1);
  expect(refused[0]).toMatchObject({ status: 401, errorCodes: ["UNAUTHENTICATED"] });
  expect(JSON.stringify(refused)).not.toContain("s".repeat(50));
});

it("names the cluster that delegated a request, on the receiving side", async () => {
  const { rlog1: a } = clusters;
  const bob = await createUserWithToken(a, "bob@rlog.example");
  const written = await requestLines(() => gql(a.url, `{ collections(clusters: ["rlog2"]) { nodes { uuid } } }`, {}, bob.token));
  const delegated = written.find((l) => l.forwardedFor === "rlog1");
  expect(delegated).toMatchObject({ viewerUuid: bob.uuid, tokenUuid: bob.tokenUuid });
});
