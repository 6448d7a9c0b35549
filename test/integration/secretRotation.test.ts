/**
 * Key rotation as an operator does it, on a persistent database (PostgreSQL with DATABASE_URL,
 * otherwise PGlite in a data folder): values sealed under k1; restart with k1 and k2, k2 active
 * (old values still read, new ones go under k2); a rotation interrupted part-way while the
 * server runs (every value still reads); `fedgate secrets rotate-key` finishes it, and again
 * finds nothing to do; restarted with k2 alone, every value reads; with k1 alone, none does.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../src/cli";
import { startCluster, type RunningCluster } from "../../src/cluster";
import { parseConfig } from "../../src/config/config";
import { secretStoreOptions } from "../../src/localdb/secrets";
import { rotateSecretKeys } from "../../src/secrets/rotation";
import { createTestDatabase, type TestDatabaseUrl } from "../helpers/database";
import { codes, gql, ok } from "../helpers/federation";

const ROOT = `rotation-root-${"r".repeat(40)}`;
const K1 = randomBytes(32).toString("base64");
const K2 = randomBytes(32).toString("base64");
let target: TestDatabaseUrl;
let dir: string;

const storage = () => (target.databaseUrl ? { databaseUrl: target.databaseUrl } : { dataDir: join(dir, "data") });
const settings = (keys: Record<string, string>, activeKey: string) => ({
  clusterId: "rrrrr", listen: "127.0.0.1:0", systemRootToken: ROOT, logLevel: "error", ...storage(), secrets: { keys, activeKey },
});

async function withCluster(keys: Record<string, string>, activeKey: string, fn: (c: RunningCluster) => Promise<void>): Promise<void> {
  const c = await startCluster(parseConfig(settings(keys, activeKey)));
  try {
    await fn(c);
  } finally {
    await c.close();
  }
}

const VALUE = `query($u: ID!, $v: Int) { secretValue(uuid: $u, version: $v) { value } }`;
/** uuid, version → value written. */
const written: { u: string; v: number; value: string }[] = [];

async function expectAllReadable(c: RunningCluster): Promise<void> {
  for (const w of written) expect((await ok(gql(c.url, VALUE, { u: w.u, v: w.v }, ROOT))).secretValue.value).toBe(w.value);
}
const keyIds = async (c: RunningCluster) =>
  (await c.db.prisma.secretVersion.groupBy({ by: ["keyId"], _count: true, orderBy: { keyId: "asc" } })).map((g) => [g.keyId, g._count]);

/** `fedgate …` in this process, configured by its file alone (DATABASE_URL would override the file's database). */
async function run(args: string[]): Promise<number> {
  const saved = process.env.DATABASE_URL;
  delete process.env.DATABASE_URL;
  try {
    return await main(args);
  } finally {
    if (saved !== undefined) process.env.DATABASE_URL = saved;
  }
}

/** `fedgate …` with the rotation's config, its printed lines and exit code. */
async function cli(args: string[]): Promise<{ code: number; out: string }> {
  const file = join(dir, "rotate.json");
  writeFileSync(file, JSON.stringify(settings({ k1: K1, k2: K2 }, "k2")));
  let out = "";
  const spy = jest.spyOn(process.stdout, "write").mockImplementation((chunk) => ((out += String(chunk)), true));
  try {
    return { code: await run([...args, "--config", file]), out };
  } finally {
    spy.mockRestore();
  }
}

beforeAll(async () => {
  target = await createTestDatabase();
  dir = mkdtempSync(join(tmpdir(), "s1-rotation-"));
});
afterAll(async () => {
  await target?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

it("rotates every value to the new key, resumably, readable throughout; the old key is removable after", async () => {
  await withCluster({ k1: K1 }, "k1", async (c) => {
    for (let i = 0; i < 3; i++) {
      const value = `rotation-value-${i}-${randomBytes(8).toString("hex")}`;
      const u = (await ok(gql(c.url, `mutation($i: CreateSecretInput!) { createSecret(input: $i) { uuid } }`, { i: { name: `s${i}`, value } }, ROOT))).createSecret.uuid;
      written.push({ u, v: 1, value });
      const second = `${value}-second`;
      await ok(gql(c.url, `mutation($u: ID!, $v: String!) { updateSecret(uuid: $u, input: { value: $v }) { uuid } }`, { u, v: second }, ROOT));
      written.push({ u, v: 2, value: second });
    }
    expect(await keyIds(c)).toEqual([["k1", 6]]);
  });

  await withCluster({ k1: K1, k2: K2 }, "k2", async (c) => {
    await expectAllReadable(c);
    const u = written[0].u;
    const third = "written-under-the-new-key";
    await ok(gql(c.url, `mutation($u: ID!, $v: String!) { updateSecret(uuid: $u, input: { value: $v }) { uuid } }`, { u, v: third }, ROOT));
    written.push({ u, v: 3, value: third });
    expect(await keyIds(c)).toEqual([["k1", 6], ["k2", 1]]);

    // Interrupted after 3 values, in batches of 2, while the server serves: every value still reads.
    const partial = await rotateSecretKeys(c.db.prisma, secretStoreOptions(c.config).keyring, { batchSize: 2, maxValues: 3 });
    expect(partial).toEqual({ activeKey: "k2", rewritten: 3, remaining: 3 });
    expect(await keyIds(c)).toEqual([["k1", 3], ["k2", 4]]);
    await expectAllReadable(c);
  });

  // The rest through the command (the server stopped: a PGlite data folder has one user at a time).
  expect(await cli(["secrets", "rotate-key", "--batch-size", "2"])).toEqual({ code: 0, out: `re-sealed 3 values under key "k2"; 0 remain under other keys\n` });
  expect(await cli(["secrets", "rotate-key"])).toEqual({ code: 0, out: `re-sealed 0 values under key "k2"; 0 remain under other keys\n` });

  await withCluster({ k2: K2 }, "k2", async (c) => {
    expect(await keyIds(c)).toEqual([["k2", 7]]);
    await expectAllReadable(c);
  });

  // Without k2 the database reveals nothing, even with the old key.
  await withCluster({ k1: K1 }, "k1", async (c) => {
    const r = await gql(c.url, VALUE, { u: written[1].u, v: 1 }, ROOT);
    expect(codes(r)).toEqual(["UNAVAILABLE"]);
    expect(r.errors?.[0].message).toMatch(/key "k2"/);
  });
});

it("refuses to rotate without the persistent database or an active key, with the setting named", async () => {
  const file = join(dir, "memory.json");
  writeFileSync(file, JSON.stringify({ systemRootToken: ROOT, logLevel: "error" }));
  let err = "";
  const spy = jest.spyOn(process.stderr, "write").mockImplementation((chunk) => ((err += String(chunk)), true));
  try {
    expect(await run(["secrets", "rotate-key", "--config", file])).toBe(2);
    writeFileSync(file, JSON.stringify({ systemRootToken: ROOT, logLevel: "error", ...storage() }));
    expect(await run(["secrets", "rotate-key", "--config", file])).toBe(78);
  } finally {
    spy.mockRestore();
  }
  expect(err).toMatch(/rotate-key works on the persistent database/);
  expect(err).toMatch(/secrets\.activeKey: is required to rotate/);
});
