import { openDatabase } from "../../src/db/database";
import { listMigrations, migrate } from "../../src/db/migrate";
import { createTestDatabase } from "../helpers/database";

describe("migrations", () => {
  it("apply on a fresh database, are recorded as Prisma records them, and apply once", async () => {
    const target = await createTestDatabase();
    const db = await openDatabase({ databaseUrl: target.databaseUrl });
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
