/**
 * Token scopes, case by case, against Arvados semantics (DESIGN.md "Scopes"): a token with the
 * given scopes (created by the user's unscoped token) runs one operation; each line says whether
 * each field is allowed or FORBIDDEN. Queries get an extra sibling `me_: currentToken` that must
 * always resolve, so a denied field never takes the rest of the query down with it.
 *
 * Scopes are written "METHOD /path" to keep lines short and sent as GraphQL ScopeInput objects;
 * null = absent (["all"]), [] = none. `@X` in scopes and operations is replaced by a real uuid.
 *
 * Expectations:
 *  - "allow": no error at all, every root field non-null (plus an optional check of the data);
 *  - "deny a b.c": exactly one FORBIDDEN error per listed path, no other error, the other root
 *    fields non-null;
 *  - "refuse a": exactly one error, on that path, FORBIDDEN or BAD_USER_INPUT (never data);
 *  - "invalid": the token cannot even be created (BAD_USER_INPUT), the operation is not run.
 */
import { createUserWithToken, gql, ok, startTestCluster, type GqlResult, type TestCluster } from "../helpers/federation";

type Data = Record<string, any>;
interface Case { name: string; scopes: string[] | null; op: string; expect: string; check?: (d: Data) => void }
const c = (name: string, scopes: string[] | null, op: string, expect: string, check?: (d: Data) => void): Case => ({ name, scopes, op, expect, check });

const A = "/arvados/v1";
const COLL = `${A}/collections`;
const ACA = `${A}/api_client_authorizations`;
const NEW_COLL = `mutation { createCollection(input: { name: "new" }) { uuid } }`;
const child = (scopes: string) => `mutation { createToken(input: { scopes: ${scopes} }) { uuid } }`;
const READ_ALL = `{ viewer { uuid } collections { nodes { uuid } } collection(uuid: "@C") { name } groups { nodes { uuid } } project(uuid: "@P") { name contents { nodes { __typename } } } }`;
const CONTENTS = `{ project(uuid: "@P") { contents { nodes { ... on Collection { uuid } } } } }`;
const contentsHasC = (d: Data) => expect(d.project.contents.nodes).toContainEqual({ uuid: ids.C });

// prettier-ignore
const CASES: Case[] = [
  // all / none
  c("null scopes (all) read everything", null, `${READ_ALL.slice(0, -1)} users { nodes { uuid } } tokens { nodes { uuid } } permissions(objectUuid: "@P") { uuid } }`, "allow"),
  c("null scopes (all) write", null, NEW_COLL, "allow"),
  c("[] allows currentToken", [], `{ currentToken { uuid scopes { method } } }`, "allow", (d) => expect(d.currentToken.scopes).toEqual([])),
  c("[] denies viewer (users/current is not always allowed)", [], `{ viewer { uuid } }`, "deny viewer"),
  c("[] denies a collection", [], `{ collection(uuid: "@C") { name } }`, "deny collection"),
  c("[] denies an empty batch look-up", [], `{ collectionsByUuid(uuids: []) { uuid } }`, "deny collectionsByUuid"),
  c("[] denies every mutation", [], NEW_COLL, "deny createCollection"),
  // exact path
  c("GET collections allows the list", [`GET ${COLL}`], `{ collections { nodes { uuid } } }`, "allow"),
  c("GET collections denies one collection", [`GET ${COLL}`], `{ collection(uuid: "@C") { name } }`, "deny collection"),
  c("GET collections does not allow collection(\"\")", [`GET ${COLL}`], `{ collection(uuid: "") { name } }`, "refuse collection"),
  // trailing slash
  c("GET collections/ allows C and D", [`GET ${COLL}/`], `{ c: collection(uuid: "@C") { name } d: collection(uuid: "@D") { name } }`, "allow", (d) => expect([d.c.name, d.d.name]).toEqual(["C", "D"])),
  c("GET collections/ denies the list itself", [`GET ${COLL}/`], `{ collections { nodes { uuid } } }`, "deny collections"),
  c("GET collections/ denies an update", [`GET ${COLL}/`], `mutation { updateCollection(uuid: "@C", input: { name: "C" }) { uuid } }`, "deny updateCollection"),
  // one object
  c("GET collections/<C> allows C", [`GET ${COLL}/@C`], `{ collection(uuid: "@C") { name } }`, "allow"),
  c("GET collections/<C> denies D", [`GET ${COLL}/@C`], `{ collection(uuid: "@D") { name } }`, "deny collection"),
  c("GET collections/<C> denies the list", [`GET ${COLL}/@C`], `{ collections { nodes { uuid } } }`, "deny collections"),
  c("GET collections/<C>/ denies C itself", [`GET ${COLL}/@C/`], `{ collection(uuid: "@C") { name } }`, "deny collection"),
  c("GET collections/<C> allows a batch of [C], not [C, D]", [`GET ${COLL}/@C`], `{ ok: collectionsByUuid(uuids: ["@C"]) { uuid } no: collectionsByUuid(uuids: ["@C", "@D"]) { uuid } }`, "deny no"),
  // method
  c("POST collections allows createCollection", [`POST ${COLL}`], NEW_COLL, "allow"),
  c("POST collections denies the list (GET)", [`POST ${COLL}`], `{ collections { nodes { uuid } } }`, "deny collections"),
  c("PATCH collections/<C> allows updating C, not D", [`PATCH ${COLL}/@C`], `mutation { ok: updateCollection(uuid: "@C", input: { name: "C" }) { name } no: updateCollection(uuid: "@D", input: { name: "x" }) { name } }`, "deny no"),
  c("PATCH collections/<C> denies deleting C", [`PATCH ${COLL}/@C`], `mutation { ok: updateCollection(uuid: "@C", input: { name: "C" }) { name } no: deleteCollection(uuid: "@C") { uuid } }`, "deny no"),
  c("PATCH collections/<C> denies reading C (GET)", [`PATCH ${COLL}/@C`], `{ collection(uuid: "@C") { name } }`, "deny collection"),
  c("DELETE collections/ allows deleting E", [`DELETE ${COLL}/`], `mutation { deleteCollection(uuid: "@E") { uuid } }`, "allow"),
  c("DELETE collections/ denies createCollection", [`DELETE ${COLL}/`], NEW_COLL, "deny createCollection"),
  c("HEAD collections denies the list (GET)", [`HEAD ${COLL}`], `{ collections { nodes { uuid } } }`, "deny collections"),
  c("paths are case-sensitive: GET /ARVADOS/V1/COLLECTIONS", [`GET ${COLL.toUpperCase()}`], `{ collections { nodes { uuid } } }`, "deny collections"),
  c("method case: get is normalised to GET", [`get ${COLL}`], `{ collections { nodes { uuid } } currentToken { scopes { method path } } }`, "allow", (d) => expect(d.currentToken.scopes).toEqual([{ method: "GET", path: COLL }])),
  // prefixes are whole segments
  c("GET /arvados/v1/coll/ denies collections and collection", [`GET ${A}/coll/`], `{ collections { nodes { uuid } } collection(uuid: "@C") { name } }`, "deny collections collection"),
  c("GET collections/<C prefix>/ denies C", [`GET ${COLL}/@CP/`], `{ collection(uuid: "@C") { name } }`, "deny collection"),
  c("GET /arvados/v1/ allows every read", [`GET ${A}/`], READ_ALL, "allow"),
  c("GET /arvados/v1/ allows no write", [`GET ${A}/`], NEW_COLL, "deny createCollection"),
  // groups
  c("GET groups/<P> allows project(P) and group(P)", [`GET ${A}/groups/@P`], `{ project(uuid: "@P") { name } group(uuid: "@P") { name } }`, "allow"),
  c("GET groups/<P> denies P's contents, not its name", [`GET ${A}/groups/@P`], `{ project(uuid: "@P") { name contents { nodes { __typename } } } }`, "deny project.contents", (d) => expect(d.project.name).toBe("P")),
  c("GET groups/<P>/contents allows P's contents", [`GET ${A}/groups/@P/contents`], CONTENTS, "allow", contentsHasC),
  c("GET groups/<P>/contents denies P's name", [`GET ${A}/groups/@P/contents`], `{ project(uuid: "@P") { name } }`, "deny project"),
  c("GET groups/<P>/contents denies P's name next to contents", [`GET ${A}/groups/@P/contents`], `{ project(uuid: "@P") { name contents { nodes { __typename } } } }`, "deny project"),
  c("[] denies project(P){uuid contents} on project itself", [], `{ project(uuid: "@P") { uuid contents { nodes { __typename } } } }`, "deny project"),
  c("[] denies a missing group's contents (FORBIDDEN, not NOT_FOUND)", [], `{ group(uuid: "@X") { contents { nodes { __typename } } } }`, "deny group"),
  c("GET groups/<P>/contents denies another group, at the group", [`GET ${A}/groups/@P/contents`], `{ group(uuid: "@X") { uuid contents { nodes { __typename } } } }`, "deny group"),
  c("GET groups/ allows group fields and contents", [`GET ${A}/groups/`], `{ group(uuid: "@P") { name } project(uuid: "@P") { name contents { nodes { ... on Collection { uuid } } } } }`, "allow", contentsHasC),
  c("GET groups/ denies the groups list", [`GET ${A}/groups/`], `{ groups { nodes { uuid } } }`, "deny groups"),
  c("GET groups allows the list, not one group", [`GET ${A}/groups`], `{ groups { nodes { uuid } } group(uuid: "@P") { name } }`, "deny group"),
  // users
  c("GET users/current allows viewer", [`GET ${A}/users/current`], `{ viewer { uuid } }`, "allow", (d) => expect(d.viewer.uuid).toBe(ids.U)),
  c("GET users/current denies user(U) and users", [`GET ${A}/users/current`], `{ user(uuid: "@U") { uuid } users { nodes { uuid } } }`, "deny user users"),
  c("GET users/ allows user(U) and viewer", [`GET ${A}/users/`], `{ user(uuid: "@U") { uuid } viewer { uuid } }`, "allow"),
  c("GET users/ denies the users list", [`GET ${A}/users/`], `{ users { nodes { uuid } } }`, "deny users"),
  c("GET users allows the list, not viewer", [`GET ${A}/users`], `{ users { nodes { uuid } } viewer { uuid } }`, "deny viewer"),
  // tokens
  c("GET api_client_authorizations allows tokens", [`GET ${ACA}`], `{ tokens { nodes { uuid } } }`, "allow"),
  c("GET api_client_authorizations/ denies tokens", [`GET ${ACA}/`], `{ tokens { nodes { uuid } } }`, "deny tokens"),
  c("POST tokens: a child with [] scopes", [`POST ${ACA}`], child(`[]`), "allow"),
  c("POST tokens: a child with the same scope", [`POST ${ACA}`], child(`[{ method: "POST", path: "${ACA}" }]`), "allow"),
  c("POST tokens: a child with null (all) scopes is FORBIDDEN", [`POST ${ACA}`], child(`null`), "deny createToken"),
  c("POST tokens: a child with another scope is FORBIDDEN", [`POST ${ACA}`], child(`[{ method: "GET", path: "${A}/users/current" }]`), "deny createToken"),
  c("POST tokens: a child with a prefix scope is FORBIDDEN", [`POST ${ACA}`], child(`[{ method: "POST", path: "${ACA}/" }]`), "deny createToken"),
  c("GET collections/ cannot create even a [] child", [`GET ${COLL}/`], child(`[]`), "deny createToken"),
  c("DELETE api_client_authorizations/<T> allows revoking T", [`DELETE ${ACA}/@T`], `mutation { revokeToken(uuid: "@T") { revokedAt } }`, "allow"),
  c("DELETE api_client_authorizations/<T> denies revoking T2", [`DELETE ${ACA}/@T`], `mutation { revokeToken(uuid: "@T2") { revokedAt } }`, "deny revokeToken"),
  // sharing
  c("POST links allows grantPermission", [`POST ${A}/links`], `mutation { grantPermission(headUuid: "@P", tailUuid: "@V", level: "can_read") { uuid } }`, "allow"),
  c("POST links/ denies grantPermission", [`POST ${A}/links/`], `mutation { grantPermission(headUuid: "@P", tailUuid: "@V", level: "can_read") { uuid } }`, "deny grantPermission"),
  c("GET permissions/<P> allows permissions(P)", [`GET ${A}/permissions/@P`], `{ permissions(objectUuid: "@P") { uuid } }`, "allow"),
  c("GET groups/<P> denies permissions(P)", [`GET ${A}/groups/@P`], `{ permissions(objectUuid: "@P") { uuid } }`, "deny permissions"),
  // normalisation tricks
  c("a scope with .. is invalid", [`GET ${COLL}/../users/current`], "", "invalid"),
  c("a scope with // is invalid", [`GET ${A}//collections`], "", "invalid"),
  c("a scope with /./ is invalid", [`GET ${A}/./collections`], "", "invalid"),
  c("a scope with %2e%2e is invalid", [`GET ${COLL}/%2e%2e/users/current`], "", "invalid"),
  c("a scope with a percent-encoded letter is invalid", [`GET ${A}/%63ollections`], "", "invalid"),
  c("GET collections/<C> refuses uuid ../users/current", [`GET ${COLL}/@C`], `{ collection(uuid: "../users/current") { uuid } }`, "refuse collection"),
  c("GET collections/<C> refuses uuid x/../<C>", [`GET ${COLL}/@C`], `{ collection(uuid: "zzzzz-4zz18-x/../@C") { uuid } }`, "refuse collection"),
  c("GET collections/<C>/ refuses uuid <C>/../<D>", [`GET ${COLL}/@C/`], `{ collection(uuid: "@C/../@D") { uuid } }`, "refuse collection"),
  c("GET users/current refuses user(\"current\")", [`GET ${A}/users/current`], `{ user(uuid: "current") { uuid } }`, "refuse user"),
];

let z: TestCluster;
let userToken: string;
const ids: Record<string, string> = {};
const fill = (s: string) => s.replace(/@([A-Z][A-Z0-9]*)/g, (_, k: string) => ids[k] ?? `@${k}`);

beforeAll(async () => {
  z = await startTestCluster("zzzzz");
  const u = await createUserWithToken(z, "scoped@example.org");
  const v = await createUserWithToken(z, "peer@example.org");
  userToken = u.token;
  const as = (q: string, vars?: Record<string, unknown>) => ok(gql(z.url, q, vars, userToken));
  const coll = async (name: string, ownerUuid?: string) =>
    (await as(`mutation($i: CreateCollectionInput!) { createCollection(input: $i) { uuid } }`, { i: { name, ownerUuid } })).createCollection.uuid;
  const token = async () => (await as(`mutation { createToken(input: { scopes: [] }) { uuid } }`)).createToken.uuid;
  ids.U = u.uuid;
  ids.V = v.uuid;
  ids.P = (await as(`mutation { createGroup(input: { name: "P", groupClass: "project" }) { uuid } }`)).createGroup.uuid;
  ids.C = await coll("C", ids.P);
  ids.CP = ids.C.slice(0, -4);
  ids.D = await coll("D");
  ids.E = await coll("E");
  ids.X = "zzzzz-j7d0g-000000000000000"; // no such group
  ids.T = await token();
  ids.T2 = await token();
  // U and V are fellow members of a role group, so U can see V and may share with V.
  const role = (await z.root(`mutation { createGroup(input: { name: "team", groupClass: "role" }) { uuid } }`)).createGroup.uuid;
  for (const who of [ids.U, ids.V])
    await z.root(`mutation($h: ID!, $t: ID!) { grantPermission(headUuid: $h, tailUuid: $t, level: "can_read") { uuid } }`, { h: role, t: who });
});
afterAll(() => z?.stop());

const toScopeInput = (s: string) => {
  const i = s.indexOf(" ");
  return { method: s.slice(0, i), path: fill(s.slice(i + 1)) };
};

async function tokenFor(scopes: string[] | null): Promise<GqlResult<{ createToken: { token: string } }>> {
  return gql(z.url, `mutation($s: [ScopeInput!]) { createToken(input: { scopes: $s }) { token } }`, { s: scopes && scopes.map(toScopeInput) }, userToken);
}

const pathOf = (e: { path?: (string | number)[] }) => (e.path ?? []).join(".");
const describeErrors = (r: GqlResult) => JSON.stringify(r.errors?.map((e) => ({ path: pathOf(e), code: e.extensions?.code, message: e.message })));

describe("token scopes, Arvados semantics", () => {
  it("has unique case names", () => {
    expect(new Set(CASES.map((x) => x.name)).size).toBe(CASES.length);
  });

  it.each(CASES.map((x) => [x.name, x] as const))("%s", async (_, k) => {
    const created = await tokenFor(k.scopes);
    const [kind, ...paths] = k.expect.split(" ");
    if (kind === "invalid") {
      expect(created.errors?.map((e) => e.extensions?.code)).toEqual(["BAD_USER_INPUT"]);
      return;
    }
    if (created.errors?.length) throw new Error(`could not create the token: ${describeErrors(created)}`);
    const token = created.data!.createToken.token;

    // Queries get a sibling that every token may use: it must resolve whatever else is denied.
    const op = fill(k.op.startsWith("{") ? `{ me_: currentToken { uuid } ${k.op.slice(1)}` : k.op);
    const r = await gql(z.url, op, {}, token);
    const errors = r.errors ?? [];
    const where = `${k.expect}; got ${describeErrors(r)}`;

    if (kind === "allow") {
      expect({ where, errors }).toEqual({ where, errors: [] });
    } else if (kind === "deny") {
      const got = errors.map((e) => `${pathOf(e)}:${e.extensions?.code}`).sort();
      expect(got).toEqual(paths.map((p) => `${p}:FORBIDDEN`).sort());
    } else if (kind === "refuse") {
      expect(errors.map(pathOf)).toEqual(paths);
      expect({ where, code: ["FORBIDDEN", "BAD_USER_INPUT"].includes(errors[0].extensions?.code as string) }).toEqual({ where, code: true });
    } else {
      throw new Error(`unknown expectation "${k.expect}"`);
    }

    // Every root field that was not itself denied resolved to data (a nested denial leaves its parent).
    for (const [field, value] of Object.entries(r.data ?? {}))
      expect({ field, where, resolved: value !== null }).toEqual({ field, where, resolved: !paths.includes(field) });
    if (kind === "allow" && r.data === undefined) throw new Error(`no data: ${where}`);
    k.check?.(r.data as Data);
  });
});
