/**
 * No secret at rest or in logs: after tokens are created and used (locally and across
 * clusters), a dump of every table holds none of their secrets, nor their salted forms, and
 * no log line carries them. Changes are audited.
 */
import { randomBytes } from "node:crypto";
import { saltSecret } from "../../src/auth/salt";
import { SecretBox } from "../../src/auth/secretBox";
import { log } from "../../src/log";
import { createUserWithToken, gql, ok, startFederation, type TestCluster } from "../helpers/federation";

let fed: Record<string, TestCluster>;
const logLines: string[] = [];

beforeAll(async () => {
  log.configure({ sink: (line) => logLines.push(line), level: "debug" });
  fed = await startFederation(["aaaaa", "bbbbb"]);
});
afterAll(async () => {
  log.configure({ level: "error", sink: (line) => process.stderr.write(line + "\n") });
  await Promise.all(Object.values(fed ?? {}).map((x) => x.stop()));
});

async function dumpAllTables(cl: TestCluster): Promise<string> {
  const tables = await cl.db.prisma.$queryRawUnsafe<{ table_name: string }[]>(
    `SELECT table_name::text AS table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`,
  );
  expect(tables.map((t) => t.table_name)).toEqual(expect.arrayContaining(["api_tokens", "users", "logs", "links", "permission_closure"]));
  const parts: string[] = [];
  for (const { table_name } of tables)
    parts.push(JSON.stringify(await cl.db.prisma.$queryRawUnsafe(`SELECT row_to_json(t)::text AS row FROM "${table_name}" t`)));
  return parts.join("\n");
}

it("keeps token secrets out of every table and every log line, on the home cluster and remotely", async () => {
  const { aaaaa: a, bbbbb: b } = fed;
  const alice = await createUserWithToken(a, "alice@example.org");
  const scoped = (await ok(gql(a.url, `mutation { createToken(input: { scopes: [{ method: "GET", path: "/arvados/v1/users/current" }] }) { token } }`, {}, alice.token))).createToken.token;
  const created = await ok(gql(a.url, `mutation { createToken(input: {}) { uuid token } }`, {}, alice.token));
  await ok(gql(b.url, `{ viewer { uuid } }`, {}, alice.token));
  await ok(gql(b.url, `{ viewer { uuid } }`, {}, scoped));
  await ok(gql(a.url, `mutation($u: ID!) { revokeToken(uuid: $u) { uuid } }`, { u: created.createToken.uuid }, alice.token));
  await gql(a.url, `{ viewer { uuid } }`, {}, created.createToken.token);

  const secrets = [alice.token, scoped, created.createToken.token].map((t) => t.split("/")[2]);
  const forms = secrets.flatMap((s) => [s, saltSecret(s, "bbbbb")]);
  for (const cl of [a, b]) {
    const dump = await dumpAllTables(cl);
    expect(dump).toContain(alice.uuid);
    for (const f of forms) expect(dump).not.toContain(f);
  }
  expect(logLines.length).toBeGreaterThan(0);
  for (const f of forms) expect(logLines.join("\n")).not.toContain(f);
  expect(logLines.join("\n")).not.toContain(a.rootToken);
});

it("records changes in the audit log, naming actor and object", async () => {
  const { aaaaa: a } = fed;
  const bob = await createUserWithToken(a, "bob@example.org");
  const c = await ok(gql(a.url, `mutation { createCollection(input: { name: "audited" }) { uuid } }`, {}, bob.token));
  await ok(gql(a.url, `mutation($u: ID!) { deleteCollection(uuid: $u) { uuid } }`, { u: c.createCollection.uuid }, bob.token));
  const rows = await a.db.prisma.auditLog.findMany({ where: { objectUuid: c.createCollection.uuid }, orderBy: { createdAt: "asc" } });
  expect(rows.map((r) => [r.eventType, r.actorUuid])).toEqual([["create", bob.uuid], ["delete", bob.uuid]]);
});

/** Every 8-character window of each value: none may appear anywhere it was not meant to be returned. */
function windows(values: string[]): string[] {
  return values.flatMap((v) => Array.from({ length: v.length - 7 }, (_, i) => v.slice(i, i + 8)));
}

it("keeps secret values (and any 8 characters of them) out of every other response, log line, audit row and table", async () => {
  const { aaaaa: a, bbbbb: b } = fed;
  const owner = await createUserWithToken(a, "vault-owner@example.org");
  const reader = await createUserWithToken(b, "vault-reader@b.example.org");
  const values = Array.from({ length: 3 }, () => randomBytes(24).toString("base64url"));
  const responses: string[] = []; // everything but the answers that exist to return a value
  const call = async (url: string, query: string, variables: Record<string, unknown>, token?: string, returnsValue = false) => {
    const r = await gql(url, query, variables, token);
    if (!returnsValue) responses.push(JSON.stringify(r));
    return r;
  };

  const created = await ok(call(a.url, `mutation($i: CreateSecretInput!) { createSecret(input: $i) { uuid name currentVersion versions { version createdAt createdByUuid } } }`, { i: { name: "leak-test", value: values[0], description: "d" } }, owner.token));
  const u = created.createSecret.uuid;
  await ok(call(a.url, `mutation($u: ID!, $v: String!) { updateSecret(uuid: $u, input: { value: $v }) { uuid currentVersion versions { version } } }`, { u, v: values[1] }, owner.token));
  await ok(call(a.url, `mutation($u: ID!, $v: String!) { updateSecret(uuid: $u, input: { value: $v, name: "renamed" }) { uuid name } }`, { u, v: values[2] }, owner.token));
  await a.root(`mutation($h: ID!, $t: ID!) { grantPermission(headUuid: $h, tailUuid: $t, level: "can_read") { uuid } }`, { h: u, t: reader.uuid });
  // Metadata, lists, permissions, refusals: never a value.
  await ok(call(a.url, `query($u: ID!) { secret(uuid: $u) { uuid name description ownerUuid currentVersion versions { version createdAt createdByUuid } createdAt modifiedAt } }`, { u }, owner.token));
  await ok(call(b.url, `{ secrets(clusters: ["aaaaa", "bbbbb"]) { nodes { uuid name versions { version } } } }`, {}, reader.token));
  await ok(call(a.url, `query($u: ID!) { permissions(objectUuid: $u) { uuid tailUuid level } }`, { u }, owner.token));
  await call(b.url, `mutation($u: ID!, $v: String!) { updateSecret(uuid: $u, input: { value: $v }) { uuid } }`, { u, v: `${values[0]}-reader-overwrite` }, reader.token);
  await call(a.url, `query($u: ID!) { secretValue(uuid: $u, version: 9) { value } }`, { u }, owner.token);
  await call(a.url, `mutation($i: CreateSecretInput!) { createSecret(input: $i) { uuid } }`, { i: { name: " ", value: values[0] } }, owner.token);
  // The reads that exist to return a value: on its cluster, from another one, unwrapped once.
  for (const v of [1, 2, 3]) expect((await ok(call(a.url, `query($u: ID!, $v: Int) { secretValue(uuid: $u, version: $v) { value } }`, { u, v }, owner.token, true))).secretValue.value).toBe(values[v - 1]);
  expect((await ok(call(b.url, `query($u: ID!) { secretValue(uuid: $u) { value } }`, { u }, reader.token, true))).secretValue.value).toBe(values[2]);
  const wrapped = (await ok(call(b.url, `mutation($u: ID!) { wrapSecret(uuid: $u, ttlSeconds: 60) { token expiresAt } }`, { u }, reader.token))).wrapSecret.token;
  await ok(call(a.url, `query($t: String!) { wrappingInfo(token: $t) { secretUuid version creatorUuid unwrapped } }`, { t: wrapped }));
  expect((await ok(call(a.url, `mutation($t: String!) { unwrapSecret(token: $t) { value } }`, { t: wrapped }, undefined, true))).unwrapSecret.value).toBe(values[2]);
  await call(a.url, `mutation($t: String!) { unwrapSecret(token: $t) { value } }`, { t: wrapped });
  // Containers mounting it, here and on bbbbb (delegated from aaaaa): the requests and containers
  // name it by uuid and version; only containerSecrets, with the container's own token, returns it.
  const spec = { command: ["true"], containerImage: "img", outputPath: "/out", mounts: { "/out": { kind: "tmp" } }, runtimeConstraints: { vcpus: 1, ram: 1024 }, state: "Committed", priority: 1, secretMounts: [{ path: "/run/s", secretUuid: u }] };
  for (const [cl, runsOn] of [[a, undefined], [b, "bbbbb"]] as const) {
    const cr = (await ok(call(a.url, `mutation($i: CreateContainerRequestInput!, $c: String) { createContainerRequest(input: $i, cluster: $c) { uuid containerUuid secretMounts { path secretUuid version } } }`, { i: spec, c: runsOn }, owner.token))).createContainerRequest;
    await ok(call(cl.url, `mutation($u: ID!) { lockContainer(uuid: $u) { uuid secretMounts { path secretUuid version } } }`, { u: cr.containerUuid }, cl.rootToken));
    const auth = (await ok(call(cl.url, `query($u: ID!) { containerAuth(uuid: $u) { token } }`, { u: cr.containerUuid }, cl.rootToken))).containerAuth;
    await ok(call(cl.url, `mutation($u: ID!) { updateContainer(uuid: $u, input: { state: "Running" }) { uuid } }`, { u: cr.containerUuid }, auth.token));
    expect((await ok(call(cl.url, `{ containerSecrets { path value } }`, {}, auth.token, true))).containerSecrets).toEqual([{ path: "/run/s", value: values[2] }]);
    await call(cl.url, `{ containerSecrets { path value } }`, {}, owner.token); // refused: not the container's token
    await ok(call(cl.url, `mutation($u: ID!) { updateContainer(uuid: $u, input: { state: "Complete", exitCode: 0 }) { uuid } }`, { u: cr.containerUuid }, auth.token));
    await call(cl.url, `{ containerSecrets { path value } }`, {}, auth.token); // refused: it ended
  }
  const stored = `${await dumpAllTables(a)}\n${await dumpAllTables(b)}`; // the sealed versions still there
  expect(stored).toContain(u);
  await ok(call(a.url, `mutation($u: ID!) { deleteSecret(uuid: $u) { uuid name versions { version } } }`, { u }, owner.token));

  const forbidden = windows(values);
  const everywhere = {
    responses: responses.join("\n"),
    logs: logLines.join("\n"),
    audit: JSON.stringify([...(await a.db.prisma.auditLog.findMany()), ...(await b.db.prisma.auditLog.findMany())]),
    tables: stored,
  };
  expect(everywhere.responses).toContain(u);
  expect(everywhere.audit).toContain("secret_read");
  for (const [where, text] of Object.entries(everywhere)) {
    const leaked = forbidden.find((w) => text.includes(w));
    expect([where, leaked]).toEqual([where, undefined]);
  }
  // The wrapping token is a credential too: only its hash is kept.
  expect(everywhere.tables).not.toContain(wrapped.slice(11));
  expect(everywhere.logs).not.toContain(wrapped.slice(11));
});

it("keeps runtime tokens and container tokens (raw and salted for every cluster) out of every response, log line and table", async () => {
  const { aaaaa: a, bbbbb: b } = fed;
  const alice = await createUserWithToken(a, "runner@example.org");
  const runtime = (await ok(gql(a.url, `mutation { createToken(input: {}) { token } }`, {}, alice.token))).createToken.token;
  const responses: string[] = []; // everything but containerAuth, which exists to return the container's token
  const containerTokens: string[] = [];
  const call = async (url: string, query: string, variables: Record<string, unknown>, token?: string) => {
    const r = await gql(url, query, variables, token);
    if (r.data?.containerAuth) containerTokens.push(r.data.containerAuth.token);
    else responses.push(JSON.stringify(r));
    return r;
  };
  const spec = {
    command: ["true"], containerImage: "img", outputPath: "/out", mounts: { "/out": { kind: "tmp" } },
    runtimeConstraints: { vcpus: 1, ram: 1024 }, state: "Committed", priority: 1, runtimeToken: runtime,
  };
  const CR = `uuid containerUuid hasRuntimeToken`;
  const create = `mutation($i: CreateContainerRequestInput!, $c: String) { createContainerRequest(input: $i, cluster: $c) { ${CR} } }`;
  const onA = (await ok(call(a.url, create, { i: spec }, alice.token))).createContainerRequest;
  const onB = (await ok(call(b.url, create, { i: { ...spec, environment: { WHERE: "b" } } }, alice.token))).createContainerRequest;
  const delegated = (await ok(call(a.url, create, { i: { ...spec, environment: { WHERE: "delegated" } }, c: "bbbbb" }, alice.token))).createContainerRequest;
  await call(a.url, create, { i: { ...spec, runtimeToken: `${runtime.slice(0, -4)}zzzz` } }, alice.token); // refused
  for (const [cluster, cr] of [[a, onA], [b, onB], [b, delegated]] as const) {
    await ok(call(cluster.url, `query($u: ID!) { containerRequest(uuid: $u) { ${CR} container { uuid runtimeUserUuid runtimeAuthScopes { method } } } }`, { u: cr.uuid }, alice.token));
    await ok(call(cluster.url, `mutation($u: ID!) { lockContainer(uuid: $u) { uuid authUuid } }`, { u: cr.containerUuid }, cluster.rootToken));
    await ok(call(cluster.url, `query($u: ID!) { containerAuth(uuid: $u) { uuid token expiresAt } }`, { u: cr.containerUuid }, cluster.rootToken));
    const own = containerTokens[containerTokens.length - 1];
    await ok(call(cluster.url, `{ currentContainer { uuid } currentToken { uuid } }`, {}, own));
    for (const other of [a, b]) await call(other.url, `{ viewer { uuid } collections(first: 1) { nodes { uuid } } }`, {}, own);
    await ok(call(cluster.url, `mutation($u: ID!) { updateContainer(uuid: $u, input: { state: "Running" }) { state } }`, { u: cr.containerUuid }, own));
    await ok(call(cluster.url, `mutation($u: ID!) { updateContainer(uuid: $u, input: { state: "Complete", exitCode: 0 }) { state } }`, { u: cr.containerUuid }, own));
    await call(cluster.url, `{ currentContainer { uuid } }`, {}, own); // refused now
  }
  expect(containerTokens).toHaveLength(3);

  const secrets = [runtime, ...containerTokens].map((t) => t.split("/")[2]);
  const forms = secrets.flatMap((s) => [s, saltSecret(s, "aaaaa"), saltSecret(s, "bbbbb")]);
  const everywhere = { responses: responses.join("\n"), logs: logLines.join("\n"), tables: `${await dumpAllTables(a)}\n${await dumpAllTables(b)}` };
  expect(everywhere.tables).toContain(onA.containerUuid);
  expect(everywhere.responses).toContain(onB.containerUuid);
  for (const [where, text] of Object.entries(everywhere)) expect([where, forms.find((f) => text.includes(f))]).toEqual([where, undefined]);
  // Nor does containerAuth ever hand out the runtime token.
  for (const t of containerTokens) expect(t).not.toContain(secrets[0]);
});

it("keeps a runtime token minted for a delegated request and its container's child, minted at its home, (raw and salted for every cluster) out of every response but containerAuth's, log line and table", async () => {
  const { aaaaa: a, bbbbb: b } = fed;
  const carol = await createUserWithToken(a, "carol@example.org");
  const responses: string[] = [];
  let child = "";
  const call = async (url: string, query: string, variables: Record<string, unknown>, token?: string) => {
    const r = await gql(url, query, variables, token);
    if (r.data?.containerAuth) child = r.data.containerAuth.token;
    else responses.push(JSON.stringify(r));
    return r;
  };
  const input = (await ok(call(a.url, `mutation { createCollection(input: { name: "input" }) { uuid } }`, {}, carol.token))).createCollection.uuid;
  const spec = {
    command: ["true"], containerImage: "img", outputPath: "/out", mounts: { "/out": { kind: "tmp" }, "/in": { kind: "collection", uuid: input } },
    runtimeConstraints: { vcpus: 1, ram: 1024 }, state: "Committed", priority: 1,
  };
  const cr = (await ok(call(a.url, `mutation($i: CreateContainerRequestInput!) { createContainerRequest(input: $i, cluster: "bbbbb") { uuid containerUuid hasRuntimeToken } }`, { i: spec }, carol.token))).createContainerRequest;
  expect(cr.hasRuntimeToken).toBe(true);
  await ok(call(b.url, `mutation($u: ID!) { lockContainer(uuid: $u) { uuid } }`, { u: cr.containerUuid }, b.rootToken));
  await ok(call(b.url, `query($u: ID!) { containerAuth(uuid: $u) { uuid token } }`, { u: cr.containerUuid }, b.rootToken));
  await ok(call(b.url, `mutation($u: ID!) { updateContainer(uuid: $u, input: { state: "Running" }) { state } }`, { u: cr.containerUuid }, child));
  for (const url of [a.url, b.url]) await ok(call(url, `query($u: ID!) { collection(uuid: $u) { uuid } currentToken { uuid } }`, { u: input }, child));
  await ok(call(b.url, `{ currentContainer { uuid } }`, {}, child));
  await ok(call(b.url, `mutation($u: ID!) { updateContainer(uuid: $u, input: { state: "Complete", exitCode: 0 }) { state } }`, { u: cr.containerUuid }, child));
  await call(a.url, `query($u: ID!) { collection(uuid: $u) { uuid } }`, { u: input }, child); // refused now

  // The runtime token's secret exists only sealed at its home: open it there to look for it.
  const childRow = await a.db.prisma.apiToken.findUnique({ where: { uuid: child.split("/")[1] } });
  const runtimeRow = await a.db.prisma.apiToken.findUnique({ where: { uuid: childRow!.parentUuid! } });
  const runtime = SecretBox.fromConfig(a.config.tokens.encryptionKey, a.config.systemRootToken).open(runtimeRow!.secretSealed, runtimeRow!.uuid)!;
  expect(runtime).toMatch(/^[a-z0-9]{50}$/);
  const forms = [runtime, child.split("/")[2]].flatMap((s) => [s, saltSecret(s, "aaaaa"), saltSecret(s, "bbbbb")]);
  const everywhere = { responses: responses.join("\n"), logs: logLines.join("\n"), tables: `${await dumpAllTables(a)}\n${await dumpAllTables(b)}` };
  expect(everywhere.tables).toContain(runtimeRow!.uuid);
  for (const [where, text] of Object.entries(everywhere)) expect([where, forms.find((f) => text.includes(f))]).toEqual([where, undefined]);
});
