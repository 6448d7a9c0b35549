import { getIntrospectionQuery, getOperationAST, parse, type FragmentDefinitionNode } from "graphql";
import { parseConfig } from "../../src/config/config";
import { buildSchema } from "../../src/graphql/schema";
import { LARGE_TEXT_WEIGHT, operationCost } from "../../src/graphql/queryCost";
import { aliases, typenameFlood } from "../helpers/attacks";

const schema = buildSchema({ forgetRemoteTokens: async () => undefined });
const limits = parseConfig({}).limits;
const budget = limits.maxQueryCost;

function cost(query: string, variables: Record<string, unknown> = {}): number {
  const document = parse(query);
  return operationCost(schema, document, getOperationAST(document)!, variables, limits);
}

const UUID = "zzzzz-4zz18-000000000000000";
const uuids = (n: number) => Array.from({ length: n }, (_, i) => `zzzzz-4zz18-${String(i).padStart(15, "0")}`);

describe("query cost: counting", () => {
  it("counts every selection, __typename and introspection included", () => {
    expect(cost("{ clusterId }")).toBe(1);
    expect(cost("{ __typename }")).toBe(1);
    expect(cost(`{ ${aliases(10, "__typename")} }`)).toBe(10);
    expect(cost("{ __schema { types { name } } }")).toBe(3 + LARGE_TEXT_WEIGHT);
  });

  it("weights each introspection root like large text: aliases repeat the whole answer", () => {
    expect(cost(`{ ${aliases(2, '__type(name: "Query") { name }')} }`)).toBe(2 * (2 + LARGE_TEXT_WEIGHT));
  });

  it("weights a batch answered by one value by its uuids (dropCachedTokens works per uuid)", () => {
    const tokens = Array.from({ length: 200 }, (_, i) => `aaaaa-gj3su-${String(i).padStart(15, "0")}`);
    expect(cost("mutation($u: [ID!]!) { dropCachedTokens(uuids: $u) }", { u: tokens })).toBe(1 + 200);
  });

  it("weights a page by `first`, and by the default page size without it", () => {
    expect(cost("{ collections(first: 10) { nodes { uuid } } }")).toBe(1 + 10 * 2);
    expect(cost("{ collections { nodes { uuid } } }")).toBe(1 + limits.defaultPageSize * 2);
  });

  it("reads `first`, `uuids` and `clusters` from the operation's variables", () => {
    const q = "query($f: Int, $u: [ID!]!, $c: [String!]) { collections(first: $f, clusters: $c) { nodes { uuid } } collectionsByUuid(uuids: $u) { uuid } }";
    expect(cost(q, { f: 7, u: uuids(5), c: ["aaaaa", "bbbbb"] })).toBe(1 + 7 * 2 * 2 + 1 + 5);
    expect(cost(q, { u: [UUID, UUID, UUID] })).toBe(1 + limits.defaultPageSize * 2 + 1 + 1);
  });

  it("weights a batch by its distinct uuids, a list of scalars one per item", () => {
    expect(cost("query($u: [ID!]!) { visibleSubjects(uuids: $u) }", { u: uuids(500) })).toBe(1 + 500);
    expect(cost("query($u: [ID!]!) { usersByUuid(uuids: $u) { uuid email } }", { u: uuids(20) })).toBe(1 + 20 * 2);
  });

  it("multiplies nested pages", () => {
    expect(cost("{ groups(first: 10) { nodes { contents(first: 20) { nodes { __typename } } } } }")).toBe(1 + 10 * (1 + 1 + 20 * 2));
  });

  it("counts the default page size once per path: default pages nested in it count 1 (bounded as they run)", () => {
    expect(cost("{ groups { nodes { contents { nodes { __typename } } } } }")).toBe(1 + limits.defaultPageSize * (1 + 1 + 1 * 2));
    expect(cost("{ groups { nodes { contents(first: 10) { nodes { __typename } } } } }")).toBe(1 + limits.defaultPageSize * (1 + 1 + 10 * 2));
  });

  it("gives large text its own weight per selection", () => {
    expect(cost(`{ collection(uuid: "${UUID}") { manifestText } }`)).toBe(2 + LARGE_TEXT_WEIGHT);
  });

  it("weighs a running container's secrets like large text: up to 100 values of 64 KiB, each an audited read", () => {
    const one = cost("{ containerSecrets { path value } }");
    expect(one).toBeGreaterThanOrEqual(2 * LARGE_TEXT_WEIGHT);
    expect(cost(`{ ${aliases(60, "containerSecrets { path value }")} }`)).toBeGreaterThan(budget);
  });

  it("weighs the JSON fields of container requests and containers like large text, and their lists by page", () => {
    expect(cost("{ containerRequests(first: 10) { nodes { uuid mounts } } }")).toBe(1 + 10 * (1 + 2) + LARGE_TEXT_WEIGHT);
    expect(cost(`{ ${aliases(3, "containers(first: 5) { nodes { environment runtimeStatus } }")} }`)).toBe(3 * (1 + 5 * (1 + 2) + 2 * LARGE_TEXT_WEIGHT));
    expect(cost('{ containerRequests(first: 4, clusters: ["aaaaa", "bbbbb"]) { nodes { container { command } } } }')).toBe(1 + 4 * 2 * (1 + 1 + 2) + LARGE_TEXT_WEIGHT);
  });

  it("measures a fragment once, however often it is spread, and counts it each time", () => {
    const defs = Array.from({ length: 60 }, (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`).join("\n");
    const document = parse(`{ ...F0 }\n${defs}\nfragment F60 on Query { clusterId }`);
    // Followed naively, the last fragment would be read 2^60 times.
    const last = document.definitions[document.definitions.length - 1] as FragmentDefinitionNode;
    let reads = 0;
    const selectionSet = last.selectionSet;
    Object.defineProperty(last, "selectionSet", { get: () => (reads++, selectionSet), enumerable: true });
    expect(operationCost(schema, document, getOperationAST(document)!, {}, limits)).toBe(2 ** 60);
    expect(reads).toBe(1);
  });
});

describe("query cost: the default budget", () => {
  it("lets through the largest legitimate requests", () => {
    expect(cost("{ collections(first: 1000) { nodes { uuid } } }")).toBeLessThanOrEqual(budget);
    expect(cost("query($u: [ID!]!) { visibleSubjects(uuids: $u) }", { u: uuids(500) })).toBeLessThanOrEqual(budget);
    expect(cost(getIntrospectionQuery())).toBeLessThanOrEqual(budget);
    expect(cost(`{ shareableSubjects(first: 1000, clusters: ["aaaaa", "bbbbb", "ccccc"]) { nodes { uuid kind name } } }`)).toBeLessThanOrEqual(budget);
  });

  // The shapes src/federation/remoteClient.ts sends to another cluster, at the largest page and batch.
  it("lets through the federation's own calls at the largest page and batch", () => {
    const COLLECTION = "uuid name ownerUuid portableDataHash manifestText properties createdAt modifiedAt";
    const GROUP = "uuid name groupClass ownerUuid description createdAt";
    const PAGE = "pageInfo { endCursor hasNextPage }";
    const CONTENT = `__typename ... on Group { ${GROUP} } ... on Collection { ${COLLECTION} }`;
    const calls: [string, Record<string, unknown>][] = [
      [`query CollectionsByUuid($u:[ID!]!){ r: collectionsByUuid(uuids:$u){ ${COLLECTION} } }`, { u: uuids(500) }],
      [`query Collections($first:Int){ r: collections(first:$first){ nodes { ${COLLECTION} } ${PAGE} } }`, { first: 1000 }],
      [`query GroupContents($u:ID!,$first:Int){ r: group(uuid:$u){ contents(first:$first){ nodes { ${CONTENT} } ${PAGE} } } }`, { u: UUID, first: 1000 }],
      [`query SharedWithMe($c:[String!],$first:Int){ r: sharedWithMe(clusters:$c,first:$first){ nodes { ${CONTENT} } ${PAGE} } }`, { c: ["bbbbb"], first: 1000 }],
      [`query VisibleSubjects($u:[ID!]!){ r: visibleSubjects(uuids:$u) }`, { u: uuids(500) }],
      [`query ValidateToken { viewer { uuid email fullName isActive isAdmin } currentToken { uuid userUuid scopes { method path } clusterScopes expiresAt revokedAt createdAt } visibleGroups { uuid level } }`, {}],
    ];
    for (const [q, v] of calls) expect({ q, cost: cost(q, v) <= budget }).toEqual({ q, cost: true });
  });

  it("refuses the attacks: aliased pages, aliased large text, a flood of __typename", () => {
    expect(cost(`{ ${aliases(666, "collections(first: 1000) { nodes { uuid } }")} }`)).toBeGreaterThan(budget);
    expect(cost(`{ ${aliases(450, `collection(uuid: "${UUID}") { manifestText }`)} }`)).toBeGreaterThan(budget);
    expect(cost(`{ ${typenameFlood(0.9 * 2 ** 20)} }`)).toBeGreaterThan(budget);
  });
});
