/**
 * Tokens issued by this cluster: creation (never broader than the creator), verification of a
 * presented secret (raw, or salted for a named remote cluster), revocation (cascading to the
 * tokens minted from it) and listing. Verified tokens are cached in memory for a short time;
 * revocation drops them at once.
 *
 * Revocation cannot be raced: `create` reads its parent token FOR SHARE in its transaction
 * and refuses a revoked one, `revoke` locks the token's row before collecting its children
 * (level by level, each statement seeing the children committed meanwhile), and a
 * verification that was under way when its token was revoked is neither cached nor trusted.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { PrismaClient, Prisma } from "@prisma/client";
import type { CreatedToken, CreateTokenInput, GroupLevel, Page, PageOptions, TokenRecord, UserRecord } from "../api/types";
import { badInput, forbidden, notFound, unauthenticated } from "../errors";
import { newUuid } from "../ids";
import { audit } from "../localdb/audit";
import { toPage } from "../localdb/sql";
import { broaderThan, clusterScopesFromJson, clusterScopesToJson, type TokenAuthority } from "./authority";
import type { Caller } from "./principal";
import { isAdmin } from "./principal";
import { saltSecret } from "./salt";
import { scopesFromJson, scopesToJson } from "./scopes";
import type { SecretBox } from "./secretBox";
import { NO_REPLICAS, type ClusterBus, type TokenCaches } from "../db/clusterBus";
import { TokenCache, presentedKey } from "./tokenCache";
import { formatToken, newSecret, type ParsedToken } from "./tokenString";

export type VerifiedToken = {
  token: TokenRecord & TokenAuthority;
  user: UserRecord;
  /** The secret was the HMAC for the forwarding cluster (identity look-ups only). */
  salted: boolean;
  /** For a token from another cluster: the role groups its user is in there, with its level. */
  homeGroups?: GroupLevel[];
};
/** `fresh`: the answer came from the database, not the in-memory cache. */
export type Verification = { ok: true; value: VerifiedToken; fresh: boolean } | { ok: false; reason: string };

const USER_SELECT = { uuid: true, email: true, fullName: true, isActive: true, isAdmin: true } as const;

type Tx = Prisma.TransactionClient;

/** Tells other clusters to drop what they cached about revoked tokens (src/federation/revocations.ts). */
export interface RevocationHints {
  /** In the revoking transaction: queues hints for every cluster that validated one of these tokens. */
  enqueue(tx: Tx, tokenUuids: string[]): Promise<void>;
  /** In a transaction that removes or lowers access from `subject` (a user, or a group: its members). */
  enqueueForMembers(tx: Tx, subject: string): Promise<void>;
  /** After commit: delivers the hints due now (those not delivered stay queued and are retried). */
  deliver(): Promise<void>;
}

const NO_HINTS: RevocationHints = { enqueue: async () => {}, enqueueForMembers: async () => {}, deliver: async () => {} };

/** Constant-time comparison of two secrets of any length. */
export function sameSecret(a: string, b: string): boolean {
  // Hash first so both sides have one length; timingSafeEqual then compares in constant time.
  const ha = createHash("sha256").update(a).digest();
  const hb = createHash("sha256").update(b).digest();
  return timingSafeEqual(ha, hb);
}

export class LocalTokens implements TokenCaches {
  private readonly cache = new TokenCache<VerifiedToken>(20_000);

  constructor(
    private readonly prisma: PrismaClient,
    private readonly clusterId: string,
    private readonly box: SecretBox,
    private readonly cacheSeconds: number,
    private readonly hints: RevocationHints = NO_HINTS,
    /** The other replicas of this cluster, which forget what is revoked here. */
    private readonly replicas: ClusterBus = NO_REPLICAS,
  ) {}

  forget(uuid: string): void {
    this.cache.forget(uuid);
  }

  forgetAll(): void {
    this.cache.forgetAll();
  }

  private toRecord(row: Prisma.ApiTokenGetPayload<object>): TokenRecord & TokenAuthority {
    return {
      uuid: row.uuid,
      userUuid: row.userUuid,
      homeCluster: this.clusterId,
      scopes: scopesFromJson(row.scopes),
      clusterScopes: clusterScopesFromJson(row.clusterScopes),
      expiresAt: row.expiresAt,
      revokedAt: row.revokedAt,
      createdAt: row.createdAt,
    };
  }

  /**
   * Checks a presented token issued here. `saltedFor` names the cluster a delegated request
   * says it comes from: the secret may then also be HMAC(secret, saltedFor).
   */
  async verify(parsed: ParsedToken, saltedFor?: string): Promise<Verification> {
    // Everything presented is in the key: a cached raw token must not vouch for its salted or container-bound forms.
    const key = presentedKey(parsed.uuid, parsed.secret, parsed.containerUuid ?? "", saltedFor ?? "");
    const cached = this.cache.get(key);
    if (cached && (!cached.token.expiresAt || cached.token.expiresAt > new Date())) return { ok: true, value: cached, fresh: false };

    const watch = this.cache.watch(parsed.uuid);
    try {
      const first = await this.check(parsed, saltedFor);
      // Revoked while we read: the answer may predate the revocation. Read again (that read
      // sees it, since the cache is cleared only after the revocation commits); cache neither.
      if (watch.stale) return await this.check(parsed, saltedFor);
      if (first.ok) this.cache.set(key, parsed.uuid, first.value, Math.min(this.cacheSeconds * 1000, this.replicas.cacheCapMs()));
      return first;
    } finally {
      watch.close();
    }
  }

  /** The database's answer about a presented token. */
  private async check(parsed: ParsedToken, saltedFor: string | undefined): Promise<Verification> {
    const row = await this.prisma.apiToken.findUnique({ where: { uuid: parsed.uuid } });
    const secret = row ? this.box.open(row.secretSealed, row.uuid) : undefined;
    if (!row || secret === undefined) return { ok: false, reason: "invalid token" };
    const raw = sameSecret(parsed.secret, secret);
    const salted = !raw && saltedFor !== undefined && sameSecret(parsed.secret, saltSecret(secret, saltedFor));
    if (!raw && !salted) return { ok: false, reason: "invalid token" };
    if (row.revokedAt) return { ok: false, reason: "token has been revoked" };
    if (row.expiresAt && row.expiresAt <= new Date()) return { ok: false, reason: "token has expired" };
    if (parsed.containerUuid || row.containerUuid)
      return { ok: false, reason: "container tokens are accepted only while their container is running" };
    const user = await this.prisma.user.findUnique({ where: { uuid: row.userUuid }, select: USER_SELECT });
    if (!user) return { ok: false, reason: "token's user no longer exists" };
    return { ok: true, value: { token: this.toRecord(row), user, salted }, fresh: true };
  }

  async create(c: Caller, input: CreateTokenInput): Promise<CreatedToken> {
    const p = c.principal;
    const userUuid = input.userUuid ?? p.user.uuid;
    if (userUuid !== p.user.uuid && !isAdmin(p)) throw forbidden("only an admin can create tokens for another user");
    if (input.expiresAt && input.expiresAt <= new Date()) throw badInput("expiresAt must be in the future");
    const child: TokenAuthority = {
      homeCluster: this.clusterId,
      scopes: input.scopes,
      clusterScopes: input.clusterScopes,
      expiresAt: input.expiresAt,
    };
    // A token from another cluster could not revoke what it minted here (revocation cascades
    // on the home cluster only), so new tokens come from the creator's home cluster.
    if (p.token && p.token.homeCluster !== this.clusterId)
      throw forbidden(`tokens are created on the token's home cluster (${p.token.homeCluster}), not on ${this.clusterId}`);
    const tooBroad = p.token && broaderThan(p.token, child);
    if (tooBroad) throw forbidden(`a token cannot create a broader token: ${tooBroad}`);

    const uuid = newUuid(this.clusterId, "token");
    const secret = newSecret();
    await this.prisma.$transaction(async (tx) => {
      if (p.token) await lockLiveParent(tx, p.token.uuid);
      if (!(await tx.user.findUnique({ where: { uuid: userUuid }, select: { uuid: true } }))) throw notFound("user", userUuid);
      await tx.apiToken.create({
        data: {
          uuid,
          userUuid,
          secretSealed: this.box.seal(secret, uuid),
          scopes: scopesToJson(input.scopes) ?? undefined,
          clusterScopes: clusterScopesToJson(input.clusterScopes) ?? undefined,
          expiresAt: input.expiresAt,
          parentUuid: p.token?.uuid ?? null,
        },
      });
      await audit(tx, this.clusterId, { type: "create", objectUuid: uuid, actorUuid: p.user.uuid, properties: { userUuid } });
    });
    return { uuid, token: formatToken({ uuid, secret }), expiresAt: input.expiresAt };
  }

  /** Revokes a token and every token minted from it. Owners and admins only; others get NOT_FOUND. */
  async revoke(c: Caller, uuid: string): Promise<TokenRecord> {
    const row = await this.prisma.apiToken.findUnique({ where: { uuid } });
    if (!row || (row.userUuid !== c.principal.user.uuid && !isAdmin(c.principal))) throw notFound("token", uuid);
    const revoked = await this.prisma.$transaction(async (tx) => {
      const uuids = await revokeTree(tx, uuid, new Date());
      await this.hints.enqueue(tx, uuids);
      await this.replicas.forgetEverywhere(tx, uuids);
      await audit(tx, this.clusterId, { type: "revoke", objectUuid: uuid, actorUuid: c.principal.user.uuid, properties: { cascade: uuids.length - 1 } });
      return uuids;
    });
    for (const u of revoked) this.cache.forget(u);
    await this.hints.deliver();
    return this.toRecord((await this.prisma.apiToken.findUnique({ where: { uuid } }))!);
  }

  /**
   * In a transaction that removes or lowers a permission from `subject`: the clusters that
   * cached what groups its users are in (with their tokens' validations) will ask again.
   * Call `deliverHints` once it has committed.
   */
  membershipsShrinking(tx: Tx, subject: string): Promise<void> {
    return this.hints.enqueueForMembers(tx, subject);
  }

  deliverHints(): Promise<void> {
    return this.hints.deliver();
  }

  async list(c: Caller, o: PageOptions & { userUuid?: string }): Promise<Page<TokenRecord>> {
    const userUuid = o.userUuid ?? c.principal.user.uuid;
    if (userUuid !== c.principal.user.uuid && !isAdmin(c.principal)) throw forbidden("only an admin can list another user's tokens");
    const rows = await this.prisma.apiToken.findMany({
      where: { userUuid, ...(o.after ? { uuid: { gt: o.after } } : {}) },
      orderBy: { uuid: "asc" },
      take: o.first + 1,
    });
    return toPage(rows.map((r) => this.toRecord(r)), o.first);
  }
}

/**
 * Locks the creating token's row FOR SHARE until the new token commits, refusing a revoked or
 * expired one: a revocation either comes first (and is seen here) or waits for the new token
 * and then finds it among the children.
 */
async function lockLiveParent(tx: Tx, uuid: string): Promise<void> {
  const [parent] = await tx.$queryRaw<{ revoked_at: Date | null; expires_at: Date | null }[]>`
    SELECT revoked_at, expires_at FROM api_tokens WHERE uuid = ${uuid} FOR SHARE`;
  if (!parent || parent.revoked_at) throw unauthenticated("token has been revoked");
  if (parent.expires_at && parent.expires_at <= new Date()) throw unauthenticated("token has expired");
}

/**
 * Revokes token `root` and everything minted from it; returns their uuids. The root's row is
 * locked first, then each level of children: a create holding a parent FOR SHARE has
 * committed by the time that parent is locked, and each statement (READ COMMITTED) sees the
 * rows committed before it began, so no child is missed, however many are being minted.
 */
async function revokeTree(tx: Tx, root: string, at: Date): Promise<string[]> {
  await tx.$executeRaw`UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ${at}) WHERE uuid = ${root}`;
  const all = [root];
  let level = [root];
  while (level.length) {
    const rows = await tx.$queryRaw<{ uuid: string }[]>`
      UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ${at}) WHERE parent_uuid = ANY(${level}::text[]) RETURNING uuid`;
    level = rows.map((r) => r.uuid);
    all.push(...level);
  }
  return all;
}
