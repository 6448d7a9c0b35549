/**
 * Tokens issued by other clusters: validated at their home cluster with the token salted for
 * this cluster (the home cluster answers who it belongs to, its scopes and expiry), cached
 * for a configurable time, refusals cached briefly, concurrent validations of one token
 * merged into one request. The local record of the remote user is created or updated; the
 * home cluster's real secret is never seen here, let alone stored.
 */
import type { PrismaClient } from "@prisma/client";
import type { GraphQLError } from "graphql";
import type { GroupLevel, UserRecord } from "../api/types";
import { isPermissionLevel } from "../permissions/levels";
import type { RemoteTokenValidator } from "../auth/authenticator";
import type { VerifiedToken } from "../auth/localTokens";
import { saltToken } from "../auth/salt";
import { TokenCache, presentedKey } from "../auth/tokenCache";
import { NO_REPLICAS, type ClusterBus, type TokenCaches } from "../db/clusterBus";
import { formatToken, type ParsedToken } from "../auth/tokenString";
import { codeOf, unauthenticated } from "../errors";
import { clusterOf, kindOf } from "../ids";
import { log } from "../log";
import type { ClusterRegistry, RemoteCluster } from "./registry";
import { REMOTE_FIELDS, toToken } from "./remoteClient";
import { callRemote, isRemoteRefusal, type TransportDeps } from "./transport";

type Entry = { ok: true; value: VerifiedToken } | { ok: false; error: GraphQLError };

export interface RemoteTokenOptions {
  prisma: PrismaClient;
  registry: ClusterRegistry;
  transport: TransportDeps;
  cacheSeconds: number;
  negativeCacheSeconds: number;
  /** The other replicas of this cluster: they forget what a hint received here names. */
  replicas?: ClusterBus;
}

/** One request: who the token belongs to, its scopes and expiry, and the role groups its user is in at home. */
const VALIDATE = `query ValidateToken { viewer { ${REMOTE_FIELDS.USER} } currentToken { ${REMOTE_FIELDS.TOKEN} } visibleGroups { uuid level } }`;
/** The validation minimum, which the home cluster answers whatever the token's scopes here. */
const VALIDATE_IDENTITY = `query ValidateTokenIdentity { viewer { ${REMOTE_FIELDS.USER} } currentToken { ${REMOTE_FIELDS.TOKEN} } }`;

type Validation = { viewer: UserRecord; currentToken: Record<string, unknown>; visibleGroups: GroupLevel[] | null };

export class RemoteTokens implements RemoteTokenValidator, TokenCaches {
  private readonly cache = new TokenCache<Entry>(50_000);
  /** Validations under way, by presented key, with their token's uuid (a hint cuts them off). */
  private readonly inflight = new Map<string, { uuid: string; pending: Promise<Entry> }>();
  /** Validations under way per token uuid: a hint arriving meanwhile marks them stale. */
  private readonly fetching = new Map<string, Set<{ stale: boolean }>>();

  constructor(private readonly o: RemoteTokenOptions) {}

  async validate(token: string, parsed: ParsedToken): Promise<VerifiedToken> {
    // Ignored fields after the secret do not make another token (nor another validation).
    const key = presentedKey(formatToken(parsed));
    let entry = this.cache.get(key);
    if (!entry) {
      let pending = this.inflight.get(key)?.pending;
      if (!pending) {
        const started: Promise<Entry> = this.fetch(token, parsed, key).finally(() => {
          if (this.inflight.get(key)?.pending === started) this.inflight.delete(key);
        });
        pending = started;
        this.inflight.set(key, { uuid: parsed.uuid, pending });
      }
      entry = await pending;
    }
    if (!entry.ok) throw entry.error;
    return entry.value;
  }

  /** A revocation hint: this replica and the others forget these tokens, validated again on next use. */
  async dropEverywhere(uuids: string[]): Promise<void> {
    for (const uuid of uuids) this.forget(uuid);
    await this.replicas.forgetEverywhere(this.o.prisma, uuids);
  }

  /** Drops what is cached about token `uuid`: the next use validates again. */
  forget(uuid: string): void {
    this.cache.forget(uuid);
    for (const marker of this.fetching.get(uuid) ?? []) marker.stale = true;
    // A request arriving after the hint must not join a validation that started before it.
    for (const [key, v] of this.inflight) if (v.uuid === uuid) this.inflight.delete(key);
  }

  /** Drops everything cached (notifications from other replicas may have been missed). */
  forgetAll(): void {
    this.cache.forgetAll();
    for (const markers of this.fetching.values()) for (const marker of markers) marker.stale = true;
    this.inflight.clear();
  }

  private get replicas(): ClusterBus {
    return this.o.replicas ?? NO_REPLICAS;
  }

  private async fetch(token: string, parsed: ParsedToken, key: string): Promise<Entry> {
    const marker = { stale: false };
    const markers = this.fetching.get(parsed.uuid) ?? new Set();
    this.fetching.set(parsed.uuid, markers.add(marker));
    try {
      const entry = await this.ask(token, parsed);
      // A hint that arrived while we asked may concern this very answer: use it once, keep it not.
      if (!(entry.ok && marker.stale)) this.remember(key, parsed.uuid, entry);
      return entry;
    } finally {
      markers.delete(marker);
      if (markers.size === 0) this.fetching.delete(parsed.uuid);
    }
  }

  private async ask(token: string, parsed: ParsedToken): Promise<Entry> {
    const home = clusterOf(parsed.uuid);
    const target = this.o.registry.find(home);
    if (!target) return { ok: false, error: unauthenticated(`token from unknown cluster ${home}`) };
    let data: Validation;
    try {
      data = await this.validation(target, saltToken(token, this.o.registry.selfId));
    } catch (e) {
      const code = codeOf(e);
      // A bare 4xx is the home cluster refusing (Arvados answers 401), not failing: a refusal, cached as one.
      if (code === "UNAUTHENTICATED" || code === "FORBIDDEN" || isRemoteRefusal(e))
        return { ok: false, error: unauthenticated(`token refused by its home cluster ${home}: ${(e as Error).message}`) };
      throw e; // a 5xx, a timeout, no answer: UNAVAILABLE, not cached, the next request tries again
    }
    const record = toToken(data.currentToken);
    if (record.uuid !== parsed.uuid) return { ok: false, error: unauthenticated(`cluster ${home} answered for another token`) };
    const user = await this.upsertRemoteUser(home, data.viewer, target.activateUsers);
    // A cluster vouches only for its own groups.
    const homeGroups = (data.visibleGroups ?? []).filter((g) => clusterOf(g.uuid) === home && kindOf(g.uuid) === "group" && isPermissionLevel(g.level));
    return { ok: true, value: { token: { ...record, homeCluster: home }, user, salted: false, homeGroups } };
  }

  /**
   * Asks the home cluster. Scopes apply there to look-ups salted for this cluster, so a token
   * whose scopes here do not reach the groups (e.g. only `GET /arvados/v1/collections`) is
   * refused `visibleGroups`: it is then validated by the minimum, with no home groups.
   */
  private async validation(target: RemoteCluster, salted: string): Promise<Validation> {
    try {
      return await callRemote<Validation>(this.o.transport, target, salted, "ValidateToken", VALIDATE, {});
    } catch (e) {
      if (codeOf(e) !== "FORBIDDEN") throw e;
      const identity = await callRemote<Omit<Validation, "visibleGroups">>(this.o.transport, target, salted, "ValidateTokenIdentity", VALIDATE_IDENTITY, {});
      return { ...identity, visibleGroups: null };
    }
  }

  private remember(key: string, uuid: string, entry: Entry): void {
    let ttl = Math.min((entry.ok ? this.o.cacheSeconds : this.o.negativeCacheSeconds) * 1000, this.replicas.cacheCapMs());
    if (entry.ok && entry.value.token.expiresAt) ttl = Math.min(ttl, entry.value.token.expiresAt.getTime() - Date.now());
    this.cache.set(key, uuid, entry, ttl);
  }

  /**
   * The local record of a remote user. The login cluster is authoritative for activity and
   * admin status (admin only while active); other clusters' users are active here when config
   * says so (or were made so).
   */
  private async upsertRemoteUser(home: string, remote: UserRecord, activateUsers: boolean): Promise<UserRecord> {
    if (clusterOf(remote.uuid) !== home) throw unauthenticated(`cluster ${home} vouched for a user of another cluster`);
    const authoritative = this.o.registry.loginCluster === home;
    const existing = await this.o.prisma.user.findUnique({ where: { uuid: remote.uuid } });
    // Inactive at home is inactive here; active at home is active here only if config says so (or it was made so).
    const isActive = remote.isActive && (authoritative || activateUsers || (existing?.isActive ?? false));
    // An inactive user is never an admin, whatever its home or this cluster's record says.
    const isAdmin = isActive && (authoritative ? remote.isAdmin : (existing?.isAdmin ?? false));
    // One statement, so concurrent first requests of a new user cannot collide on its key.
    const [row] = await this.o.prisma.$queryRaw<UserRecord[]>`
      INSERT INTO users (uuid, email, full_name, is_active, is_admin, validated_at, created_at, modified_at)
      VALUES (${remote.uuid}, ${remote.email}, ${remote.fullName}, ${isActive}, ${isAdmin}, now(), now(), now())
      ON CONFLICT (uuid) DO UPDATE SET email = EXCLUDED.email, full_name = EXCLUDED.full_name, is_active = EXCLUDED.is_active,
        is_admin = EXCLUDED.is_admin, validated_at = EXCLUDED.validated_at, modified_at = EXCLUDED.modified_at
      RETURNING uuid, email, full_name AS "fullName", is_active AS "isActive", is_admin AS "isAdmin"`;
    if (!existing) log.info("remote user recorded", { userUuid: row.uuid, cluster: home, isActive });
    return row;
  }
}
