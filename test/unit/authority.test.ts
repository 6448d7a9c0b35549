import {
  broaderThan,
  clusterScopesFromJson,
  clusterScopesToJson,
  scopesOn,
  type TokenAuthority,
} from "../../src/auth/authority";
import { normaliseScope, type ScopeSet } from "../../src/auth/scopes";

const READ = [normaliseScope("GET", "/arvados/v1/collections/")];
const WRITE = [normaliseScope("POST", "/arvados/v1/collections")];
const READ_ONE = [normaliseScope("GET", "/arvados/v1/collections/zzzzz-4zz18-0123456789abcde")];
const BOTH: ScopeSet = [...READ, ...WRITE];

function token(over: Partial<TokenAuthority> = {}): TokenAuthority {
  return { homeCluster: "aaaaa", scopes: null, clusterScopes: null, expiresAt: null, ...over };
}

describe("scopesOn", () => {
  it("applies only the token's own scopes on its home cluster, even if the home is listed", () => {
    expect(scopesOn(token({ scopes: READ }), "aaaaa")).toEqual([READ]);
    expect(scopesOn(token({ scopes: READ, clusterScopes: { aaaaa: [] } }), "aaaaa")).toEqual([READ]);
    expect(scopesOn(token({ scopes: READ, clusterScopes: {} }), "aaaaa")).toEqual([READ]);
  });

  it("applies the token's own scopes everywhere when it has no cluster scopes", () => {
    expect(scopesOn(token({ scopes: WRITE }), "bbbbb")).toEqual([WRITE]);
  });

  it("refuses the token on a cluster missing from its cluster scopes", () => {
    expect(scopesOn(token({ clusterScopes: { bbbbb: READ } }), "ccccc")).toBeUndefined();
    expect(scopesOn(token({ clusterScopes: {} }), "bbbbb")).toBeUndefined();
  });

  it("applies the token's own scopes and the listed cluster's entry together", () => {
    expect(scopesOn(token({ scopes: BOTH, clusterScopes: { bbbbb: READ } }), "bbbbb")).toEqual([BOTH, READ]);
    expect(scopesOn(token({ scopes: READ, clusterScopes: { bbbbb: null } }), "bbbbb")).toEqual([READ, null]);
  });
});

describe("broaderThan", () => {
  const at = (iso: string) => new Date(iso);

  it("accepts a child identical to its parent", () => {
    const parent = token({ scopes: READ, clusterScopes: { bbbbb: READ }, expiresAt: at("2030-01-01T00:00:00Z") });
    expect(broaderThan(parent, { ...parent })).toBeUndefined();
  });

  it("refuses a child that outlives its parent or never expires", () => {
    const parent = token({ expiresAt: at("2030-01-01T00:00:00Z") });
    expect(broaderThan(parent, token({ expiresAt: at("2030-01-01T00:00:01Z") }))).toMatch(/expiresAt/);
    expect(broaderThan(parent, token())).toMatch(/expiresAt/);
    expect(broaderThan(parent, token({ expiresAt: at("2029-12-31T00:00:00Z") }))).toBeUndefined();
    expect(broaderThan(token(), token({ expiresAt: at("2029-12-31T00:00:00Z") }))).toBeUndefined();
  });

  it("refuses a child whose own scopes are broader than the parent's", () => {
    expect(broaderThan(token({ scopes: READ }), token({ scopes: null }))).toMatch(/broader/);
    expect(broaderThan(token({ scopes: READ }), token({ scopes: BOTH }))).toMatch(/cluster aaaaa/);
    expect(broaderThan(token({ scopes: READ_ONE }), token({ scopes: READ }))).toMatch(/broader/);
    expect(broaderThan(token({ scopes: READ }), token({ scopes: READ_ONE }))).toBeUndefined();
    expect(broaderThan(token({ scopes: [] }), token({ scopes: [] }))).toBeUndefined();
  });

  it("refuses a child valid on clusters not named in the parent's cluster scopes", () => {
    const parent = token({ clusterScopes: { bbbbb: READ } });
    expect(broaderThan(parent, token({ scopes: READ }))).toMatch(/clusters not named/);
    expect(broaderThan(parent, token({ clusterScopes: { ccccc: READ } }))).toMatch(/cluster ccccc.*creating token is not/);
    expect(broaderThan(parent, token({ clusterScopes: { bbbbb: READ } }))).toBeUndefined();
    expect(broaderThan(parent, token({ clusterScopes: {} }))).toBeUndefined();
  });

  it("refuses a child whose entry for a listed cluster is broader than the parent's", () => {
    const parent = token({ clusterScopes: { bbbbb: READ_ONE } });
    expect(broaderThan(parent, token({ clusterScopes: { bbbbb: READ } }))).toMatch(/cluster bbbbb/);
    expect(broaderThan(parent, token({ clusterScopes: { bbbbb: null } }))).toMatch(/cluster bbbbb/);
  });

  it("accepts a child narrowed on a cluster by its own scopes rather than its entry", () => {
    const parent = token({ clusterScopes: { bbbbb: READ } });
    expect(broaderThan(parent, token({ scopes: READ_ONE, clusterScopes: { bbbbb: null } }))).toBeUndefined();
  });

  it("lets a parent without cluster scopes create a child limited to some clusters", () => {
    const parent = token({ scopes: BOTH });
    expect(broaderThan(parent, token({ scopes: BOTH, clusterScopes: { bbbbb: READ } }))).toBeUndefined();
    expect(broaderThan(parent, token({ scopes: null, clusterScopes: { bbbbb: READ } }))).toMatch(/cluster aaaaa/);
  });

  it("checks the parent's home cluster when the child is created elsewhere", () => {
    // A token from aaaaa, used on bbbbb to create a bbbbb token.
    const parent = token({ scopes: BOTH, clusterScopes: { bbbbb: READ } });
    expect(broaderThan(parent, token({ homeCluster: "bbbbb", scopes: READ, clusterScopes: {} }))).toBeUndefined();
    expect(broaderThan(parent, token({ homeCluster: "bbbbb", scopes: WRITE, clusterScopes: {} }))).toMatch(/cluster bbbbb/);
    expect(broaderThan(parent, token({ homeCluster: "bbbbb", scopes: READ }))).toMatch(/clusters not named/);
    const elsewhere = token({ clusterScopes: { ccccc: null } });
    expect(broaderThan(elsewhere, token({ homeCluster: "bbbbb", clusterScopes: {} }))).toMatch(/cluster bbbbb/);
  });
});

describe("cluster scopes in JSON", () => {
  it("round-trips, with null meaning no cluster scopes", () => {
    const cs = { ccccc: READ, bbbbb: null };
    const json = clusterScopesToJson(cs);
    expect(Object.keys(json ?? {})).toEqual(["bbbbb", "ccccc"]);
    expect(json).toEqual({ bbbbb: null, ccccc: [["GET", "/arvados/v1/collections/"]] });
    expect(clusterScopesFromJson(json)).toEqual(cs);
    expect(clusterScopesFromJson(null)).toBeNull();
    expect(clusterScopesToJson(null)).toBeNull();
  });

  it("rejects a list where an object is expected", () => {
    expect(() => clusterScopesFromJson([["GET", "/x"]])).toThrow(/clusterScopes must be an object/);
  });
});
