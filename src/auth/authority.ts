/**
 * What a token may do on a given cluster, from its own scopes and its per-cluster scopes, and
 * whether one token's authority covers another's (a token never creates a broader one).
 */
import { intersectionCovers, scopesFromJson, scopesToJson, type ScopeSet } from "./scopes";

export type ClusterScopes = Record<string, ScopeSet>;

export interface TokenAuthority {
  /** The cluster that issued the token. */
  homeCluster: string;
  scopes: ScopeSet;
  /** null: valid on every cluster with its own scopes. */
  clusterScopes: ClusterScopes | null;
  expiresAt: Date | null;
  /** The container the token is bound to (a container's token), if any. */
  containerUuid?: string | null;
}

/**
 * The scope sets in force for this token on `clusterId` (all of them must allow a request), or
 * undefined when the token is not valid there at all.
 * - the home cluster applies the token's own scopes;
 * - with cluster scopes, a listed cluster applies its entry intersected with the token's own,
 *   and an unlisted cluster refuses the token;
 * - a container's token (bound to one) acts for its container, wherever that runs, not as its
 *   home's own token: with cluster scopes its home too applies its entry (or refuses it). A
 *   child minted by a runtime token's home for a container elsewhere thus reads only its
 *   inputs there.
 */
export function scopesOn(t: TokenAuthority, clusterId: string): ScopeSet[] | undefined {
  if ((clusterId === t.homeCluster && !t.containerUuid) || t.clusterScopes === null) return [t.scopes];
  const entry = t.clusterScopes[clusterId];
  return entry === undefined ? undefined : [t.scopes, entry];
}

/** Why `child` would be broader than `parent`, or undefined when it is not. */
export function broaderThan(parent: TokenAuthority, child: TokenAuthority): string | undefined {
  if (parent.expiresAt && (!child.expiresAt || child.expiresAt > parent.expiresAt))
    return `expiresAt must be no later than the creating token's expiry (${parent.expiresAt.toISOString()})`;
  // Every cluster where either token could act: both homes, every listed cluster, and "any other".
  const named = new Set([parent.homeCluster, child.homeCluster, ...Object.keys(parent.clusterScopes ?? {}), ...Object.keys(child.clusterScopes ?? {})]);
  const ANY_OTHER = "\u0000other";
  for (const cluster of [...named, ANY_OTHER]) {
    const c = scopesOn(child, cluster);
    if (c === undefined) continue;
    const p = scopesOn(parent, cluster);
    const where = cluster === ANY_OTHER ? "clusters not named in the creating token's clusterScopes" : `cluster ${cluster}`;
    if (p === undefined) return `the new token would be valid on ${where}, where the creating token is not`;
    if (!intersectionCovers(p, c)) return `the new token's scopes on ${where} are broader than the creating token's`;
  }
  return undefined;
}

export function clusterScopesFromJson(value: unknown): ClusterScopes | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== "object" || Array.isArray(value)) throw new Error("clusterScopes must be an object");
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scopesFromJson(v)]));
}

export function clusterScopesToJson(cs: ClusterScopes | null): Record<string, [string, string][] | null> | null {
  if (cs === null) return null;
  return Object.fromEntries(Object.entries(cs).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, scopesToJson(v)]));
}
