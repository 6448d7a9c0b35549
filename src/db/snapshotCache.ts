/**
 * The reader's statements answered from memory while the database has not changed since they
 * last ran. A workbench lists the same project on every page view and automation polls the same
 * collections: between two writes the answer is the same, and computing it again (the
 * permission closure walked for every row the list passes over) is most of the database's work.
 *
 * What "has not changed" means is PostgreSQL's own: a statement sees exactly the transactions
 * its MVCC snapshot calls committed, so two statements whose snapshots are equal
 * (`pg_current_snapshot()`: the oldest running transaction, the next transaction id, and the
 * ones running in between) see the same rows in every table. A kept answer is checked with a
 * probe of the current snapshot; one probe answers every read that began before it was sent
 * (under load, many at once: one probe in flight at a time, the reads that come meanwhile wait
 * for the next), and when it names the kept snapshot, the kept rows are the answer. Otherwise the
 * statement runs with its snapshot beside it, gated: should the snapshot be the kept one after
 * all, PostgreSQL does not run the statement (a one-time filter) and answers the snapshot
 * alone; else its rows replace the kept ones. Once a later snapshot has been seen, a kept answer
 * read under another is known to be stale without a probe (snapshots only move forward), and
 * while the snapshot keeps moving from one answer to the next no probe is sent at all, so on a
 * database that keeps changing a read costs one round trip, as without the cache; and while few
 * reads are answered from memory, most run as written, without the gate (MIN_HIT_SHARE). A
 * grant, a revocation or an edit therefore takes effect on the next read exactly as it does
 * without the cache, on every replica alike, and a transaction not yet committed is invisible
 * to both.
 *
 * Kept rows are keyed by the statement's text and every value it was given: the same answer
 * for the same question, never another question's. Rows are frozen, as several requests share
 * them. Transaction ids are counted for the whole PostgreSQL server, so a write in any of its
 * databases makes every kept answer stale (it is read again, never served); on a server that
 * always writes, the reads run as written. An answer that depends on
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
  /**
   * Since the reader was made: answers served from memory, answers PostgreSQL computed for the
   * cache, snapshot probes sent, and reads run as written because the cache was not paying.
   */
  readonly stats: { hits: number; misses: number; probes: number; bypasses: number };
}

/**
 * Below this share of hits among recent reads the cache costs more than it saves (a gated
 * statement, frozen rows, probes that find the snapshot moved): reads then run as written, but
 * for one in SAMPLE_EVERY, which keeps measuring, so that the cache comes back once the
 * database is quiet. Recent: the counts are halved every RECENT_READS reads.
 */
const MIN_HIT_SHARE = 1 / 8;
const SAMPLE_EVERY = 8;
const RECENT_READS = 256;

const DEFAULT_SNAPSHOT_CACHE: SnapshotCacheLimits = { maxEntries: 10_000, maxBytes: 32 * 2 ** 20, maxAnswerBytes: 2 ** 20 };

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

const PROBE = Prisma.sql`SELECT pg_current_snapshot()::text AS snapshot`;

/**
 * PostgreSQL's current snapshot, for a read that has begun: from a probe sent after it began,
 * so the snapshot holds every transaction committed before. One probe is in flight at a time;
 * the reads that ask meanwhile share the next, sent when it returns.
 */
function snapshotProbe(inner: Reader, stats: { probes: number }): () => Promise<string> {
  let running: Promise<string> | undefined;
  let next: Promise<string> | undefined;
  const send = (): Promise<string> => {
    stats.probes++;
    const probe = inner.rows<{ snapshot: string }>(PROBE).then((rows) => rows[0].snapshot);
    running = probe;
    const done = () => {
      if (running === probe) running = undefined;
    };
    probe.then(done, done);
    return probe;
  };
  const settled = () => undefined;
  return () => {
    if (!running) return send();
    next ??= running.then(settled, settled).then(() => {
      next = undefined;
      return send();
    });
    return next;
  };
}

/**
 * What a statement may read besides the rows: the clock, chance, sequences, its session (its
 * settings, its backend) and PostgreSQL's own catalogs and statistics (pg_*). A statement
 * naming any of them is never kept.
 */
const NOT_OF_THE_ROWS =
  /\b(?:now|clock_timestamp|statement_timestamp|transaction_timestamp|timeofday|random|gen_random_uuid|nextval|currval|lastval|setval|current_date|current_time|current_timestamp|localtime|localtimestamp|current_setting|current_user|current_role|session_user|inet_\w+|txid_\w+|pg_\w+)\b/i;

/** The statement's identity: its text and its values (undefined: never kept). */
function keyOf(sql: Prisma.Sql): string | undefined {
  try {
    // JSON cannot spell every value (a BigInt): such a statement is run, not kept.
    return `${sql.text}\u0000${JSON.stringify(sql.values)}`;
  } catch {
    return undefined;
  }
}

/**
 * Roughly the memory a row's values take: their text, and a few words per value. Infinity for
 * a binary value (bytea): a byte array cannot be frozen, so an answer holding one is not kept.
 */
function sizeOf(row: object): number {
  let bytes = 64;
  for (const v of Object.values(row)) {
    if (ArrayBuffer.isView(v)) return Infinity;
    bytes += 16 + (typeof v === "string" ? v.length : v !== null && typeof v === "object" && !(v instanceof Date) ? JSON.stringify(v).length : 8);
  }
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
  const enabled = limits.maxEntries > 0 && limits.maxBytes > 0;
  /** Whether each statement text depends on its rows alone (texts are the code's fixed shapes: few). */
  const ofTheRows = new Map<string, boolean>();
  const keepable = (text: string) => {
    let answer = ofTheRows.get(text);
    if (answer === undefined) ofTheRows.set(text, (answer = !NOT_OF_THE_ROWS.test(text)));
    return answer;
  };
  const stats = { hits: 0, misses: 0, probes: 0, bypasses: 0 };
  const recent = { reads: 0, hits: 0, skipped: 0 };
  const tally = (hit: boolean) => {
    recent.reads++;
    if (hit) recent.hits++;
    if (recent.reads >= RECENT_READS) {
      recent.reads /= 2;
      recent.hits /= 2;
    }
  };
  /** Whether the cache is not paying now (and this read is not one that keeps measuring). */
  const notPaying = () =>
    recent.reads >= RECENT_READS / 4 && recent.hits < recent.reads * MIN_HIT_SHARE && ++recent.skipped % SAMPLE_EVERY !== 0;
  const currentSnapshot = snapshotProbe(inner, stats);
  /** The snapshot of PostgreSQL's last answer: a kept answer read under another is stale, or soon will be. */
  let latest: string | undefined;
  /**
   * Whether the last answer's snapshot moved from the one before: the database is changing, and
   * a probe would mostly find a kept answer stale (a second round trip for nothing).
   */
  let moving = false;
  const saw = (snapshot: string) => {
    moving = snapshot !== latest;
    latest = snapshot;
  };

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

  function hit<T>(key: string, entry: Kept): T[] {
    stats.hits++;
    tally(true);
    keep(key, entry);
    return entry.rows.slice() as T[];
  }

  async function rows<T>(sql: Prisma.Sql): Promise<T[]> {
    if (!enabled || !keepable(sql.text)) return inner.rows<T>(sql);
    if (notPaying()) {
      stats.bypasses++;
      return inner.rows<T>(sql);
    }
    const key = keyOf(sql);
    if (key === undefined) return inner.rows<T>(sql);
    const before = kept.get(key);
    if (before && before.snapshot === latest && !moving) {
      saw(await currentSnapshot());
      if (latest === before.snapshot) return hit<T>(key, before);
    }
    const answer = await inner.rows<GatedRow>(gated(sql, before?.snapshot ?? null));
    const snapshot = answer[0].fedgate_snapshot;
    saw(snapshot);
    if (before && snapshot === before.snapshot) return hit<T>(key, before);
    stats.misses++;
    tally(false);
    const fresh: object[] = [];
    let bytes = 2 * key.length;
    for (const { fedgate_snapshot: _snapshot, fedgate_row: row, ...columns } of answer) {
      if (!row) continue;
      bytes += sizeOf(columns);
      fresh.push(columns);
    }
    if (bytes <= limits.maxAnswerBytes) keep(key, { snapshot, rows: fresh.map(deepFreeze), bytes });
    else forget(key);
    return fresh.slice() as T[];
  }

  return { rows, stats };
}
