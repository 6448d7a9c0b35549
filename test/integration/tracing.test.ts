/**
 * One federated query is one trace across clusters: the span tree from the first cluster's
 * request span, through its resolver and its call to the second cluster, into the second
 * cluster's request span (W3C trace context carried on the call) and its database queries.
 * No span attribute holds a token, a secret or a variable's value.
 */
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { enableTracing, stopTracing } from "../../src/telemetry/tracing";
import { createUserWithToken, gql, ok, startFederation, type TestCluster } from "../helpers/federation";

const exporter = new InMemorySpanExporter();
let clusters: Record<string, TestCluster>;

beforeAll(async () => {
  enableTracing(new SimpleSpanProcessor(exporter));
  clusters = await startFederation(["trc01", "trc02"]);
}, 60_000);

afterAll(async () => {
  await Promise.all(Object.values(clusters).map((c) => c.stop()));
  await stopTracing();
});

const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
const children = (spans: ReadableSpan[], of: ReadableSpan) => spans.filter((s) => parentOf(s) === of.spanContext().spanId);
function descendants(spans: ReadableSpan[], of: ReadableSpan): ReadableSpan[] {
  return children(spans, of).flatMap((c) => [c, ...descendants(spans, c)]);
}
function only(spans: ReadableSpan[], what: string, test: (s: ReadableSpan) => boolean): ReadableSpan {
  const found = spans.filter(test);
  if (found.length !== 1) throw new Error(`expected one ${what}, found ${found.length}: ${spans.map((s) => s.name).join(", ")}`);
  return found[0];
}

it("traces a federated query as one tree across both clusters, without secrets in attributes", async () => {
  const { trc01: a, trc02: b } = clusters;
  await ok(gql(b.url, `mutation { createCollection(input: { name: "traced" }) { uuid } }`, {}, b.rootToken));
  const alice = await createUserWithToken(a, "alice@trace.example");
  exporter.reset();
  const secretVariable = "variable-value-never-in-a-span";
  await ok(gql(a.url, `query Fed($s: String) { collections(search: $s, clusters: ["trc02"]) { nodes { uuid } } }`, { s: secretVariable }, alice.token));

  const spans = exporter.getFinishedSpans();
  const root = only(spans, "request span of Fed", (s) => s.name === "graphql query Fed");
  expect(parentOf(root)).toBeUndefined();
  const trace = spans.filter((s) => s.spanContext().traceId === root.spanContext().traceId);
  expect(trace.length).toBe(spans.length); // everything this request caused is in its trace

  const resolver = only(children(trace, root), "root field span", (s) => s.name === "resolve Query.collections");
  const call = only(descendants(trace, resolver), "call to trc02", (s) => s.name === "fedgate.remote Collections");
  expect(call.attributes["fedgate.remote.cluster"]).toBe("trc02");
  const remoteRequest = only(children(trace, call), "trc02's request span", (s) => s.name === "graphql query Collections");
  // trc02 validated alice's token at trc01 within its request: that too is in the trace.
  const validation = only(descendants(trace, remoteRequest), "validation call", (s) => s.name === "fedgate.remote ValidateToken");
  expect(children(trace, validation).map((s) => s.name)).toEqual(["graphql query ValidateToken"]);
  expect(descendants(trace, remoteRequest).some((s) => s.name.startsWith("db "))).toBe(true);

  const attributes = JSON.stringify(spans.map((s) => s.attributes));
  expect(attributes).not.toContain(secretVariable);
  expect(attributes).not.toContain(alice.token.split("/")[2]);
  expect(JSON.stringify(spans.map((s) => s.name))).not.toContain(secretVariable);
}, 60_000);
