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
import { INFIX, clusterOf, newUuid } from "../ids";
import { audit } from "../localdb/audit";
import { toPage } from "../localdb/sql";
import { broaderThan, clusterScopesFromJson, clusterScopesToJson, type ClusterScopes, type TokenAuthority } from "./authority";
import type { Caller } from "./principal";
import { isAdmin } from "./principal";
import { saltSecret } from "./salt";
import { scopesFromJson, scopesToJson, type ScopeSet } from "./scopes";
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

/** What a new token is: its owner, authority, parent and container binding. */
export interface NewToken {
  userUuid: string;
  scopes: ScopeSet;
  clusterScopes: ClusterScopes | null;
  expiresAt: Date | null;
  parentUuid: string | null;
  containerUuid: string | null;
}

/**
 * The record the system root token acts through (as Arvados): it holds no secret (the root
 * token is checked against the configuration), so a new systemRootToken replaces the old one
 * at once; dispatchers using the root token are told apart by this uuid.
 */
export function rootTokenUuid(clusterId: string): string {
  return `${clusterId}-${INFIX.token}-000000000000000`;
}

/** The root token's record as stored by `storeRootTokenRecord` (unscoped, never expiring). */
export function rootTokenRecord(clusterId: string): TokenRecord {
  return { uuid: rootTokenUuid(clusterId), userUuid: `${clusterId}-${INFIX.user}-000000000000000`, scopes: null, clusterScopes: null, expiresAt: null, revokedAt: null, createdAt: new Date(0) };
}

/**
 * The root record keeps a keyed digest of the root token (not the token: nothing presented as
 * v2/<its uuid>/… ever verifies, as no sealed secret opens), so that every replica can tell
 * whether its systemRootToken is still the current one.
 */
function rootFingerprint(box: SecretBox, systemRootToken: string): string {
  return `root:${box.digest(systemRootToken, "system root token")}`;
}

/**
 * At start: the root token's record, naming a configured systemRootToken as the current one
 * (a previous one stops working at once). A root token generated for one run (null here)
 * names nothing and is not checked against the record.
 */
export async function storeRootTokenRecord(prisma: Pick<PrismaClient, "apiToken">, clusterId: string, box: SecretBox, systemRootToken: string | null): Promise<void> {
  const r = rootTokenRecord(clusterId);
  const secretSealed = systemRootToken === null ? "" : rootFingerprint(box, systemRootToken);
  await prisma.apiToken.createMany({ data: [{ uuid: r.uuid, userUuid: r.userUuid, secretSealed, createdAt: r.createdAt }], skipDuplicates: true });
  if (systemRootToken !== null) await prisma.apiToken.updateMany({ where: { uuid: r.uuid, NOT: { secretSealed } }, data: { secretSealed } });
}

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

/**
 * A test of whether a presented secret is the configured `expected` one, asked of every request
 * (the system root token): constant time in the secret's content; only its length shows, as
 * with Arvados' subtle.ConstantTimeCompare. No hash per request.
 */
export function secretMatcher(expected: string): (presented: string) => boolean {
  const want = Buffer.from(expected);
  return (presented) => {
    const got = Buffer.from(presented);
    return got.length === want.length && timingSafeEqual(got, want);
  };
}

/** Constant-time comparison of two secrets of any length (hashed first, so not even the length shows). */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash("sha256").update(a).digest(), createHash("sha256").update(b).digest());
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

  /** Whether `systemRootToken` is still the one the root record names (another replica may have started with a new one). */
  async rootIsCurrent(systemRootToken: string): Promise<boolean> {
    const row = await this.prisma.apiToken.findUnique({ where: { uuid: rootTokenUuid(this.clusterId) }, select: { secretSealed: true } });
    return row?.secretSealed === rootFingerprint(this.box, systemRootToken);
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
      containerUuid: row.containerUuid,
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
    if (parsed.containerUuid && parsed.containerUuid !== row.containerUuid) return { ok: false, reason: "token is not bound to that container" };
    // A state change out of Locked/Running revokes the container's tokens in its transaction
    // (and drops them from the caches once committed): this read only refuses earlier. A
    // container of another cluster (a runtime token's child minted here for it) is not in our
    // database: that cluster revokes the child when the container ends, and refuses it itself.
    if (row.containerUuid && clusterOf(row.containerUuid) === this.clusterId && !(await this.containerActive(row.containerUuid, row.uuid)))
      return { ok: false, reason: "container tokens are accepted only while their container is Locked or Running, and only the token of its current lock" };
    const user = await this.prisma.user.findUnique({ where: { uuid: row.userUuid }, select: USER_SELECT });
    if (!user) return { ok: false, reason: "token's user no longer exists" };
    return { ok: true, value: { token: this.toRecord(row), user, salted }, fresh: true };
  }

  /**
   * Whether container `uuid` (of this cluster) is Locked or Running: only then do its tokens
   * work. With `tokenUuid`: also whether that token is the one its current lock minted.
   */
  async containerActive(uuid: string, tokenUuid?: string): Promise<boolean> {
    const container = await this.prisma.container.findUnique({ where: { uuid }, select: { state: true, authUuid: true } });
    if (tokenUuid !== undefined && container?.authUuid !== tokenUuid) return false;
    return container?.state === "Locked" || container?.state === "Running";
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
      if (!(await tx.user.findUnique({ where: { uuid: userUuid }, select: { uuid: true } }))) throw notFound("user", userUuid);
      await this.insert(tx, { ...input, uuid, secret, userUuid, parentUuid: p.token?.uuid ?? null, containerUuid: null }, p.user.uuid);
    });
    return { uuid, token: formatToken({ uuid, secret }), expiresAt: input.expiresAt };
  }

  /** Stores a new token (its parent, if any, locked live until commit) and audits it. */
  private async insert(tx: Tx, t: NewToken & { uuid: string; secret: string }, actorUuid: string): Promise<void> {
    if (t.parentUuid) await lockLiveParent(tx, t.parentUuid);
    await tx.apiToken.create({
      data: {
        uuid: t.uuid,
        userUuid: t.userUuid,
        secretSealed: this.box.seal(t.secret, t.uuid),
        scopes: scopesToJson(t.scopes) ?? undefined,
        clusterScopes: clusterScopesToJson(t.clusterScopes) ?? undefined,
        expiresAt: t.expiresAt,
        parentUuid: t.parentUuid,
        containerUuid: t.containerUuid,
      },
    });
    await audit(tx, this.clusterId, { type: "create", objectUuid: t.uuid, actorUuid, properties: { userUuid: t.userUuid, ...(t.containerUuid ? { containerUuid: t.containerUuid } : {}) } });
  }

  /**
   * In the caller's transaction: a new token bound to container `t.containerUuid` (its wire
   * form carries the container uuid as 4th field). The caller has checked it is no broader
   * than its parent; a revoked or expired parent is refused (UNAUTHENTICATED) as in `create`.
   */
  async mintBound(tx: Tx, t: NewToken & { containerUuid: string }, actorUuid: string): Promise<CreatedToken> {
    const uuid = newUuid(this.clusterId, "token");
    const secret = newSecret();
    await this.insert(tx, { ...t, uuid, secret }, actorUuid);
    return { uuid, token: formatToken({ uuid, secret, containerUuid: t.containerUuid }), expiresAt: t.expiresAt };
  }

  /**
   * In the transaction that moves container `containerUuid` out of Locked/Running: revokes
   * its tokens and everything minted from them (hints and replicas told on commit). Call
   * `forgetRevoked` with the answer once it has committed.
   */
  async revokeBound(tx: Tx, containerUuid: string): Promise<string[]> {
    const bound = await tx.$queryRaw<{ uuid: string }[]>`
      SELECT uuid FROM api_tokens WHERE container_uuid = ${containerUuid} AND revoked_at IS NULL ORDER BY uuid FOR UPDATE`;
    if (bound.length === 0) return [];
    const uuids = await revokeTree(tx, bound.map((b) => b.uuid), new Date());
    await this.hints.enqueue(tx, uuids);
    await this.replicas.forgetEverywhere(tx, uuids);
    return uuids;
  }

  /** After a revoking transaction committed: drops cached validations here and delivers hints. */
  async forgetRevoked(uuids: string[]): Promise<void> {
    if (uuids.length === 0) return;
    for (const u of uuids) this.cache.forget(u);
    await this.hints.deliver();
  }

  /** Revokes a token and every token minted from it. Owners and admins only; others get NOT_FOUND. */
  async revoke(c: Caller, uuid: string): Promise<TokenRecord> {
    const row = await this.prisma.apiToken.findUnique({ where: { uuid } });
    if (!row || (row.userUuid !== c.principal.user.uuid && !isAdmin(c.principal))) throw notFound("token", uuid);
    if (uuid === rootTokenUuid(this.clusterId)) throw forbidden("the system root token's record cannot be revoked: change systemRootToken instead");
    const revoked = await this.prisma.$transaction(async (tx) => {
      const uuids = await revokeTree(tx, [uuid], new Date());
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
 * Revokes tokens `roots` and everything minted from them; returns their uuids. The roots' rows are
 * locked first, then each level of children: a create holding a parent FOR SHARE has
 * committed by the time that parent is locked, and each statement (READ COMMITTED) sees the
 * rows committed before it began, so no child is missed, however many are being minted.
 */
async function revokeTree(tx: Tx, roots: string[], at: Date): Promise<string[]> {
  await tx.$executeRaw`UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ${at}) WHERE uuid = ANY(${roots}::text[])`;
  const all = [...roots];
  let level = roots;
  while (level.length) {
    const rows = await tx.$queryRaw<{ uuid: string }[]>`
      UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ${at}) WHERE parent_uuid = ANY(${level}::text[]) RETURNING uuid`;
    level = rows.map((r) => r.uuid);
    all.push(...level);
  }
  return all;
}
