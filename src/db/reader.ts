/**
 * The hot read path outside Prisma. A list or a look-up through Prisma's client and its
 * query-compiler WebAssembly costs ~0.5 ms of this process's CPU per query; the same SQL as a
 * `pg` prepared statement (PostgreSQL) or PGlite's own `query` costs a fraction of that
 * (README, "Overhead against servers that check nothing"). Prisma keeps the schema, the
 * migrations, the writes and every transaction; the reader runs single read-only statements
 * built with `Prisma.sql`, and returns rows typed as `$queryRaw` would (test/integration/reader.test.ts).
 * Each statement is traced like Prisma's; `budgetedReader` charges them to a request's clock.
 */
import type { Prisma } from "@prisma/client";
import type { PGlite } from "@electric-sql/pglite";
import { types as pgTypes, type Pool, type QueryResultRow } from "pg";
import { tracedQuery, type DatabaseClock } from "./queryBudget";
import { parseTimestamptz, TIMESTAMPTZ_OID } from "./timestampText";

export interface Reader {
  /** The rows of one read-only statement, with the values `$queryRaw` would give. */
  rows<T>(sql: Prisma.Sql): Promise<T[]>;
}

const INT8 = 20;
/** `$queryRaw` gives int8 (count(*), bigint columns) as BigInt; `pg` and PGlite would give a string or a number. */
const toBigInt = (text: string) => BigInt(text);

function traced<T>(run: () => Promise<T[]>): Promise<T[]> {
  return tracedQuery("db $queryRaw", "$queryRaw", run);
}

/** `reader`, with every statement charged to `clock` (one request's database time). */
export function budgetedReader(reader: Reader, clock: DatabaseClock): Reader {
  return { rows: (sql) => clock.charge(() => reader.rows(sql)) };
}

/**
 * PostgreSQL: one named prepared statement per distinct SQL text, so each pooled connection
 * parses and plans it once. The texts come from the code's fixed query shapes (the values are
 * parameters), so their number is bounded.
 */
export function pgReader(pool: Pool): Reader {
  const names = new Map<string, string>();
  const nameOf = (text: string) => {
    let name = names.get(text);
    if (!name) names.set(text, (name = `fedgate_read_${names.size}`));
    return name;
  };
  const getTypeParser = ((oid: number, format?: "text") =>
    oid === INT8 ? toBigInt : oid === TIMESTAMPTZ_OID ? parseTimestamptz : pgTypes.getTypeParser(oid, format)) as typeof pgTypes.getTypeParser;
  return {
    rows: <T>(sql: Prisma.Sql) =>
      traced(async () => (await pool.query<T & QueryResultRow>({ name: nameOf(sql.text), text: sql.text, values: sql.values, types: { getTypeParser } })).rows),
  };
}

/** PGlite: its own `query` (extended protocol, its own type parsers), skipping the Prisma adapter. */
export function pgliteReader(pglite: PGlite): Reader {
  const parsers = { [INT8]: toBigInt };
  return {
    rows: <T>(sql: Prisma.Sql) => traced(async () => (await pglite.query<T>(sql.text, sql.values, { parsers })).rows),
  };
}
