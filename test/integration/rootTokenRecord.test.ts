/**
 * The system root token acts through a token record of its own, <cluster>-gj3su-000000000000000
 * (as Arvados): currentToken answers for it, a dispatcher using it is recorded by that uuid,
 * the record holds no secret (a keyed digest of the root token), and a new systemRootToken
 * replaces the old one at once: once a process of the cluster started with another root token,
 * the processes still configured with the old one refuse it, and so does a restart.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { storeRootTokenRecord } from "../../src/auth/localTokens";
import { SecretBox } from "../../src/auth/secretBox";
import { startCluster, type RunningCluster } from "../../src/cluster";
import { parseConfig } from "../../src/config/config";
import { codes, gql, ok } from "../helpers/federation";
import { createTestDatabase, type TestDatabaseUrl } from "../helpers/database";

const OLD_ROOT = `old-root-${"o".repeat(40)}`;
const NEW_ROOT = `new-root-${"n".repeat(40)}`;
const RECORD = "aaaaa-gj3su-000000000000000";
const KEY = "ab".repeat(32);

let database: TestDatabaseUrl;
let dataDir: string | undefined;
let running: RunningCluster | undefined;

function start(systemRootToken: string): Promise<RunningCluster> {
  const storage = database.databaseUrl ? { databaseUrl: database.databaseUrl } : { dataDir };
  return startCluster(parseConfig({ clusterId: "aaaaa", listen: "127.0.0.1:0", systemRootToken, tokens: { encryptionKey: KEY }, ...storage }));
}

beforeAll(async () => {
  database = await createTestDatabase();
  if (!database.databaseUrl) dataDir = mkdtempSync(join(tmpdir(), "c1-root-record-"));
});
afterAll(async () => {
  await running?.close();
  await database.dispose();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

it("answers currentToken for the root token, records it as lock holder, and forgets the old root token once replaced", async () => {
  running = await start(OLD_ROOT);
  const first = running.url;
  expect((await ok(gql(first, `{ currentToken { uuid scopes { method } expiresAt revokedAt } }`, {}, OLD_ROOT))).currentToken).toEqual({ uuid: RECORD, scopes: null, expiresAt: null, revokedAt: null });
  const spec = { command: ["true"], containerImage: "img", outputPath: "/o", mounts: { "/o": {} }, runtimeConstraints: { vcpus: 1, ram: 1 }, state: "Committed", priority: 1 };
  const cr = (await ok(gql(first, `mutation($i: CreateContainerRequestInput!) { createContainerRequest(input: $i) { containerUuid } }`, { i: spec }, OLD_ROOT))).createContainerRequest;
  const locked = (await ok(gql(first, `mutation($u: ID!) { lockContainer(uuid: $u) { lockedByUuid } }`, { u: cr.containerUuid }, OLD_ROOT))).lockContainer;
  expect(locked.lockedByUuid).toBe(RECORD);
  const row = await running.db.prisma.apiToken.findUnique({ where: { uuid: RECORD } });
  expect(row).toMatchObject({ userUuid: "aaaaa-tpzed-000000000000000", revokedAt: null });
  expect(row!.secretSealed).not.toContain(OLD_ROOT);

  // Another process of this cluster starts with a new root token: the old one stops at once, here too.
  await storeRootTokenRecord(running.db.prisma, "aaaaa", SecretBox.fromConfig(KEY, NEW_ROOT), NEW_ROOT);
  const refused = await gql(first, `{ currentToken { uuid } }`, {}, OLD_ROOT);
  expect(codes(refused)).toEqual(["UNAUTHENTICATED"]);
  expect(refused.errors![0].message).toMatch(/replaced/);
  await running.close();
  running = undefined;

  running = await start(NEW_ROOT);
  expect(codes(await gql(running.url, `{ currentToken { uuid } }`, {}, OLD_ROOT))).toEqual(["UNAUTHENTICATED"]);
  expect((await ok(gql(running.url, `{ currentToken { uuid } }`, {}, NEW_ROOT))).currentToken.uuid).toBe(RECORD);
  // The lock is the root record's: the new root token holds it.
  expect((await ok(gql(running.url, `mutation($u: ID!) { unlockContainer(uuid: $u) { state } }`, { u: cr.containerUuid }, NEW_ROOT))).unlockContainer.state).toBe("Queued");
}, 120_000);
