/**
 * No secret at rest or in logs: after tokens are created and used (locally and across
 * clusters), a dump of every table holds none of their secrets, nor their salted forms, and
 * no log line carries them. Changes are audited.
 */
import { saltSecret } from "../../src/auth/salt";
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
