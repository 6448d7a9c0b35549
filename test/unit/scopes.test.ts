import {
  ALWAYS_ALLOWED_PATH,
  ScopeFormatError,
  allAllow,
  expandRestPath,
  intersectionCovers,
  normaliseScope,
  scopeSetAllows,
  scopeSetCovers,
  scopesFromJson,
  scopesToJson,
  type ScopeSet,
} from "../../src/auth/scopes";

const C = "/arvados/v1/collections";
const UUID = "zzzzz-4zz18-0123456789abcde";
const set = (...pairs: [string, string][]): ScopeSet => pairs.map(([method, path]) => normaliseScope(method, path));

describe("scopeSetAllows", () => {
  it("allows everything when the scopes are all (null)", () => {
    expect(scopeSetAllows(null, "DELETE", `${C}/${UUID}`)).toBe(true);
    expect(scopeSetAllows(scopesFromJson(["all"]), "POST", "/arvados/v1/users")).toBe(true);
  });

  it("allows nothing with an empty list except looking up the current token", () => {
    expect(scopeSetAllows([], "GET", C)).toBe(false);
    expect(scopeSetAllows([], "GET", "/arvados/v1/users/current")).toBe(false);
    expect(scopeSetAllows([], "GET", ALWAYS_ALLOWED_PATH)).toBe(true);
    expect(scopeSetAllows([], "HEAD", ALWAYS_ALLOWED_PATH)).toBe(true);
    expect(scopeSetAllows([], "DELETE", ALWAYS_ALLOWED_PATH)).toBe(false);
  });

  it("lets a GET scope allow HEAD but not the other way round", () => {
    expect(scopeSetAllows(set(["GET", C]), "HEAD", C)).toBe(true);
    expect(scopeSetAllows(set(["HEAD", C]), "HEAD", C)).toBe(true);
    expect(scopeSetAllows(set(["HEAD", C]), "GET", C)).toBe(false);
    expect(scopeSetAllows(set(["GET", C]), "POST", C)).toBe(false);
  });

  it("matches a path without a trailing slash exactly", () => {
    const s = set(["GET", C]);
    expect(scopeSetAllows(s, "GET", C)).toBe(true);
    expect(scopeSetAllows(s, "GET", `${C}/${UUID}`)).toBe(false);
    expect(scopeSetAllows(s, "GET", `${C}x`)).toBe(false);
    expect(scopeSetAllows(s, "GET", "/arvados/v1")).toBe(false);
  });

  it("matches a trailing-slash path strictly underneath it, not the path itself", () => {
    const s = set(["GET", `${C}/`]);
    expect(scopeSetAllows(s, "GET", `${C}/${UUID}`)).toBe(true);
    expect(scopeSetAllows(s, "GET", `${C}/${UUID}/extra`)).toBe(true);
    expect(scopeSetAllows(s, "GET", C)).toBe(false);
    expect(scopeSetAllows(s, "GET", `${C}/`)).toBe(false);
    expect(scopeSetAllows(s, "GET", `${C}x/${UUID}`)).toBe(false);
  });

  it("drops a trailing slash from the request path before matching", () => {
    expect(scopeSetAllows(set(["GET", C]), "GET", `${C}/`)).toBe(true);
    expect(scopeSetAllows(set(["GET", `${C}/${UUID}`]), "GET", `${C}/${UUID}/`)).toBe(true);
    expect(scopeSetAllows([], "GET", `${ALWAYS_ALLOWED_PATH}/`)).toBe(true);
  });

  it("names one object with a scope on its uuid, and no other", () => {
    const s = set(["GET", `${C}/${UUID}`]);
    expect(scopeSetAllows(s, "GET", `${C}/${UUID}`)).toBe(true);
    expect(scopeSetAllows(s, "GET", `${C}/zzzzz-4zz18-000000000000000`)).toBe(false);
    expect(scopeSetAllows(s, "PATCH", `${C}/${UUID}`)).toBe(false);
  });

  it("allows when any one pair allows", () => {
    const s = set(["POST", C], ["GET", "/arvados/v1/users/current"]);
    expect(scopeSetAllows(s, "POST", C)).toBe(true);
    expect(scopeSetAllows(s, "GET", "/arvados/v1/users/current")).toBe(true);
    expect(scopeSetAllows(s, "GET", C)).toBe(false);
  });
});

describe("allAllow", () => {
  it("requires every scope set in force to allow the request", () => {
    expect(allAllow([null, set(["GET", C])], "GET", C)).toBe(true);
    expect(allAllow([set(["GET", `${C}/`]), set(["GET", C])], "GET", C)).toBe(false);
    expect(allAllow([], "DELETE", C)).toBe(true);
  });
});

describe("normaliseScope", () => {
  it("upper-cases the method and keeps a canonical path", () => {
    expect(normaliseScope(" get ", `${C}/`)).toEqual({ method: "GET", path: `${C}/` });
    expect(normaliseScope("delete", `${C}/${UUID}`)).toEqual({ method: "DELETE", path: `${C}/${UUID}` });
  });

  it.each(["FETCH", "all", "", "G ET"])("rejects the unknown method %j", (method) => {
    expect(() => normaliseScope(method, C)).toThrow(ScopeFormatError);
  });

  it.each([
    "arvados/v1/collections",
    "",
    "/arvados//v1/collections",
    "/arvados/v1/collections//",
    "/arvados/v1/./collections",
    "/arvados/v1/../v1/users/",
    "/arvados/v1/collections/..",
    "/arvados/v1/collections/%2e%2e/users",
    "/arvados/v1/collections?limit=1",
    "/arvados/v1/collections#x",
    "/arvados/v1/coll ections",
    "/arvados/v1/collections\\x",
  ])("rejects the non-canonical path %j", (path) => {
    expect(() => normaliseScope("GET", path)).toThrow(ScopeFormatError);
  });
});

describe("scopesFromJson", () => {
  it("reads null, undefined and any \"all\" entry as all", () => {
    expect(scopesFromJson(null)).toBeNull();
    expect(scopesFromJson(undefined)).toBeNull();
    expect(scopesFromJson(["all"])).toBeNull();
    expect(scopesFromJson([["GET", C], "all"])).toBeNull();
  });

  it("reads an empty list as allowing nothing", () => {
    expect(scopesFromJson([])).toEqual([]);
  });

  it("accepts [method, path] pairs, \"METHOD /path\" strings and {method, path} objects", () => {
    expect(scopesFromJson([["get", C], `POST ${C}`, { method: "PATCH", path: `${C}/${UUID}` }])).toEqual([
      { method: "GET", path: C },
      { method: "POST", path: C },
      { method: "PATCH", path: `${C}/${UUID}` },
    ]);
  });

  it.each([
    ["a non-list", "GET /x"],
    ["a string without a path", ["GET"]],
    ["a pair of the wrong length", [["GET", C, "extra"]]],
    ["a pair with a non-string", [["GET", 5]]],
    ["a number", [42]],
    ["a non-canonical path", [["GET", "/a/../b"]]],
    ["an unknown method", ["FETCH /x"]],
  ])("rejects %s", (_, value) => {
    expect(() => scopesFromJson(value)).toThrow(ScopeFormatError);
  });

  it("round-trips through the sorted, de-duplicated storage form", () => {
    const stored = scopesToJson(scopesFromJson([`POST ${C}`, ["GET", C], ["get", C]]));
    expect(stored).toEqual([
      ["GET", C],
      ["POST", C],
    ]);
    expect(scopesFromJson(stored)).toEqual(set(["GET", C], ["POST", C]));
    expect(scopesToJson(null)).toBeNull();
  });
});

describe("expandRestPath", () => {
  it("substitutes named values", () => {
    expect(expandRestPath("/arvados/v1/groups/{uuid}/contents", () => UUID)).toBe(`/arvados/v1/groups/${UUID}/contents`);
  });

  it("percent-encodes slashes and dots so a value cannot change the path's shape", () => {
    const up = expandRestPath(`${C}/{uuid}`, () => "../users/current");
    expect(up).toBe(`${C}/%2E%2E%2Fusers%2Fcurrent`);
    expect(up.split("/")).toHaveLength(C.split("/").length + 1);
    expect(expandRestPath(`${C}/{uuid}`, () => "a/b")).toBe(`${C}/a%2Fb`);
    expect(expandRestPath(`${C}/{uuid}`, () => ".")).toBe(`${C}/%2E`);
    expect(expandRestPath(`${C}/{uuid}`, () => "x?y#z%")).toBe(`${C}/x%3Fy%23z%25`);
  });

  it("stops a value from posing as another path that an exact scope allows", () => {
    const G = "zzzzz-j7d0g-0123456789abcde";
    const scopes = set(["GET", `/arvados/v1/groups/${G}/contents`]);
    const honest = expandRestPath("/arvados/v1/groups/{uuid}/contents", () => G);
    const posing = expandRestPath("/arvados/v1/groups/{uuid}", () => `${G}/contents`);
    expect(scopeSetAllows(scopes, "GET", honest)).toBe(true);
    expect(scopeSetAllows(scopes, "GET", posing)).toBe(false);
  });

  it("takes each placeholder from the lookup by name", () => {
    const values: Record<string, string> = { a: "one", b: "two" };
    expect(expandRestPath("/x/{a}/y/{b}", (name) => values[name])).toBe("/x/one/y/two");
  });
});

describe("scopeSetCovers", () => {
  it("treats all as covering everything and covered only by all", () => {
    expect(scopeSetCovers(null, null)).toBe(true);
    expect(scopeSetCovers(null, set(["GET", C]))).toBe(true);
    expect(scopeSetCovers(set(["GET", "/"]), null)).toBe(false);
  });

  it("covers an empty list with anything, and nothing but the always-allowed look-up with an empty list", () => {
    expect(scopeSetCovers([], [])).toBe(true);
    expect(scopeSetCovers([], set(["GET", ALWAYS_ALLOWED_PATH]))).toBe(true);
    expect(scopeSetCovers([], set(["GET", C]))).toBe(false);
  });

  it("covers an exact scope with the same scope or a prefix scope above it", () => {
    expect(scopeSetCovers(set(["GET", C]), set(["GET", C]))).toBe(true);
    expect(scopeSetCovers(set(["GET", `${C}/`]), set(["GET", `${C}/${UUID}`]))).toBe(true);
    expect(scopeSetCovers(set(["GET", `${C}/`]), set(["GET", C]))).toBe(false);
    expect(scopeSetCovers(set(["GET", `${C}/${UUID}`]), set(["GET", `${C}/`]))).toBe(false);
  });

  it("covers a prefix scope only with a prefix scope at or above it", () => {
    expect(scopeSetCovers(set(["GET", "/arvados/v1/"]), set(["GET", `${C}/`]))).toBe(true);
    expect(scopeSetCovers(set(["GET", `${C}/`]), set(["GET", `${C}/`]))).toBe(true);
    expect(scopeSetCovers(set(["GET", `${C}/`]), set(["GET", "/arvados/v1/"]))).toBe(false);
    expect(scopeSetCovers(set(["GET", C]), set(["GET", `${C}/`]))).toBe(false);
  });

  it("respects methods: GET covers HEAD, HEAD does not cover GET", () => {
    expect(scopeSetCovers(set(["GET", C]), set(["HEAD", C]))).toBe(true);
    expect(scopeSetCovers(set(["GET", `${C}/`]), set(["HEAD", `${C}/`]))).toBe(true);
    expect(scopeSetCovers(set(["HEAD", C]), set(["GET", C]))).toBe(false);
    expect(scopeSetCovers(set(["GET", `${C}/`]), set(["DELETE", `${C}/${UUID}`]))).toBe(false);
  });

  it("requires every inner scope to be covered", () => {
    expect(scopeSetCovers(set(["GET", C]), set(["GET", C], ["POST", C]))).toBe(false);
    expect(scopeSetCovers(set(["GET", C], ["POST", C]), set(["POST", C]))).toBe(true);
  });
});

describe("intersectionCovers", () => {
  it("holds when each outer set covers one of the inner sets", () => {
    const get = set(["GET", C]);
    const post = set(["POST", C]);
    expect(intersectionCovers([null], [null])).toBe(true);
    expect(intersectionCovers([get, null], [get])).toBe(true);
    expect(intersectionCovers([get], [null, get])).toBe(true);
    expect(intersectionCovers([get, post], [get])).toBe(false);
    expect(intersectionCovers([get], [null])).toBe(false);
  });
});
