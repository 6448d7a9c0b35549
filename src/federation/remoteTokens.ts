/**
 * Tokens issued by other clusters: validated at their home cluster with the token salted for
 * this cluster (the home cluster answers who it belongs to, its scopes and expiry), cached
 * for a configurable time, refusals cached briefly, concurrent validations of one token
 * merged into one request. The local record of the remote user is created or updated; the
 * home cluster's real secret is never seen here, let alone stored.
 */
import { createHash } from "node:crypto";
import type { PrismaClient } from "@prisma/client";
import { LRUCache } from "lru-cache";
import type { GraphQLError } from "graphql";
import type { UserRecord } from "../api/types";
import type { RemoteTokenValidator } from "../auth/authenticator";
import type { VerifiedToken } from "../auth/localTokens";
import { saltToken } from "../auth/salt";
import type { ParsedToken } from "../auth/tokenString";
import { codeOf, unauthenticated } from "../errors";
import { clusterOf } from "../ids";
import { log } from "../log";
import type { ClusterRegistry } from "./registry";
import { REMOTE_FIELDS, toToken } from "./remoteClient";
import { callRemote, type TransportDeps } from "./transport";

type Entry = { ok: true; value: VerifiedToken } | { ok: false; error: GraphQLError };

export interface RemoteTokenOptions {
  prisma: PrismaClient;
  registry: ClusterRegistry;
  transport: TransportDeps;
  cacheSeconds: number;
  negativeCacheSeconds: number;
}

const VALIDATE = `query ValidateToken { viewer { ${REMOTE_FIELDS.USER} } currentToken { ${REMOTE_FIELDS.TOKEN} } }`;

export class RemoteTokens implements RemoteTokenValidator {
  private readonly cache = new LRUCache<string, Entry>({ max: 50_000, ttl: 1000, ttlAutopurge: false });
  private readonly inflight = new Map<string, Promise<Entry>>();

  constructor(private readonly o: RemoteTokenOptions) {}

  async validate(token: string, parsed: ParsedToken): Promise<VerifiedToken> {
    const key = createHash("sha256").update(token).digest("base64");
    let entry = this.cache.get(key);
    if (!entry) {
      let pending = this.inflight.get(key);
      if (!pending) {
        pending = this.fetch(token, parsed).finally(() => this.inflight.delete(key));
        this.inflight.set(key, pending);
      }
      entry = await pending;
    }
    if (!entry.ok) throw entry.error;
    return entry.value;
  }

  /** Drops what is cached about token `uuid` (a revocation hint): the next use validates again. */
  forget(uuid: string): void {
    for (const [key, e] of this.cache.entries()) if (e.ok && e.value.token.uuid === uuid) this.cache.delete(key);
  }

  private async fetch(token: string, parsed: ParsedToken): Promise<Entry> {
    const home = clusterOf(parsed.uuid);
    const target = this.o.registry.find(home);
    if (!target) return this.remember(token, { ok: false, error: unauthenticated(`token from unknown cluster ${home}`) });
    let data: { viewer: UserRecord; currentToken: Record<string, unknown> };
    try {
      data = await callRemote(this.o.transport, target, saltToken(token, this.o.registry.selfId), "ValidateToken", VALIDATE, {});
    } catch (e) {
      const code = codeOf(e);
      if (code === "UNAUTHENTICATED" || code === "FORBIDDEN")
        return this.remember(token, { ok: false, error: unauthenticated(`token refused by its home cluster ${home}`) });
      throw e; // UNAVAILABLE and the like: not cached, the next request tries again
    }
    const record = toToken(data.currentToken);
    if (record.uuid !== parsed.uuid) return this.remember(token, { ok: false, error: unauthenticated(`cluster ${home} answered for another token`) });
    const user = await this.upsertRemoteUser(home, data.viewer, target.activateUsers);
    const value: VerifiedToken = { token: { ...record, homeCluster: home }, user, salted: false };
    return this.remember(token, { ok: true, value });
  }

  private remember(token: string, entry: Entry): Entry {
    const key = createHash("sha256").update(token).digest("base64");
    let ttl = (entry.ok ? this.o.cacheSeconds : this.o.negativeCacheSeconds) * 1000;
    if (entry.ok && entry.value.token.expiresAt) ttl = Math.min(ttl, entry.value.token.expiresAt.getTime() - Date.now());
    if (ttl > 0) this.cache.set(key, entry, { ttl });
    return entry;
  }

  /**
   * The local record of a remote user. The login cluster is authoritative for activity and
   * admin status; other clusters' users are active here when config says so (or were made so).
   */
  private async upsertRemoteUser(home: string, remote: UserRecord, activateUsers: boolean): Promise<UserRecord> {
    if (clusterOf(remote.uuid) !== home) throw unauthenticated(`cluster ${home} vouched for a user of another cluster`);
    const authoritative = this.o.registry.loginCluster === home;
    const existing = await this.o.prisma.user.findUnique({ where: { uuid: remote.uuid } });
    const isActive = authoritative || activateUsers ? remote.isActive : (existing?.isActive ?? false);
    const isAdmin = authoritative ? remote.isAdmin : (existing?.isAdmin ?? false);
    const fields = { email: remote.email, fullName: remote.fullName, isActive, isAdmin, validatedAt: new Date() };
    const row = await this.o.prisma.user.upsert({
      where: { uuid: remote.uuid },
      create: { uuid: remote.uuid, ...fields },
      update: fields,
      select: { uuid: true, email: true, fullName: true, isActive: true, isAdmin: true },
    });
    if (!existing) log.info("remote user recorded", { userUuid: row.uuid, cluster: home, isActive });
    return row;
  }
}
