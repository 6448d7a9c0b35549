/**
 * Test databases: embedded PGlite in memory by default; with DATABASE_URL set, a fresh
 * PostgreSQL database per call on that server (dropped by `dispose`).
 */
import { randomBytes } from "node:crypto";
import { Client } from "pg";

export interface TestDatabaseUrl {
  /** undefined: use embedded PGlite. */
  databaseUrl?: string;
  dispose(): Promise<void>;
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** `server`: a PostgreSQL URL (default DATABASE_URL); none means embedded PGlite. */
export async function createTestDatabase(server = process.env.DATABASE_URL, prefix = "fedgate_test"): Promise<TestDatabaseUrl> {
  if (!server) return { dispose: async () => {} };
  const name = `${prefix}_${randomBytes(6).toString("hex")}`;
  const admin = new Client({ connectionString: server });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  return {
    databaseUrl: withDatabase(server, name),
    async dispose() {
      const c = new Client({ connectionString: server });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
