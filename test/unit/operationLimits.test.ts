import { buildSchema, parse, specifiedRules, validate, getIntrospectionQuery, type DocumentNode, type FragmentDefinitionNode } from "graphql";
import { operationLimitsRule } from "../../src/graphql/operationLimits";

const schema = buildSchema(`
  type Node { id: ID!, name: String, child: Node, children: [Node!]! }
  type Query { root: Node, hello: String }
`);

function errors(query: string | DocumentNode, max: number, rules = [operationLimitsRule({ maxDepth: max, maxFields: Infinity })]) {
  return validate(schema, typeof query === "string" ? parse(query) : query, rules);
}

describe("operation limits: depth", () => {
  it("accepts an operation exactly at the limit", () => {
    expect(errors("{ root { child { name } } }", 3)).toEqual([]);
    expect(errors("{ hello }", 1)).toEqual([]);
  });

  it("refuses an operation one level over the limit with BAD_USER_INPUT", () => {
    const [error, ...rest] = errors("query Deep { root { child { child { name } } } }", 3);
    expect(rest).toEqual([]);
    expect(error.extensions.code).toBe("BAD_USER_INPUT");
    expect(error.message).toMatch(/"Deep" is nested 4 levels deep; the limit is 3/);
  });

  it("measures the deepest branch, not the first", () => {
    expect(errors("{ hello root { name child { child { id } } } }", 3)).toHaveLength(1);
  });

  it("counts fields inside named fragments", () => {
    const query = `
      { root { ...Two } }
      fragment Two on Node { child { ...One } }
      fragment One on Node { child { name } }`;
    expect(errors(query, 3)).toHaveLength(1);
    expect(errors(query, 4)).toEqual([]);
  });

  it("counts fields inside inline fragments", () => {
    expect(errors("{ root { ... on Node { child { child { name } } } } }", 3)).toHaveLength(1);
  });

  it("checks each operation in a document separately", () => {
    const found = errors("query A { hello } query B { root { child { child { name } } } }", 2);
    expect(found).toHaveLength(1);
    expect(found[0].message).toMatch(/"B"/);
  });

  it("does not hang on cyclic fragments (another rule reports the cycle)", () => {
    const query = `
      { root { ...A } }
      fragment A on Node { child { ...B } }
      fragment B on Node { child { ...A } }`;
    expect(errors(query, 10)).toEqual([]);
    expect(errors(query, 2)).toHaveLength(1);
    expect(errors(query, 10, [...specifiedRules, operationLimitsRule({ maxDepth: 10, maxFields: Infinity })]).map((e) => e.message).join()).toMatch(/Cannot spread fragment "A" within itself/);
  });

  it("measures each fragment once, however often it is spread", () => {
    // F0 spreads F1 twice, F1 spreads F2 twice, …: followed naively, the last fragment is read
    // 2^16 times (and a few more levels would stall the server).
    const levels = 16;
    let text = "{ root { ...F0 } }\n";
    for (let i = 0; i < levels; i++) text += `fragment F${i} on Node { a: child { ...F${i + 1} } b: child { ...F${i + 1} } }\n`;
    text += `fragment F${levels} on Node { name }\n`;
    const doc = parse(text);
    const last = doc.definitions[doc.definitions.length - 1] as FragmentDefinitionNode;
    let reads = 0;
    const selectionSet = last.selectionSet;
    Object.defineProperty(last, "selectionSet", { get: () => (reads++, selectionSet), enumerable: true });

    const found = errors(doc, levels);
    expect(found).toHaveLength(1);
    expect(found[0].message).toMatch(/nested 18 levels deep/);
    expect(reads).toBeLessThan(10);
  });

  it("leaves introspection's nesting to graphql's own introspection rule", () => {
    expect(errors(getIntrospectionQuery(), 3)).toEqual([]);
    expect(errors("{ __typename root { __typename } }", 1)).toEqual([]);
  });
});

describe("operation limits: field count", () => {
  const count = (query: string, maxFields: number) =>
    validate(schema, parse(query), [operationLimitsRule({ maxDepth: 100, maxFields })]).map((e) => e.message);

  it("counts aliases, so many copies of one field are refused", () => {
    const aliases = Array.from({ length: 11 }, (_, i) => `a${i}: hello`).join(" ");
    expect(count(`{ ${aliases} }`, 10)).toEqual([expect.stringMatching(/selects 11 fields; the limit is 10/)]);
    expect(count(`{ ${aliases} }`, 11)).toEqual([]);
  });

  it("counts __typename like any other selection", () => {
    const typenames = Array.from({ length: 11 }, (_, i) => `t${i}: __typename`).join(" ");
    expect(count(`{ ${typenames} }`, 10)).toEqual([expect.stringMatching(/selects 11 fields; the limit is 10/)]);
  });

  it("counts a fragment each time it is spread, without exponential work", () => {
    const defs = Array.from({ length: 40 }, (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`).join("\n");
    const query = `{ ...F0 }\n${defs}\nfragment F40 on Query { hello }`;
    expect(count(query, 1000)).toEqual([expect.stringMatching(/selects over a billion fields/)]);
  });
});

describe("operation limits: introspection", () => {
  it("counts aliased introspection fields, so __schema cannot be multiplied without bound", () => {
    const aliases = Array.from({ length: 50 }, (_, i) => `s${i}: __schema { types { name fields { name } } }`).join(" ");
    const errs = validate(schema, parse(`{ ${aliases} }`), [operationLimitsRule({ maxDepth: 12, maxFields: 100 })]).map((e) => e.message);
    expect(errs).toEqual([expect.stringMatching(/selects 250 fields; the limit is 100/)]);
  });
});
