/**
 * The hot read path outside Prisma. A list or a look-up through Prisma's client and its
 * query-compiler WebAssembly costs ~0.5 ms of this process's CPU per query; the same SQL as a
 * prepared statement (`pg` on PostgreSQL, PGlite's protocol on PGlite) costs a fraction of that
 * (README, "Overhead against servers that check nothing"). Prisma keeps the schema, the
 * migrations, the writes and every transaction; the reader runs single read-only statements
 * built with `Prisma.sql`, and returns rows typed as `$queryRaw` would (test/integration/reader.test.ts).
 * Each statement is traced like Prisma's; `budgetedReader` charges them to a request's clock.
 */
import type { Prisma } from "@prisma/client";
import { protocol as pgliteProtocol, type messages as pgliteMessages, type PGlite } from "@electric-sql/pglite";
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

/** A statement prepared on PGlite's one session: its name, parameter types and columns. */
interface PglitePrepared {
  name: string;
  paramTypes: number[];
  columns: { name: string; parse: ((text: string, oid: number) => unknown) | undefined; oid: number }[];
}

/** What each PGlite read runs between: its own plan_cache_mode, then the session's again (pgliteReader). */
const GENERIC_PLANS = pgliteProtocol.serialize.query("SET plan_cache_mode = force_generic_plan");
const SESSION_PLANS = pgliteProtocol.serialize.query("RESET plan_cache_mode");

/**
 * PGlite: one named prepared statement per distinct SQL text on its one session, each execution
 * one call into PostgreSQL (Bind, Execute and Sync in one buffer). PGlite's own `query` makes
 * six calls per statement (Parse, Describe, Bind, Describe, Execute, Sync), each with its
 * own trip through the WebAssembly and its messages, and PostgreSQL parses and plans the text
 * every time; a named statement is parsed once. Each execution sets `plan_cache_mode` to
 * `force_generic_plan` for itself (a SET before the Bind, a RESET after the Sync, in the same
 * call), so it is planned once, as on the reader's PostgreSQL sessions, while Prisma's statements
 * on the same session keep the default: under it PostgreSQL made a custom plan for each of the
 * first five executions and, for statements whose generic estimate looks worse (a LIKE pattern,
 * a list of subjects), for every one after, and planning in WebAssembly cost milliseconds
 * (`shareableSubjects` and contents 4.6–4.8 → 1.4 ms of CPU per request, A/B, bench seed).
 * Like `query`, it waits for any open transaction to end
 * (the transaction lock) and runs alone (the query lock): the reader never runs inside another
 * caller's transaction. The values get PGlite's serialisers and the columns its parsers, so the
 * rows are what `query` gave.
 */
export function pgliteReader(pglite: PGlite): Reader {
  const { serialize } = pgliteProtocol;
  const prepared = new Map<string, PglitePrepared>();
  const parserFor = (oid: number) => (oid === INT8 ? toBigInt : pglite.parsers[oid]);
  const call = (...messages: Uint8Array[]) => pglite.execProtocolStream(Buffer.concat(messages), { syncToFs: false });

  async function prepare(text: string): Promise<PglitePrepared> {
    const name = `fedgate_read_${prepared.size}`;
    const replies = await call(serialize.parse({ name, text }), serialize.describe({ type: "S", name }), serialize.sync());
    const params = replies.find((m): m is pgliteMessages.ParameterDescriptionMessage => m.name === "parameterDescription");
    const row = replies.find((m): m is pgliteMessages.RowDescriptionMessage => m.name === "rowDescription");
    const columns = (row?.fields ?? []).map((f) => ({ name: f.name, oid: f.dataTypeID, parse: parserFor(f.dataTypeID) }));
    const statement = { name, paramTypes: params?.dataTypeIDs ?? [], columns };
    prepared.set(text, statement);
    return statement;
  }

  async function run<T>(sql: Prisma.Sql): Promise<T[]> {
    const statement = prepared.get(sql.text) ?? (await prepare(sql.text));
    const values = sql.values.map((v, i) => {
      if (v == null) return null;
      const serializer = pglite.serializers[statement.paramTypes[i]];
      return serializer ? serializer(v) : String(v);
    });
    const replies = await call(
      GENERIC_PLANS,
      serialize.bind({ statement: statement.name, values }),
      serialize.execute({}),
      serialize.sync(),
      SESSION_PLANS,
    );
    const rows: T[] = [];
    for (const m of replies) {
      if (m.name !== "dataRow") continue;
      const fields = (m as pgliteMessages.DataRowMessage).fields;
      const row: Record<string, unknown> = {};
      statement.columns.forEach((c, i) => {
        const text = fields[i];
        row[c.name] = text === null ? null : c.parse ? c.parse(text, c.oid) : text;
      });
      rows.push(row as T);
    }
    return rows;
  }

  return {
    rows: <T>(sql: Prisma.Sql) =>
      traced(async () => {
        await pglite._checkReady();
        return pglite._runExclusiveTransaction(() => pglite._runExclusiveQuery(() => run<T>(sql)));
      }),
  };
}
