/**
 * Revocation hints. The home cluster remembers which clusters it vouched for each token to (a
 * salted look-up names the asking cluster: one in its table or reached through its pattern); when a token is revoked, or its user loses a
 * membership here, it tells each of them to drop its cached validation. The hint carries no
 * authority: the receiver just validates again on next use.
 *
 * Hints are durable: they are queued in `revocation_outbox` in the transaction that revokes,
 * sent at once after it commits (in chunks of one list argument each, so that no number of
 * tokens can push a hint past the receiver's limits), and retried with exponential backoff
 * until delivered or moot (the token has expired, or every remote cache of it has). Rows are
 * claimed with FOR UPDATE SKIP LOCKED and leased by their next attempt time, so several
 * processes on one database share the queue without sending a hint twice at once.
 */
import { Prisma, type PrismaClient } from "@prisma/client";
import type { RevocationHints } from "../auth/localTokens";
import { unauthenticated } from "../errors";
import { kindOf } from "../ids";
import { log } from "../log";
import type { ClusterRegistry, RemoteCluster } from "./registry";
import { callRemote, type TransportDeps } from "./transport";

type Tx = Prisma.TransactionClient;

/** Hints should not hold a revocation up for long: one not delivered at once is retried. */
const HINT_TIMEOUT_MS = 3000;
/** Token uuids per hint request: well within any receiver's per-request budget. */
export const HINT_CHUNK = 200;
/**
 * No cluster caches a token longer than this (tokens.remoteCacheSeconds' maximum), and twice
 * that is past every cache of a validation made before the revocation: the hint is then moot.
 */
const MOOT_AFTER_SECONDS = 2 * 86_400;
/** A claimed chunk is another delivery's again after this: well past any attempt's timeout. */
const LEASE_SECONDS = (2 * HINT_TIMEOUT_MS) / 1000;
/** Clusters outside the table (reached through the pattern) that may validate one token. */
export const PATTERN_CLUSTERS_PER_TOKEN = 64;
/** Backoff doublings at most (so the interval stays a number PostgreSQL can add). */
const MAX_DOUBLINGS = 30;

const DROP = `mutation DropCachedTokens($uuids: [ID!]!) { dropCachedTokens(uuids: $uuids) }`;

export interface HintOptions {
  /** Interval of the queue's worker, and the first retry's delay (doubled on each failure). */
  retrySeconds: number;
  /** Longest delay between two attempts. */
  maxBackoffSeconds: number;
}

export class RevocationPush implements RevocationHints {
  private readonly recorded = new Set<string>();
  /** Deliveries run one at a time in this process: one that waits also waits for those before it. */
  private queue: Promise<void> = Promise.resolve();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly prisma: PrismaClient,
    private readonly registry: ClusterRegistry,
    private readonly transport: TransportDeps,
    private readonly options: HintOptions,
  ) {}

  /**
   * Notes that `cluster` validated `tokenUuid` here (once per process per pair), before the
   * answer goes out: any cluster this one knows, in its table or through its pattern (the
   * authenticator accepts a salt for no other). The header naming it is only an assertion, so
   * a token's holder could name many pattern clusters: past PATTERN_CLUSTERS_PER_TOKEN of them
   * the validation is refused rather than left unrecorded (a revocation must reach every
   * cluster that holds the token). The token's row is read FOR SHARE with the write: a
   * revocation either waits for this record (and so hints the cluster) or has committed
   * first, and the validation is refused.
   */
  async recordUse(tokenUuid: string, cluster: string): Promise<void> {
    const key = `${tokenUuid}/${cluster}`;
    if (this.recorded.has(key)) return;
    const table = this.registry.tableIds();
    const bounded = table.includes(cluster)
      ? Prisma.sql`TRUE`
      : Prisma.sql`(SELECT count(*) FROM token_remote_validations o
          WHERE o.token_uuid = ${tokenUuid} AND o.cluster_id <> ${cluster} AND o.cluster_id <> ALL(${table}::text[])) < ${PATTERN_CLUSTERS_PER_TOKEN}`;
    // One statement: the lock is held until it commits, and no row means revoked (or gone), or too many clusters.
    const recorded = await this.prisma.$executeRaw`
      INSERT INTO token_remote_validations (token_uuid, cluster_id)
      SELECT uuid, ${cluster}::text FROM api_tokens WHERE uuid = ${tokenUuid} AND revoked_at IS NULL AND ${bounded} FOR SHARE
      ON CONFLICT (token_uuid, cluster_id) DO UPDATE SET validated_at = now()`;
    if (recorded === 0) throw unauthenticated(`token has been revoked, or was already validated by ${PATTERN_CLUSTERS_PER_TOKEN} clusters not in the table`);
    this.recorded.add(key);
  }

  /** Queues hints for every cluster that validated one of these (revoked) tokens. */
  async enqueue(tx: Tx, tokenUuids: string[]): Promise<void> {
    await this.enqueueWhere(tx, Prisma.sql`v.token_uuid = ANY(${tokenUuids}::text[])`);
  }

  /**
   * Queues hints for the live tokens of the users whose memberships may have shrunk with a
   * change at `subject` (a user, or a group: its members), so the clusters that cached what
   * groups those users are in ask again. Call in the changing transaction, before the
   * permission closure is refreshed (it still records who reached `subject`).
   */
  async enqueueForMembers(tx: Tx, subject: string): Promise<void> {
    const users =
      kindOf(subject) === "group"
        ? Prisma.sql`SELECT user_uuid FROM permission_closure WHERE target_uuid = ${subject}`
        : Prisma.sql`SELECT ${subject}::text`;
    await this.enqueueWhere(tx, Prisma.sql`t.user_uuid IN (${users}) AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())`);
  }

  private async enqueueWhere(tx: Tx, tokens: Prisma.Sql): Promise<void> {
    await tx.$executeRaw`
      INSERT INTO revocation_outbox (cluster_id, token_uuid, drop_after)
      SELECT v.cluster_id, v.token_uuid, LEAST(t.expires_at, now() + make_interval(secs => ${MOOT_AFTER_SECONDS}))
      FROM token_remote_validations v JOIN api_tokens t ON t.uuid = v.token_uuid
      WHERE ${tokens}
      ON CONFLICT (cluster_id, token_uuid) DO UPDATE SET attempts = 0, next_attempt_at = now(), drop_after = EXCLUDED.drop_after`;
  }

  /** Sends every hint that is due; those not delivered are retried later. Never throws. */
  deliver(): Promise<void> {
    const run = this.queue.then(() => this.drain()).catch((e) => log.error("revocation hints: delivery failed", { error: (e as Error).message }));
    this.queue = run;
    return run;
  }

  /** Starts the worker that retries hints not yet delivered. */
  start(): void {
    this.timer = setInterval(() => void this.deliver(), this.options.retrySeconds * 1000);
    this.timer.unref();
  }

  /** Stops the worker and waits for a delivery under way. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.queue;
  }

  private async drain(): Promise<void> {
    await this.prisma.$executeRaw`DELETE FROM revocation_outbox WHERE drop_after <= now()`;
    // Who validated a token is of no use once it has expired: no cluster accepts it any more.
    await this.prisma.$executeRaw`
      DELETE FROM token_remote_validations v USING api_tokens t WHERE t.uuid = v.token_uuid AND t.expires_at <= now()`;
    const due = await this.prisma.$queryRaw<{ cluster_id: string }[]>`
      SELECT DISTINCT cluster_id FROM revocation_outbox WHERE next_attempt_at <= now()`;
    await Promise.all(due.map((r) => this.drainCluster(r.cluster_id)));
  }

  /** Sends `cluster` its due hints, a chunk at a time, until none is left or one fails. */
  private async drainCluster(cluster: string): Promise<void> {
    const target = this.registry.find(cluster);
    if (!target) {
      // Taken out of the table (and no pattern reaches it): nothing can be sent to it any more.
      await this.prisma.revocationHint.deleteMany({ where: { clusterId: cluster } });
      return;
    }
    for (let uuids = await this.claim(cluster); uuids.length; uuids = await this.claim(cluster)) {
      try {
        await this.send(target, uuids);
      } catch (e) {
        log.warn("revocation hint not delivered; will retry", { cluster, tokens: uuids.length, error: (e as Error).message });
        await this.backOff(cluster, uuids);
        return;
      }
      await this.prisma.revocationHint.deleteMany({ where: { clusterId: cluster, tokenUuid: { in: uuids } } });
    }
  }

  /**
   * Takes up to a chunk of due hints for `cluster`, leased: no other delivery (in this process
   * or another) takes them until the lease ends, and they are retried if this one never ends.
   */
  private async claim(cluster: string): Promise<string[]> {
    const rows = await this.prisma.$queryRaw<{ token_uuid: string }[]>`
      UPDATE revocation_outbox SET attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => ${LEASE_SECONDS}::float8)
      WHERE cluster_id = ${cluster} AND token_uuid IN (
        SELECT token_uuid FROM revocation_outbox WHERE cluster_id = ${cluster} AND next_attempt_at <= now()
        ORDER BY next_attempt_at LIMIT ${HINT_CHUNK} FOR UPDATE SKIP LOCKED)
      RETURNING token_uuid`;
    return rows.map((r) => r.token_uuid);
  }

  /** After a failed attempt: the next one waits retrySeconds, doubled for each failure before, at most maxBackoffSeconds. */
  private async backOff(cluster: string, uuids: string[]): Promise<void> {
    const { retrySeconds, maxBackoffSeconds } = this.options;
    await this.prisma.$executeRaw`
      UPDATE revocation_outbox
      SET next_attempt_at = now() + make_interval(secs => LEAST(${maxBackoffSeconds}::float8, ${retrySeconds}::float8 * power(2, LEAST(attempts - 1, ${MAX_DOUBLINGS}))))
      WHERE cluster_id = ${cluster} AND token_uuid = ANY(${uuids}::text[])`;
  }

  private async send(target: RemoteCluster, uuids: string[]): Promise<void> {
    const bounded = { ...target, timeoutMs: Math.min(target.timeoutMs, HINT_TIMEOUT_MS) };
    await callRemote(this.transport, bounded, undefined, "DropCachedTokens", DROP, { uuids });
  }
}
