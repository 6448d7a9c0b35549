/**
 * Replicas of one cluster (several `fedgate serve` processes on one PostgreSQL database)
 * share nothing but that database, so what one of them learns about tokens (a revocation made
 * through it, a revocation hint from a home cluster) reaches the others through it:
 * LISTEN/NOTIFY on the channel `fedgate_<clusterid>`, carrying the uuids of the tokens every
 * replica must forget. Listening holds one dedicated connection (not one of Prisma's pool,
 * which is not ours to keep), reopened with backoff after it is lost (a database restart).
 * While it is down notifications may be missed: caches then keep answers for at most
 * DISCONNECTED_CACHE_MS, and everything cached is dropped when it is lost and when it is back.
 *
 * PGlite serves one process per data folder (src/db/dataDirLock.ts): it has no replicas.
 */
import { randomUUID } from "node:crypto";
import type { Prisma } from "@prisma/client";
import { Client } from "pg";
import { log } from "../log";

/** A NOTIFY payload must stay under 8,000 bytes: token uuids (27 characters) per notification. */
const UUIDS_PER_NOTIFICATION = 200;
/** The longest any replica caches an answer about a token while it may miss notifications. */
export const DISCONNECTED_CACHE_MS = 1000;
const RECONNECT_FIRST_MS = 100;
const RECONNECT_MAX_MS = 5000;

/** What a replica caches about tokens (local and remote validations, refusals). */
export interface TokenCaches {
  forget(uuid: string): void;
  forgetAll(): void;
}

/** Anything that runs SQL: Prisma's client, or a transaction (the notification is then sent when it commits). */
type Sql = Pick<Prisma.TransactionClient, "$executeRaw">;

export interface ClusterBus {
  /** Tells the other replicas to forget these tokens; inside a transaction, only if it commits. */
  forgetEverywhere(sql: Sql, tokenUuids: string[]): Promise<void>;
  /** The longest a cache may keep an answer now. */
  cacheCapMs(): number;
}

/** One process, nobody to tell (PGlite). */
export const NO_REPLICAS: ClusterBus = { forgetEverywhere: async () => {}, cacheCapMs: () => Infinity };

/** The bus of a cluster on PostgreSQL; none on PGlite (no replicas). Listens only once started. */
export function clusterBusOf(config: { databaseUrl?: string; clusterId: string }): PostgresClusterBus | undefined {
  return config.databaseUrl ? new PostgresClusterBus(config.databaseUrl, config.clusterId) : undefined;
}

interface Message {
  /** The sending process: it has forgotten those tokens already. */
  from: string;
  uuids: string[];
}

export class PostgresClusterBus implements ClusterBus {
  private readonly channel: string;
  private readonly self = randomUUID();
  private readonly caches: TokenCaches[] = [];
  private client?: Client;
  private stopped = false;
  private retryMs = RECONNECT_FIRST_MS;
  private retry?: NodeJS.Timeout;

  constructor(private readonly databaseUrl: string, clusterId: string) {
    this.channel = `fedgate_${clusterId}`;
  }

  /** `caches` forget what other replicas tell them to. */
  subscribe(caches: TokenCaches): void {
    this.caches.push(caches);
  }

  async forgetEverywhere(sql: Sql, tokenUuids: string[]): Promise<void> {
    for (let i = 0; i < tokenUuids.length; i += UUIDS_PER_NOTIFICATION) {
      const message: Message = { from: this.self, uuids: tokenUuids.slice(i, i + UUIDS_PER_NOTIFICATION) };
      await sql.$executeRaw`SELECT pg_notify(${this.channel}, ${JSON.stringify(message)})`;
    }
  }

  cacheCapMs(): number {
    return this.client ? Infinity : DISCONNECTED_CACHE_MS;
  }

  /** Makes the first attempt to listen (later ones run in the background until it succeeds). */
  start(): Promise<void> {
    return this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    const client = this.client;
    this.client = undefined;
    if (client) await this.discard(client);
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = new Client({ connectionString: this.databaseUrl, keepAlive: true });
    client.on("error", (e) => this.lost(client, e));
    client.on("end", () => this.lost(client));
    client.on("notification", (n) => n.channel === this.channel && this.receive(n.payload));
    try {
      await client.connect();
      await client.query(`LISTEN "${this.channel}"`);
    } catch (e) {
      log.warn("replica notifications: cannot listen; caching briefly until it can", { error: (e as Error).message });
      await this.discard(client);
      this.reconnectLater();
      return;
    }
    if (this.stopped) return void (await this.discard(client));
    this.client = client;
    this.retryMs = RECONNECT_FIRST_MS;
    // Whatever was cached may predate a notification sent while nobody here listened.
    this.forgetAll();
    log.info("replica notifications: listening", { channel: this.channel });
  }

  private lost(client: Client, e?: Error): void {
    if (client !== this.client) return;
    this.client = undefined;
    this.forgetAll();
    void this.discard(client);
    if (this.stopped) return;
    log.warn("replica notifications: connection lost; caching briefly until it is back", { error: e?.message ?? "connection ended" });
    this.reconnectLater();
  }

  private reconnectLater(): void {
    if (this.stopped) return;
    this.retry = setTimeout(() => void this.connect(), this.retryMs);
    this.retry.unref();
    this.retryMs = Math.min(this.retryMs * 2, RECONNECT_MAX_MS);
  }

  private async discard(client: Client): Promise<void> {
    client.removeAllListeners();
    client.on("error", () => undefined); // a late socket error on a connection given up
    await client.end().catch(() => undefined);
  }

  private receive(payload: string | undefined): void {
    let message: Partial<Message>;
    try {
      message = JSON.parse(payload ?? "") as Partial<Message>;
    } catch {
      return log.warn("replica notifications: unreadable message ignored", {});
    }
    if (message.from === this.self || !Array.isArray(message.uuids)) return;
    for (const uuid of message.uuids) if (typeof uuid === "string") for (const c of this.caches) c.forget(uuid);
  }

  private forgetAll(): void {
    for (const c of this.caches) c.forgetAll();
  }
}
