import { openDatabase } from "../../src/db/database";
import { listMigrations, migrate } from "../../src/db/migrate";
import { parseConfig } from "../../src/config/config";
import { startCluster, type RunningCluster } from "../../src/cluster";
import { createTestDatabase } from "../helpers/database";
import { log } from "../../src/log";

log.configure({ level: "error" });

describe("migrations", () => {
  it("apply on a fresh database, are recorded as Prisma records them, and apply once", async () => {
    const target = await createTestDatabase();
    // On PGlite, an empty database (a new in-memory one otherwise starts migrated: pgliteTemplate.test.ts).
    const db = await openDatabase({ databaseUrl: target.databaseUrl, pgliteMigrations: null });
    try {
      const all = listMigrations().map((m) => m.name);
      expect(await migrate(db)).toEqual(all);
      expect(await migrate(db)).toEqual([]);
      const rows = await db.prisma.$queryRawUnsafe<{ migration_name: string; checksum: string; applied_steps_count: number }[]>(
        `SELECT migration_name, checksum, applied_steps_count FROM "_prisma_migrations" ORDER BY migration_name`,
      );
      expect(rows.map((r) => r.migration_name)).toEqual(all);
      expect(rows.map((r) => r.checksum)).toEqual(listMigrations().map((m) => m.checksum));
      expect(await db.prisma.user.count()).toBe(0);
    } finally {
      await db.close();
      await target.dispose();
    }
  });
});

(process.env.DATABASE_URL ? describe : describe.skip)("migrations run by several processes at once (PostgreSQL only: set DATABASE_URL)", () => {
  it("all succeed on one fresh database, and each migration is applied once", async () => {
    const all = listMigrations().map((m) => m.name);
    for (let round = 0; round < 5; round++) {
      const target = await createTestDatabase();
      // One connection each, as separate processes have: the advisory lock is per session.
      const dbs = await Promise.all(Array.from({ length: 6 }, () => openDatabase({ databaseUrl: target.databaseUrl })));
      try {
        const applied = await Promise.all(dbs.map((db) => migrate(db)));
        expect(applied.flat().sort()).toEqual(all);
        const rows = await dbs[0].prisma.$queryRawUnsafe<{ migration_name: string }[]>(`SELECT migration_name FROM "_prisma_migrations" ORDER BY migration_name`);
        expect(rows.map((r) => r.migration_name)).toEqual(all);
      } finally {
        await Promise.all(dbs.map((db) => db.close()));
        await target.dispose();
      }
    }
  }, 120_000);

  it("replicas of one cluster starting at once on a fresh database all start", async () => {
    const target = await createTestDatabase();
    const config = (i: number) =>
      parseConfig({ clusterId: "mmmmm", listen: "127.0.0.1:0", systemRootToken: `root-mmmmm-${"x".repeat(40)}`, databaseUrl: target.databaseUrl, tokens: { localCacheSeconds: i } });
    const started = await Promise.allSettled([1, 2, 3, 4].map((i) => startCluster(config(i))));
    try {
      expect(started.map((s) => (s.status === "rejected" ? String(s.reason) : s.status))).toEqual(["fulfilled", "fulfilled", "fulfilled", "fulfilled"]);
      const db = (started[0] as PromiseFulfilledResult<RunningCluster>).value.db;
      expect(await db.prisma.$queryRawUnsafe(`SELECT count(*)::int AS n FROM "_prisma_migrations"`)).toEqual([{ n: listMigrations().length }]);
    } finally {
      await Promise.all(started.map((s) => (s.status === "fulfilled" ? s.value.close() : undefined)));
      await target.dispose();
    }
  }, 120_000);
});
