import { readFileSync } from "node:fs";
import { join } from "node:path";
import { graphql } from "graphql";
import { makeExecutableSchema } from "@graphql-tools/schema";
import { normaliseScope, type ScopeSet } from "../../src/auth/scopes";
import type { RequestContext } from "../../src/graphql/context";
import { SCHEMA_DIR, buildSchema, loadTypeDefs } from "../../src/graphql/schema";
import { enforceRestScopes, missingRestAnnotations } from "../../src/graphql/restDirective";

const DIRECTIVES = (() => {
  const common = readFileSync(join(SCHEMA_DIR, "common.graphql"), "utf8");
  return [...common.matchAll(/^directive @.*$/gm)].map((m) => m[0]).join("\n");
})();

const TYPES = `
  type Item @resource { uuid: ID! name: String! }
  type Owner @resource { uuid: ID! }
  type Other @resource { uuid: ID! }
  type ItemPage @page { nodes: [Item!]! }
  union Thing = Item | Other
  interface Named { name: String! }
  type Widget implements Named @resource { name: String! }
`;

/** The fields missing @rest in a schema made of the test types plus `sdl`. */
function missing(sdl: string): string[] {
  return missingRestAnnotations(makeExecutableSchema({ typeDefs: [DIRECTIVES, TYPES, sdl] }));
}

const GET = `@rest(method: "GET", path: "/x")`;

describe("missingRestAnnotations", () => {
  it("reports nothing when every root field and resource-reaching field is annotated", () => {
    expect(missing(`type Query { item: Item ${GET} count: Int ${GET} }`)).toEqual([]);
  });

  it("reports a field reaching a resource from a resource type", () => {
    expect(missing(`type Query { item: Item ${GET} } extend type Item { owner: Owner! ownerRef: Owner ${GET} }`)).toEqual(["Item.owner"]);
  });

  it("reports a root field without @rest, whatever it returns", () => {
    expect(missing(`type Query { item: Item ${GET} count: Int } type Mutation { touch: Boolean }`)).toEqual(["Query.count", "Mutation.touch"]);
  });

  it("reports root fields of root types that are not named Query or Mutation", () => {
    expect(missing(`schema { query: Root mutation: Change } type Root { count: Int } type Change { touch: Boolean }`)).toEqual([
      "Root.count",
      "Change.touch",
    ]);
  });

  it("reports a field reaching a resource off a plain (non-@page) type, through lists and non-null", () => {
    expect(missing(`type Query { box: Box ${GET} } type Box { items: [Item!]! label: String }`)).toEqual(["Box.items"]);
  });

  it("reports a field reaching a resource through a union or an interface", () => {
    expect(missing(`type Query { box: Box ${GET} } type Box { thing: Thing named: Named }`)).toEqual(["Box.thing", "Box.named"]);
  });

  it("reports a field reaching a @page of resources without @rest", () => {
    expect(missing(`type Query { box: Box ${GET} } type Box { page: ItemPage }`)).toEqual(["Box.page"]);
  });

  it("exempts the items of a @page type", () => {
    expect(missing(`type Query { items: ItemPage ${GET} }`)).toEqual([]);
  });
});

describe("enforceRestScopes", () => {
  it("refuses to build a schema with a field missing @rest, naming it", () => {
    const schema = makeExecutableSchema({ typeDefs: [DIRECTIVES, `type Query { count: Int }`] });
    expect(() => enforceRestScopes(schema)).toThrow(/fields without a @rest annotation: Query\.count/);
  });

  const schema = enforceRestScopes(
    makeExecutableSchema({
      typeDefs: [
        DIRECTIVES,
        `type Query {
          one(uuid: ID!): String @rest(method: "GET", path: "/a/{uuid}")
          many(uuids: [ID!]!): [String!] @rest(method: "GET", path: "/a/{uuids}")
          both: String @rest(method: "GET", path: "/a") @rest(method: "GET", path: "/b")
          open: String @rest(method: "GET", path: "/c", public: true)
          me: String @rest(method: "GET", path: "/arvados/v1/users/current", identity: true)
          groupsHere: String @rest(method: "GET", path: "/arvados/v1/groups", identity: true)
        }`,
      ],
      resolvers: { Query: { one: () => "one", many: (_: unknown, a: { uuids: string[] }) => a.uuids, both: () => "both", open: () => "open", me: () => "me", groupsHere: () => "groups" } },
    }),
  );
  const run = (source: string, scopes: ScopeSet[] | null, saltedFor?: string) => {
    const caller = scopes && { principal: { user: { uuid: "zzzzz-tpzed-000000000000000", isActive: true }, isRoot: false, token: null, scopeSets: scopes, saltedFor } };
    return graphql({ schema, source, contextValue: { caller } as unknown as RequestContext });
  };
  const allow = (...paths: string[]) => paths.map((p) => normaliseScope("GET", p));

  it("answers a field its scopes allow and refuses the others with FORBIDDEN, resolving the rest", async () => {
    const r = await run(`{ one(uuid: "x") other: one(uuid: "y") }`, [allow("/a/x")]);
    expect(r.data).toEqual({ one: "one", other: null });
    expect(r.errors?.map((e) => [e.path?.join("."), e.extensions.code])).toEqual([["other", "FORBIDDEN"]]);
  });

  it("checks every element of a list argument", async () => {
    expect((await run(`{ many(uuids: ["x", "y"]) }`, [allow("/a/x", "/a/y")])).data).toEqual({ many: ["x", "y"] });
    expect((await run(`{ many(uuids: ["x", "y"]) }`, [allow("/a/x")])).errors?.[0].extensions.code).toBe("FORBIDDEN");
  });

  it("requires every one of several @rest annotations to be allowed", async () => {
    expect((await run(`{ both }`, [allow("/a", "/b")])).data).toEqual({ both: "both" });
    expect((await run(`{ both }`, [allow("/a")])).errors?.[0].message).toMatch(/GET \/b/);
    expect((await run(`{ both }`, [allow("/b")])).errors?.[0].message).toMatch(/GET \/a/);
  });

  it("holds a salted look-up to its scopes, except the validating cluster's minimum (the token's user)", async () => {
    const r = await run(`{ me groupsHere }`, [[]], "bbbbb");
    expect(r.data).toEqual({ me: "me", groupsHere: null });
    expect(r.errors?.map((e) => [e.path?.join("."), e.extensions.code])).toEqual([["groupsHere", "FORBIDDEN"]]);
    expect((await run(`{ me groupsHere }`, [allow("/arvados/v1/groups")], "bbbbb")).data).toEqual({ me: "me", groupsHere: "groups" });
    // Unsalted, the user record is a scope like any other.
    expect((await run(`{ me }`, [[]])).errors?.[0].extensions.code).toBe("FORBIDDEN");
    // Salted, only identity look-ups answer at all.
    expect((await run(`{ one(uuid: "x") }`, [allow("/a/x")], "bbbbb")).errors?.[0].extensions.code).toBe("FORBIDDEN");
  });

  it("answers public fields without a token and refuses the others as UNAUTHENTICATED", async () => {
    const r = await run(`{ open one(uuid: "x") }`, null);
    expect(r.data).toEqual({ open: "open", one: null });
    expect(r.errors?.[0].extensions.code).toBe("UNAUTHENTICATED");
  });
});

describe("buildSchema", () => {
  it("builds the real schema, in which every field that needs @rest has it", () => {
    const schema = buildSchema({ async forgetRemoteTokens() {} });
    expect(schema.getQueryType()?.getFields().viewer).toBeDefined();
    expect(schema.getMutationType()?.getFields().createToken).toBeDefined();
  });

  it("refuses an extra root field without @rest, naming it", () => {
    expect(() => buildSchema({ async forgetRemoteTokens() {} }, [...loadTypeDefs(), "extend type Query { sneaky: String }"])).toThrow(/Query\.sneaky/);
  });

  it("refuses an extra field reaching a resource without @rest, naming it", () => {
    expect(() => buildSchema({ async forgetRemoteTokens() {} }, [...loadTypeDefs(), "extend type User { groups: [Group!]! }"])).toThrow(/User\.groups/);
  });
});
