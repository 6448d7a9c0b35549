import { broaderThan, scopesOn, type TokenAuthority } from "../../src/auth/authority";
import { allAllow, intersectScopeSets, normaliseScope, scopeSetAllows, scopeSetCovers, type ScopeSet } from "../../src/auth/scopes";
import {
  asChildAuthority, defaultClusterScopes, inputCollections, narrowClusterScopes, narrowingByContainerToken, readsOnlyElsewhere, withinToken,
} from "../../src/containers/clusterScopes";

const set = (...pairs: [string, string][]): ScopeSet => pairs.map(([m, p]) => normaliseScope(m, p));
const V1 = "/arvados/v1";
const CT = "bbbbb-dz642-000000000000001";
const IN_A = "aaaaa-4zz18-000000000000001";
const IN_A2 = "aaaaa-4zz18-000000000000002";
const IN_B = "bbbbb-4zz18-000000000000001";
const OTHER_A = "aaaaa-4zz18-00000000000000z";
const SECRET_C = "ccccc-s3cr7-000000000000001";
const mounts = {
  "/in": { kind: "collection", uuid: IN_A },
  "/in2": { kind: "collection", uuid: IN_A2, path: "sub" },
  "/local": { kind: "collection", uuid: IN_B },
  "/pdh": { kind: "collection", portable_data_hash: "d41d8cd98f00b204e9800998ecf8427e+0" },
  "/out": { kind: "tmp", capacity: 1 },
  "/bogus": { kind: "collection", uuid: "../../users" },
  "/notcoll": { kind: "json", content: { uuid: "aaaaa-4zz18-00000000000000q" } },
};

describe("inputCollections", () => {
  it("lists the uuids of collection mounts only, sorted and unique", () => {
    expect(inputCollections({ ...mounts, "/again": { kind: "collection", uuid: IN_A } })).toEqual([IN_A, IN_A2, IN_B]);
    expect(inputCollections({ "/x": null, "/y": "text", "/z": { kind: "collection", uuid: 7 } })).toEqual([]);
  });
});

describe("defaultClusterScopes", () => {
  const cs = defaultClusterScopes({ runsOn: "bbbbb", containerUuid: CT, mounts, secretUuids: [SECRET_C] });
  const on = (cluster: string, method: string, path: string) => cs[cluster] !== undefined && scopeSetAllows(cs[cluster], method, path);

  it("has an entry where it runs and one per other cluster homing an input or secret, no other", () => {
    expect(Object.keys(cs).sort()).toEqual(["aaaaa", "bbbbb", "ccccc"]);
  });

  it("lets the container do its work where it runs, and read all its inputs through it (their homes check again)", () => {
    for (const [m, p] of [
      ["GET", `${V1}/containers/${CT}`], ["PATCH", `${V1}/containers/${CT}`], ["GET", `${V1}/containers/current`],
      ["GET", `${V1}/containers/current/secret_mounts`], ["POST", `${V1}/collections`], ["PATCH", `${V1}/collections/bbbbb-4zz18-00000000000000l`],
      ["GET", `${V1}/collections/${IN_B}`], ["GET", `${V1}/collections/${IN_A}`], ["GET", `${V1}/secrets/${SECRET_C}/value`], ["POST", `${V1}/container_requests`], ["GET", `${V1}/container_requests/bbbbb-xvhdp-000000000000001`],
    ]) expect([m, p, on("bbbbb", m, p)]).toEqual([m, p, true]);
  });

  it("refuses everything else where it runs: other containers, other collections, deletes, tokens, users", () => {
    for (const [m, p] of [
      ["GET", `${V1}/containers/bbbbb-dz642-000000000000002`], ["PATCH", `${V1}/containers/bbbbb-dz642-000000000000002`],
      ["GET", `${V1}/collections/bbbbb-4zz18-00000000000000z`], ["GET", `${V1}/collections`], ["DELETE", `${V1}/collections/${IN_B}`],
      ["POST", `${V1}/api_client_authorizations`], ["GET", `${V1}/users/current`], ["POST", `${V1}/containers/${CT}/lock`],
    ]) expect([m, p, on("bbbbb", m, p)]).toEqual([m, p, false]);
  });

  it("elsewhere allows only GET of exactly the inputs and secrets homed there", () => {
    expect(on("aaaaa", "GET", `${V1}/collections/${IN_A}`)).toBe(true);
    expect(on("aaaaa", "HEAD", `${V1}/collections/${IN_A2}`)).toBe(true);
    expect(on("aaaaa", "GET", `${V1}/collections/${OTHER_A}`)).toBe(false);
    expect(on("aaaaa", "GET", `${V1}/collections/${IN_B}`)).toBe(false);
    expect(on("aaaaa", "POST", `${V1}/collections`)).toBe(false);
    expect(on("aaaaa", "PATCH", `${V1}/collections/${IN_A}`)).toBe(false);
    expect(on("aaaaa", "GET", `${V1}/containers/current`)).toBe(false);
    expect(on("ccccc", "GET", `${V1}/secrets/${SECRET_C}/value`)).toBe(true);
    expect(on("ccccc", "GET", `${V1}/secrets/ccccc-s3cr7-000000000000002/value`)).toBe(false);
    expect(readsOnlyElsewhere(cs, "bbbbb")).toBe(true);
    expect(readsOnlyElsewhere(cs, "aaaaa")).toBe(false);
  });

  it("names the container by prefix before it exists, covering the token minted once it does", () => {
    const before = defaultClusterScopes({ runsOn: "bbbbb", mounts, secretUuids: [SECRET_C] });
    expect(scopeSetAllows(before.bbbbb, "PATCH", `${V1}/containers/${CT}`)).toBe(true);
    expect(Object.keys(before)).toEqual(Object.keys(cs));
    for (const cluster of Object.keys(cs)) expect(scopeSetCovers(before[cluster], cs[cluster])).toBe(true);
  });
});

describe("narrowing", () => {
  const cs = defaultClusterScopes({ runsOn: "bbbbb", containerUuid: CT, mounts });

  it("runtimeClusterScopes narrow the entries they name and never widen; the others keep their defaults", () => {
    const narrowed = narrowClusterScopes(cs, {
      aaaaa: set(["GET", `${V1}/collections/`], ["POST", `${V1}/collections`]),
      bbbbb: set(["GET", `${V1}/containers/current`], ["POST", `${V1}/collections`]),
      ccccc: null,
    });
    expect(Object.keys(narrowed).sort()).toEqual(["aaaaa", "bbbbb"]);
    expect(scopeSetAllows(narrowed.aaaaa, "GET", `${V1}/collections/${IN_A}`)).toBe(true);
    expect(scopeSetAllows(narrowed.aaaaa, "POST", `${V1}/collections`)).toBe(false);
    expect(scopeSetAllows(narrowed.bbbbb, "POST", `${V1}/collections`)).toBe(true);
    expect(scopeSetAllows(narrowed.bbbbb, "PATCH", `${V1}/containers/${CT}`)).toBe(false);
    expect(narrowClusterScopes(cs, null)).toBe(cs);
    expect(narrowClusterScopes(cs, { aaaaa: [] }).aaaaa).toEqual([]);
  });

  it("within a runtime token: intersected with its scopes on each cluster, dropped where it is not valid", () => {
    const runtime: TokenAuthority = {
      homeCluster: "aaaaa", expiresAt: null,
      scopes: set(["GET", `${V1}/`], ["POST", `${V1}/collections`]),
      clusterScopes: { bbbbb: set(["GET", `${V1}/containers/`], ["POST", `${V1}/collections`]) },
    };
    const within = withinToken(cs, runtime);
    expect(Object.keys(within).sort()).toEqual(["aaaaa", "bbbbb"]);
    expect(scopeSetAllows(within.bbbbb, "GET", `${V1}/containers/${CT}`)).toBe(true);
    expect(scopeSetAllows(within.bbbbb, "PATCH", `${V1}/containers/${CT}`)).toBe(false);
    expect(scopeSetAllows(within.bbbbb, "GET", `${V1}/collections/${IN_B}`)).toBe(false);
    const child: TokenAuthority = { homeCluster: "aaaaa", expiresAt: null, scopes: runtime.scopes, clusterScopes: within, containerUuid: CT };
    expect(broaderThan(runtime, child)).toBeUndefined();
    // Not narrowed, the defaults would be broader than the runtime token on bbbbb.
    expect(broaderThan(runtime, { ...child, clusterScopes: cs })).toMatch(/bbbbb/);
  });
});

describe("scopesOn for a container's token", () => {
  const cs = defaultClusterScopes({ runsOn: "bbbbb", containerUuid: CT, mounts });
  const child: TokenAuthority = { homeCluster: "aaaaa", expiresAt: null, scopes: null, clusterScopes: cs, containerUuid: CT };

  it("applies its entry on its home too: a child minted at aaaaa for a container on bbbbb only reads its inputs at aaaaa", () => {
    const home = scopesOn(child, "aaaaa")!;
    expect(allAllow(home, "GET", `${V1}/collections/${IN_A}`)).toBe(true);
    expect(allAllow(home, "POST", `${V1}/collections`)).toBe(false);
    expect(allAllow(home, "GET", `${V1}/collections/${OTHER_A}`)).toBe(false);
    expect(scopesOn(child, "ccccc")).toBeUndefined();
    // An unbound token's home applies its own scopes, as before.
    expect(scopesOn({ ...child, containerUuid: null }, "aaaaa")).toEqual([null]);
  });
});

describe("intersectScopeSets", () => {
  const pairs: [string, string][] = [
    ["GET", "/a"], ["GET", "/a/"], ["GET", "/a/b"], ["GET", "/a/b/"], ["HEAD", "/a/b"], ["POST", "/a"], ["PATCH", "/a/"], ["GET", "/c"],
  ];
  const requests: [string, string][] = [
    ["GET", "/a"], ["HEAD", "/a"], ["GET", "/a/b"], ["HEAD", "/a/b"], ["GET", "/a/b/c"], ["POST", "/a"], ["PATCH", "/a/x"], ["GET", "/c"], ["PATCH", "/a"],
  ];

  it("allows exactly what both allow, for every pair of small sets", () => {
    const sets: ScopeSet[] = [null, []];
    for (let i = 0; i < pairs.length; i++) for (let j = i; j < pairs.length; j++) sets.push(set(pairs[i], pairs[j]));
    for (const a of sets) for (const b of sets) {
      const both = intersectScopeSets(a, b);
      expect(scopeSetCovers(a, both) && scopeSetCovers(b, both)).toBe(true);
      for (const [m, p] of requests) expect(scopeSetAllows(both, m, p)).toBe(scopeSetAllows(a, m, p) && scopeSetAllows(b, m, p));
    }
  });
});

describe("a container's token as the authority of a child container", () => {
  const PARENT = "bbbbb-dz642-00000000000000p";
  const CHILD = "bbbbb-dz642-00000000000000c";
  // The parent mounts IN_A only: its token reads nothing else on aaaaa, and has no ccccc entry.
  const parent = {
    homeCluster: "bbbbb", scopes: null, expiresAt: null, containerUuid: PARENT,
    clusterScopes: defaultClusterScopes({ runsOn: "bbbbb", containerUuid: PARENT, mounts: { "/in": { kind: "collection", uuid: IN_A } } }),
  };
  const childMounts = { "/in": { kind: "collection", uuid: IN_A }, "/x": { kind: "collection", uuid: OTHER_A }, "/s": { kind: "collection", uuid: "ccccc-4zz18-000000000000001" } };
  const allows = (cs: Record<string, ScopeSet>, cluster: string, m: string, p: string) => cs[cluster] !== undefined && scopeSetAllows(cs[cluster], m, p);

  it("reads the parent's own container record as the child's, and changes nothing else", () => {
    const moved = asChildAuthority(parent, CHILD).clusterScopes!;
    for (const m of ["GET", "PATCH"]) {
      expect(allows(moved, "bbbbb", m, `${V1}/containers/${CHILD}`)).toBe(true);
      expect(allows(moved, "bbbbb", m, `${V1}/containers/${PARENT}`)).toBe(false);
    }
    const without = (cs: Record<string, ScopeSet>) => cs.bbbbb!.filter((x) => !x.path.includes("-dz642-"));
    expect(without(moved)).toEqual(without(parent.clusterScopes));
    expect(moved.aaaaa).toEqual(parent.clusterScopes.aaaaa);
  });

  it("mints a child no broader than the parent on any cluster, its own record aside", () => {
    const wanted = defaultClusterScopes({ runsOn: "bbbbb", containerUuid: CHILD, mounts: childMounts });
    const child = withinToken(wanted, asChildAuthority(parent, CHILD));
    expect(Object.keys(child).sort()).toEqual(["aaaaa", "bbbbb"]);
    expect(allows(child, "bbbbb", "GET", `${V1}/collections/${OTHER_A}`)).toBe(false);
    expect(allows(child, "aaaaa", "GET", `${V1}/collections/${OTHER_A}`)).toBe(false);
    expect(allows(child, "aaaaa", "GET", `${V1}/collections/${IN_A}`)).toBe(true);
    expect(allows(child, "bbbbb", "PATCH", `${V1}/containers/${CHILD}`)).toBe(true);
  });

  it("narrows a child request with an entry for every cluster its defaults name, empty where the parent is not valid, the same for any parent with that authority", () => {
    const narrowing = narrowingByContainerToken({ runsOn: "bbbbb", mounts: childMounts }, null, parent);
    expect(narrowing.ccccc).toEqual([]);
    expect(allows(narrowing, "aaaaa", "GET", `${V1}/collections/${OTHER_A}`)).toBe(false);
    expect(allows(narrowing, "bbbbb", "GET", `${V1}/containers/${CHILD}`)).toBe(true);
    const other = { ...parent, containerUuid: "bbbbb-dz642-00000000000000q", clusterScopes: defaultClusterScopes({ runsOn: "bbbbb", containerUuid: "bbbbb-dz642-00000000000000q", mounts: { "/in": { kind: "collection", uuid: IN_A } } }) };
    expect(narrowingByContainerToken({ runsOn: "bbbbb", mounts: childMounts }, null, other)).toEqual(narrowing);
  });
});
