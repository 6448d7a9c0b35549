/**
 * A database too busy to answer in time (here: a table held locked by another session, so the
 * request's transaction outlives its timeout) is UNAVAILABLE for the client, which may try
 * again, never an internal error; and the request leaves nothing behind. PostgreSQL only: PGlite
 * is one connection in this process, which nothing else can hold.
 */
import { Client } from "pg";
import { codes, createUserWithToken, gql, ok, startTestCluster, type TestCluster } from "../helpers/federation";

const onPostgres = Boolean(process.env.DATABASE_URL);

(onPostgres ? describe : describe.skip)("a busy database (PostgreSQL only: set DATABASE_URL)", () => {
  let z: TestCluster;
  let alice: { token: string };
  beforeAll(async () => {
    z = await startTestCluster("zzzzz");
    alice = await createUserWithToken(z, "alice@example.org");
  });
  afterAll(() => z?.stop());

  it("answers UNAVAILABLE when a write's transaction times out behind a lock, and writes nothing", async () => {
    const other = new Client({ connectionString: z.config.databaseUrl });
    await other.connect();
    try {
      await other.query("BEGIN");
      await other.query("LOCK TABLE collections IN ACCESS EXCLUSIVE MODE");
      const pending = gql(z.url, `mutation { createCollection(input: { name: "behind the lock" }) { uuid } }`, {}, alice.token);
      // Held past the transaction's 5 s timeout, then released: the write goes on, finds its
      // transaction expired, and is rolled back.
      await new Promise((r) => setTimeout(r, 6500));
      await other.query("ROLLBACK");
      const r = await pending;
      expect(codes(r)).toEqual(["UNAVAILABLE"]);
      expect(r.errors![0].message).toMatch(/too busy/);
      const list = await ok(gql(z.url, `{ collections(search: "behind the lock") { nodes { uuid } } }`, {}, alice.token));
      expect(list.collections.nodes).toEqual([]);
    } finally {
      await other.end();
    }
  }, 30_000);
});

if (!onPostgres) {
  it("is skipped on PGlite: nothing outside the process can hold its one connection", () => {
    expect(onPostgres).toBe(false);
  });
}
