/**
 * Embedded PGlite has no autovacuum: the cluster vacuums and analyses it itself, now and then
 * (every 10 minutes; here every 200 ms), so what updates and deletes leave behind is reclaimed.
 */
import { parseConfig } from "../../src/config/config";
import { startCluster, type RunningCluster } from "../../src/cluster";
import { gql, ok, testSecretKeys } from "../helpers/federation";

let c: RunningCluster;
const root = `root-vacuu-${"x".repeat(40)}`;

beforeAll(async () => {
  // Always PGlite (no databaseUrl), whichever database the suite runs on.
  c = await startCluster(parseConfig({ clusterId: "vacuu", listen: "127.0.0.1:0", systemRootToken: root, secrets: testSecretKeys() }), { pgliteMaintenanceMs: 200 });
}, 60_000);

afterAll(() => c.close());

it("vacuums and analyses the embedded database on its own", async () => {
  const made = await ok(gql(c.url, `mutation { createCollection(input: { name: "short-lived" }) { uuid } }`, {}, root));
  await ok(gql(c.url, `mutation($u: ID!) { deleteCollection(uuid: $u) { uuid } }`, { u: made.createCollection.uuid }, root));
  const vacuumed = async () =>
    (await c.db.prisma.$queryRawUnsafe<{ vacuumed: boolean; analysed: boolean }[]>(
      `SELECT last_vacuum IS NOT NULL AS vacuumed, last_analyze IS NOT NULL AS analysed FROM pg_stat_user_tables WHERE relname = 'collections'`))[0];
  const deadline = Date.now() + 10_000;
  while (!(await vacuumed()).vacuumed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  expect(await vacuumed()).toEqual({ vacuumed: true, analysed: true });
});
