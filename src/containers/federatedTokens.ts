/**
 * A container's token when its runtime token is homed on another cluster (DESIGN "Containers
 * and runtime tokens"). The runtime token reached the cluster running the container salted
 * for it, so only its home can mint from it: the running cluster asks the home, with that
 * salted token, for a child bound to the container, and asks it to revoke the child when the
 * container ends (the home's revocation push then drops it everywhere).
 *
 * The home accepts these two calls from a salted token and for nothing else: the child is
 * bound to a container of the cluster the token is salted for (a peer holds only tokens salted
 * for itself, so it cannot mint for another cluster's containers), is no broader than the
 * runtime token, gives every cluster but the asking one at most reads, and expires with the
 * runtime token or after the home's containers.runtimeTokenTTL. Both are counted like the
 * other salted look-ups and audited.
 *
 * A request delegated without a runtime token gets one minted by the delegating cluster
 * (`runtimeTokenFor`), marked as minted for the cluster it runs on; that cluster asks for its
 * revocation, with it, once the request is final and nothing there holds it (`releaseAtHome`),
 * so it dies with the work it was made for instead of at its TTL.
 */
import type { ClusterApi } from "../api/clusterApi";
import type { ContainerAuthRecord, ContainerTokenMintInput, CreateContainerRequestInput, TokenRecord } from "../api/types";
import { broaderThan, type TokenAuthority } from "../auth/authority";
import type { Caller, Principal } from "../auth/principal";
import { parseToken } from "../auth/tokenString";
import { codeOf, forbidden, notFound, unavailable } from "../errors";
import { clusterOf, kindOf } from "../ids";
import { audit } from "../localdb/audit";
import type { LocalContext } from "../localdb/context";
import { log } from "../log";
import { defaultClusterScopes, narrowClusterScopes, readsOnlyElsewhere, withinToken } from "./clusterScopes";

/** The runtime token's record and the cluster asking, when the caller may use these calls. */
function saltedRuntimeToken(p: Principal, containerUuid: string): { parent: NonNullable<Principal["token"]>; asking: string } {
  const asking = p.saltedFor;
  if (!asking || !p.token) throw forbidden("container tokens are minted here only for the cluster a runtime token is salted for, with that salted token");
  if (kindOf(containerUuid) !== "container" || clusterOf(containerUuid) !== asking)
    throw forbidden(`a token salted for cluster ${asking} mints only for containers of ${asking}, not for "${containerUuid}"`);
  if (p.token.containerUuid) throw forbidden("a container's token is not a runtime token");
  if (!p.user.isActive) throw forbidden(`user "${p.user.uuid}" is not active on this cluster`);
  return { parent: p.token, asking };
}

function earliest(...dates: (Date | null)[]): Date {
  return dates.filter((d): d is Date => d !== null).reduce((a, b) => (b < a ? b : a));
}

/** Home side: a child of the caller's (salted) runtime token for a container of the cluster asking. */
export async function mintForCluster(ctx: LocalContext, c: Caller, input: ContainerTokenMintInput): Promise<ContainerAuthRecord> {
  const { parent, asking } = saltedRuntimeToken(c.principal, input.containerUuid);
  const deps = ctx.containers;
  deps.countSaltedUse(asking, parent.uuid);
  if (!(asking in input.clusterScopes)) throw forbidden(`clusterScopes must name cluster ${asking}, where the container runs`);
  if (!readsOnlyElsewhere(input.clusterScopes, asking)) throw forbidden(`clusterScopes may give clusters other than ${asking} reads (GET) only`);
  const bound = earliest(parent.expiresAt, new Date(Date.now() + deps.runtimeTokenTTLSeconds * 1000));
  const child: TokenAuthority = {
    homeCluster: ctx.clusterId,
    scopes: parent.scopes,
    clusterScopes: input.clusterScopes,
    expiresAt: input.expiresAt && input.expiresAt < bound ? input.expiresAt : bound,
    containerUuid: input.containerUuid,
  };
  const tooBroad = broaderThan(parent, child);
  if (tooBroad) throw forbidden(`a runtime token cannot mint a broader container token: ${tooBroad}`);
  const minted = await ctx.prisma.$transaction(async (tx) => {
    const t = await deps.tokens.mintBound(
      tx,
      { userUuid: parent.userUuid, scopes: child.scopes, clusterScopes: child.clusterScopes, expiresAt: child.expiresAt, parentUuid: parent.uuid, containerUuid: input.containerUuid },
      c.principal.user.uuid,
    );
    await audit(tx, ctx.clusterId, {
      type: "container_token_mint", objectUuid: t.uuid, actorUuid: c.principal.user.uuid,
      properties: { cluster: asking, containerUuid: input.containerUuid, parentUuid: parent.uuid },
    });
    return t;
  });
  log.info("container token minted for another cluster", { cluster: asking, containerUuid: input.containerUuid, tokenUuid: minted.uuid, parentUuid: parent.uuid });
  return { uuid: minted.uuid, token: minted.token, expiresAt: minted.expiresAt, scopes: child.scopes, clusterScopes: child.clusterScopes };
}

/**
 * Home side, for the cluster asking with the caller's (salted) token: revokes a token
 * `mintForCluster` made of it for a container of that cluster, or the caller's token itself
 * when `runtimeTokenFor` minted it for a request delegated to that cluster (the request is
 * final there); with what was minted from it, hinted everywhere. Any other token, a runtime
 * token a user gave among them (Arvados never revokes those), is NOT_FOUND, as a stranger's
 * token is to `revokeToken`.
 */
export async function revokeForCluster(ctx: LocalContext, c: Caller, tokenUuid: string): Promise<TokenRecord> {
  const p = c.principal;
  const row = await ctx.prisma.apiToken.findUnique({ where: { uuid: tokenUuid }, select: { parentUuid: true, containerUuid: true, mintedForCluster: true } });
  const own = !!row && tokenUuid === p.token?.uuid && p.saltedFor !== undefined && row.mintedForCluster === p.saltedFor;
  const child = !!row?.containerUuid && !!p.token && row.parentUuid === p.token.uuid;
  if (!own && !child) throw notFound("container token", tokenUuid);
  const asking = own ? p.saltedFor! : saltedRuntimeToken(p, row!.containerUuid!).asking;
  ctx.containers.countSaltedUse(asking, p.token!.uuid);
  return ctx.tokens.revoke(c, tokenUuid);
}

/** What the running cluster needs to ask a runtime token's home. */
export interface AskHomeDeps {
  /** The federation acting with `token` (a runtime token salted for this cluster), validated at its home. */
  actingWith(token: string): Promise<{ caller: Caller; api: ClusterApi }>;
}

/** Why a runtime token cannot give a container a token (its home refused it), or an error (its home could not be asked). */
export type AskResult<T> = { ok: true; value: T } | { ok: false; reason: string };

function refusal(e: unknown, home: string): AskResult<never> {
  const code = codeOf(e);
  if (code === "UNAUTHENTICATED" || code === "FORBIDDEN") return { ok: false, reason: `its runtime token's home cluster ${home} refused: ${(e as Error).message}` };
  throw e;
}

/**
 * Running side: asks the runtime token's home for the container's token. A home that cannot
 * be reached fails the lock (UNAVAILABLE, nothing written, the container stays Queued); a
 * refusal (revoked, expired, too broad) is the container's end. The answer must be a token of
 * that home bound to this very container.
 */
export async function childFromHome(
  deps: AskHomeDeps,
  runtimeToken: string,
  ask: (runtime: NonNullable<Principal["token"]>) => ContainerTokenMintInput,
): Promise<AskResult<ContainerAuthRecord>> {
  const home = clusterOf(parseToken(runtimeToken)!.uuid);
  let auth: ContainerAuthRecord;
  let input: ContainerTokenMintInput;
  try {
    const acting = await deps.actingWith(runtimeToken);
    input = ask(acting.caller.principal.token!);
    auth = await acting.api.containerTokenMint(acting.caller, input);
  } catch (e) {
    return refusal(e, home);
  }
  const parsed = parseToken(auth.token);
  if (!parsed || parsed.uuid !== auth.uuid || clusterOf(parsed.uuid) !== home || parsed.containerUuid !== input.containerUuid)
    throw unavailable(`cluster ${home} answered a container token that is not its own or not bound to ${input.containerUuid}`, home);
  return { ok: true, value: auth };
}

/** How long a container's or request's end waits for a token's home to confirm its revocation (in its transaction). */
const REVOKE_WAIT_MS = 1500;

/**
 * Running side, when the container ends: asks the home to revoke the child. Best effort: the
 * container's end waits at most REVOKE_WAIT_MS for another cluster and never fails with it
 * (the call goes on in the background); the child is refused here at once anyway (its
 * container is no longer active) and expires at its home's bound. The child is named by its
 * uuid, so a late answer cannot revoke the token of a later lock. `expected`: refusals that
 * are no failure (a runtime token revoked meanwhile took its children with it).
 */
export async function revokeAtHome(deps: AskHomeDeps, runtimeToken: string, tokenUuid: string, expected: readonly string[] = ["UNAUTHENTICATED"]): Promise<void> {
  const home = clusterOf(tokenUuid);
  const revoke = (async () => {
    const acting = await deps.actingWith(runtimeToken);
    await acting.api.containerTokenRevoke(acting.caller, tokenUuid);
  })().catch((e: unknown) => {
    if (!expected.includes(codeOf(e) ?? "")) log.warn("container token not revoked at its home cluster", { cluster: home, tokenUuid, error: (e as Error).message });
  });
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([revoke, new Promise<void>((resolve) => (timer = setTimeout(resolve, REVOKE_WAIT_MS)))]);
  clearTimeout(timer);
}

/**
 * Running side, once nothing here holds a runtime token homed elsewhere any more (its request
 * is final, its containers ended): asks the home to revoke it, as `revokeAtHome` does a
 * child. The home does so only for a token it minted for a request delegated here
 * (`runtimeTokenFor`); one a user gave is NOT_FOUND there and lives on, as in Arvados.
 */
export function releaseAtHome(deps: AskHomeDeps, runtimeToken: string): Promise<void> {
  return revokeAtHome(deps, runtimeToken, parseToken(runtimeToken)!.uuid, ["UNAUTHENTICATED", "NOT_FOUND"]);
}

/**
 * For a request delegated to `runsOn` without a runtime token (DESIGN: A mints one from the
 * caller's token). Arvados would hand B the caller's own token; here `runsOn` gets a new
 * token, a child of the caller's (so revoking that revokes it), with the container's default
 * cluster scopes (its own container named by prefix: it does not exist yet), narrowed by the
 * request's runtimeClusterScopes, expiring after containers.runtimeTokenTTL (or with the
 * caller's token), or sooner: it is marked as minted for `runsOn`, which asks for its
 * revocation once the request is final there (`releaseAtHome`). The caller's token must be unscoped, as Arvados requires of a token that
 * becomes a container's, and issued here: only its home mints from it. The router passes on
 * the salted form only, so the raw secret never leaves this cluster.
 */
export async function runtimeTokenFor(ctx: LocalContext, c: Caller, input: CreateContainerRequestInput, runsOn: string): Promise<string> {
  const t = c.principal.token;
  if (!t || t.homeCluster !== ctx.clusterId || t.containerUuid)
    throw forbidden(`a request run on ${runsOn} without a runtimeToken gets one minted from the caller's token at its home cluster: submit it there, or pass a runtimeToken`);
  if (t.scopes !== null) throw forbidden("a request run on another cluster without a runtimeToken needs an unscoped token (scopes [\"all\"]) to mint one from");
  const secretUuids = (input.secretMounts ?? []).map((m) => m.secretUuid);
  const scopes = narrowClusterScopes(defaultClusterScopes({ runsOn, mounts: input.mounts ?? {}, secretUuids }), input.runtimeClusterScopes ?? null);
  const ttlEnd = new Date(Date.now() + ctx.containers.runtimeTokenTTLSeconds * 1000);
  const created = await ctx.tokens.create(c, { scopes: null, clusterScopes: withinToken(scopes, t), expiresAt: earliest(t.expiresAt, ttlEnd) });
  // Marked after it is made: should this fail, the token was never handed out (the delegation fails with it).
  await ctx.prisma.apiToken.update({ where: { uuid: created.uuid }, data: { mintedForCluster: runsOn } });
  log.info("runtime token minted for a request run on another cluster", { cluster: runsOn, tokenUuid: created.uuid, parentUuid: t.uuid });
  return created.token;
}
