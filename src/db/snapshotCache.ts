/**
 * The reader's statements answered from memory while the database has not changed since they
 * last ran. A workbench lists the same project on every page view and automation polls the same
 * collections: between two writes the answer is the same, and computing it again (the
 * permission closure walked for every row the list passes over) is most of the database's work.
 *
 * What "has not changed" means is PostgreSQL's own: a statement sees exactly the transactions
 * its MVCC snapshot calls committed, so two statements whose snapshots are equal
 * (`pg_current_snapshot()`: the oldest running transaction, the next transaction id, and the
 * ones running in between) see the same rows in every table. Each statement runs with its
 * snapshot beside it, gated: when the snapshot equals the one the kept rows were read under,
 * PostgreSQL does not run the statement at all (a one-time filter), answers the snapshot alone,
 * and the kept rows are the answer. Any other snapshot runs the statement, in that same
 * round trip, and its rows replace the kept ones. A grant, a revocation or an edit therefore
 * takes effect on the next read exactly as it does without the cache, on every replica alike,
 * and a transaction not yet committed is invisible to both.
 *
 * Kept rows are keyed by the statement's text and every value it was given: the same answer
 * for the same question, never another question's. Rows are frozen, as several requests share
 * them. Transaction ids are counted for the whole PostgreSQL server, so a write in any of its
 * databases makes every kept answer stale (it is read again, never served); on a server that
 * always writes, the cache only costs the gate's few microseconds. An answer that depends on
 * more than the rows (the clock, chance, the session) would be wrong to keep: statements naming
 * such a function are always run (NOT_OF_THE_ROWS).
 */
import { Prisma } from "@prisma/client";
import type { Reader } from "./reader";

export interface SnapshotCacheLimits {
  /** Answers kept at most (the least recently used go first); 0: none. */
  maxEntries: number;
  /** Memory all kept answers may take, roughly (sizeOf: their keys and values). */
  maxBytes: number;
  /** A larger answer (a page of big manifests) is not kept. */
  maxAnswerBytes: number;
}

export interface SnapshotCachedReader extends Reader {
  /** Answers served from memory, and answers PostgreSQL computed, since the reader was made. */
  readonly stats: { hits: number; misses: number };
}

export const DEFAULT_SNAPSHOT_CACHE: SnapshotCacheLimits = { maxEntries: 10_000, maxBytes: 32 * 2 ** 20, maxAnswerBytes: 2 ** 20 };

/** The limits for `megabytes` MiB of kept answers (config `readCacheMegabytes`; 0: none kept). */
export function readCacheLimits(megabytes: number): SnapshotCacheLimits {
  const maxBytes = megabytes * 2 ** 20;
  return { ...DEFAULT_SNAPSHOT_CACHE, maxBytes, maxAnswerBytes: Math.min(DEFAULT_SNAPSHOT_CACHE.maxAnswerBytes, maxBytes) };
}

interface Kept {
  snapshot: string;
  rows: readonly object[];
  bytes: number;
}

type GatedRow = Record<string, unknown> & { fedgate_snapshot: string; fedgate_row: boolean | null };

/**
 * `sql` with the statement's snapshot in every row (and one row, `fedgate_row` NULL, when it
 * gives none or is not run); run only when that snapshot is not `kept`. OFFSET 0 keeps the
 * planner from pulling the statement up into the join, where the gate would become a join
 * filter applied after the statement ran; kept apart, the gate is a one-time filter above it.
 */
export function gated(sql: Prisma.Sql, kept: string | null): Prisma.Sql {
  return Prisma.sql`SELECT s.fedgate_snapshot, q.* FROM (SELECT pg_current_snapshot()::text AS fedgate_snapshot) s
    LEFT JOIN LATERAL (SELECT TRUE AS fedgate_row, r.* FROM (${sql}) r WHERE s.fedgate_snapshot IS DISTINCT FROM ${kept}::text OFFSET 0) q ON TRUE`;
}

/**
 * What a statement may read besides the rows: the clock, chance, sequences, its session (its
 * settings, its backend) and PostgreSQL's own catalogs and statistics (pg_*). A statement
 * naming any of them is never kept.
 */
const NOT_OF_THE_ROWS =
  /\b(?:now|clock_timestamp|statement_timestamp|transaction_timestamp|timeofday|random|gen_random_uuid|nextval|currval|lastval|setval|current_date|current_time|current_timestamp|localtime|localtimestamp|current_setting|current_user|current_role|session_user|inet_\w+|txid_\w+|pg_\w+)\b/i;

/** The statement's identity: its text and its values (undefined: never kept). */
function keyOf(sql: Prisma.Sql, keepable: Map<string, boolean>): string | undefined {
  let ofTheRows = keepable.get(sql.text);
  if (ofTheRows === undefined) keepable.set(sql.text, (ofTheRows = !NOT_OF_THE_ROWS.test(sql.text)));
  if (!ofTheRows) return undefined;
  try {
    // JSON cannot spell every value (a BigInt): such a statement is run, not kept.
    return `${sql.text}\u0000${JSON.stringify(sql.values)}`;
  } catch {
    return undefined;
  }
}

/** Roughly the memory a row's values take: their text, and a few words per value. */
function sizeOf(row: object): number {
  let bytes = 64;
  for (const v of Object.values(row))
    bytes += 16 + (typeof v === "string" ? v.length : v !== null && typeof v === "object" && !(v instanceof Date) ? JSON.stringify(v).length : 8);
  return bytes;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

export function snapshotCachedReader(inner: Reader, limits: SnapshotCacheLimits = DEFAULT_SNAPSHOT_CACHE): SnapshotCachedReader {
  const kept = new Map<string, Kept>();
  let keptBytes = 0;
  /** Whether each statement text depends on its rows alone (texts are the code's fixed shapes: few). */
  const keepable = new Map<string, boolean>();
  const stats = { hits: 0, misses: 0 };

  function forget(key: string): void {
    const entry = kept.get(key);
    if (!entry) return;
    kept.delete(key);
    keptBytes -= entry.bytes;
  }

  /** `entry` as the most recently used answer, older ones let go past the limits. */
  function keep(key: string, entry: Kept): void {
    forget(key);
    kept.set(key, entry);
    keptBytes += entry.bytes;
    while (kept.size > limits.maxEntries || keptBytes > limits.maxBytes) forget(kept.keys().next().value!);
  }

  async function rows<T>(sql: Prisma.Sql): Promise<T[]> {
    const key = keyOf(sql, keepable);
    if (key === undefined || limits.maxEntries === 0 || limits.maxBytes === 0) return inner.rows<T>(sql);
    const before = kept.get(key);
    const answer = await inner.rows<GatedRow>(gated(sql, before?.snapshot ?? null));
    const snapshot = answer[0].fedgate_snapshot;
    if (before && snapshot === before.snapshot) {
      stats.hits++;
      keep(key, before);
      return before.rows.slice() as T[];
    }
    stats.misses++;
    const fresh: object[] = [];
    let bytes = 2 * key.length;
    for (const { fedgate_snapshot: _snapshot, fedgate_row: row, ...columns } of answer) {
      if (!row) continue;
      fresh.push(deepFreeze(columns));
      bytes += sizeOf(columns);
    }
    if (bytes <= limits.maxAnswerBytes) keep(key, { snapshot, rows: fresh, bytes });
    else forget(key);
    return fresh.slice() as T[];
  }

  return { rows, stats };
}
