/**
 * The cluster scopes of a container's token (DESIGN "Default cluster scopes"): where it runs,
 * what a container needs there; on every other cluster, reads of exactly the inputs (and
 * secrets) its mounts name homed there; no entry, so a refusal, anywhere else. A request's
 * `runtimeClusterScopes` and the runtime token's own authority only ever narrow these.
 */
import { scopesOn, type ClusterScopes, type TokenAuthority } from "../auth/authority";
import { intersectScopeSets, normaliseScope, type Scope, type ScopeSet } from "../auth/scopes";
import { clusterOf, kindOf } from "../ids";

const V1 = "/arvados/v1";

/** What the scopes are computed from. */
export interface ContainerScopeSpec {
  /** The cluster the container runs on. */
  runsOn: string;
  /**
   * The container, when it exists. A runtime token minted for a request before its container
   * exists (createContainerRequest on another cluster) names containers by prefix instead, so
   * that it covers the container token minted from it later.
   */
  containerUuid?: string;
  /** The container's mounts, in Arvados' format (path → { kind, uuid, … }). */
  mounts: Record<string, unknown>;
  /** The secrets its secret mounts name (read at their home, like inputs). */
  secretUuids?: readonly string[];
}

/**
 * The collection uuids the mounts read: mounts of kind "collection" naming a uuid (one given
 * only by portable data hash names no object a scope could name). Sorted, unique.
 */
export function inputCollections(mounts: Record<string, unknown>): string[] {
  const uuids = new Set<string>();
  for (const m of Object.values(mounts)) {
    if (!m || typeof m !== "object") continue;
    const { kind, uuid } = m as { kind?: unknown; uuid?: unknown };
    if (kind === "collection" && typeof uuid === "string" && kindOf(uuid) === "collection") uuids.add(uuid);
  }
  return [...uuids].sort();
}

const scope = (method: string, path: string): Scope => normaliseScope(method, path);

/** Reading these objects: each collection by uuid, each secret's record and value. */
function reads(collections: string[], secrets: string[]): Scope[] {
  return [
    ...collections.map((u) => scope("GET", `${V1}/collections/${u}`)),
    ...secrets.flatMap((u) => [scope("GET", `${V1}/secrets/${u}`), scope("GET", `${V1}/secrets/${u}/value`)]),
  ];
}

/** A container's own record: by uuid, or every container (by prefix) when it does not exist yet. */
const ownContainerPath = (containerUuid: string | undefined) => (containerUuid ? `${V1}/containers/${containerUuid}` : `${V1}/containers/`);

/** What a container needs on the cluster it runs on, besides reading its inputs there. */
function runningScopes(containerUuid: string | undefined): Scope[] {
  const own = ownContainerPath(containerUuid);
  return [
    scope("GET", own),
    scope("PATCH", own),
    scope("GET", `${V1}/containers/current`),
    scope("GET", `${V1}/containers/current/secret_mounts`),
    scope("GET", `${V1}/api_client_authorizations/current`),
    // Logs and output: created, then updated as they grow.
    scope("POST", `${V1}/collections`),
    scope("PATCH", `${V1}/collections/`),
    // A workflow runner submits child requests (they record requestingContainerUuid) and follows them.
    scope("POST", `${V1}/container_requests`),
    scope("GET", `${V1}/container_requests/`),
  ];
}

/**
 * The default cluster scopes: an entry where it runs, one per other cluster homing an input or
 * secret. Where it runs it may read all its inputs and secrets, wherever they live: that
 * cluster checks the scopes of a request before routing it to the object's home, which then
 * applies its own entry (those of its objects only).
 */
export function defaultClusterScopes(spec: ContainerScopeSpec): ClusterScopes {
  const collections = inputCollections(spec.mounts);
  const secrets = [...new Set(spec.secretUuids ?? [])].filter((u) => kindOf(u) === "secret").sort();
  const out: ClusterScopes = { [spec.runsOn]: [...runningScopes(spec.containerUuid), ...reads(collections, secrets)] };
  for (const cluster of new Set([...collections, ...secrets].map(clusterOf))) {
    if (cluster !== spec.runsOn) out[cluster] = reads(collections.filter((u) => clusterOf(u) === cluster), secrets.filter((u) => clusterOf(u) === cluster));
  }
  return out;
}

/** Narrows each entry `by` names (intersection, never widening); the others keep theirs. */
export function narrowClusterScopes(scopes: ClusterScopes, by: ClusterScopes | null): ClusterScopes {
  if (by === null) return scopes;
  return Object.fromEntries(Object.entries(scopes).map(([cluster, s]) => [cluster, cluster in by ? intersectScopeSets(s, by[cluster]) : s]));
}

/**
 * Each entry within what `parent` may do on that cluster (its scopes there, all of them); an
 * entry for a cluster where `parent` is not valid is dropped. A child with these cluster
 * scopes and the parent's own scopes is never broader than the parent.
 */
export function withinToken(scopes: ClusterScopes, parent: TokenAuthority): ClusterScopes {
  const out: ClusterScopes = {};
  for (const [cluster, s] of Object.entries(scopes)) {
    const inForce = scopesOn(parent, cluster);
    if (inForce) out[cluster] = inForce.reduce<ScopeSet>((acc, p) => intersectScopeSets(acc, p), s);
  }
  return out;
}

/** The scopes on every cluster other than `runsOn` are reads only (what a home accepts to mint). */
export function readsOnlyElsewhere(scopes: ClusterScopes, runsOn: string): boolean {
  return Object.entries(scopes).every(([cluster, s]) => cluster === runsOn || (s !== null && s.every((x) => x.method === "GET" || x.method === "HEAD")));
}

/**
 * A container's token `parent` as the authority of a child container (one its container
 * requested): its cluster scopes on its own container record apply to the child's own record
 * instead (by prefix when `childUuid` is not known yet), since the parent's name a container
 * the child is not; everything else is unchanged. Without this, `withinToken` would leave the
 * child unable to read or update its own container; nothing but that record is granted.
 */
export function asChildAuthority(parent: TokenAuthority & { containerUuid: string }, childUuid: string | undefined): TokenAuthority {
  if (parent.clusterScopes === null) return parent;
  const own = ownContainerPath(parent.containerUuid);
  const moved = (s: ScopeSet): ScopeSet => s && s.map((x) => (x.path === own ? scope(x.method, ownContainerPath(childUuid)) : x));
  return { ...parent, clusterScopes: Object.fromEntries(Object.entries(parent.clusterScopes).map(([cluster, s]) => [cluster, moved(s)])) };
}

/**
 * The narrowing a container's token `parent` imposes on a child request's container token
 * (stored as the request's runtimeClusterScopes, so it is part of the reuse key): the child's
 * default cluster scopes (`spec` without a container uuid), narrowed by the request's own
 * `given`, within `parent` on each cluster (`asChildAuthority`); an empty entry for a cluster
 * where the parent is not valid, so the narrowing names every cluster the defaults do and two
 * requests share a key only when their containers' tokens could do the same.
 */
export function narrowingByContainerToken(spec: Omit<ContainerScopeSpec, "containerUuid">, given: ClusterScopes | null, parent: TokenAuthority & { containerUuid: string }): ClusterScopes {
  const wanted = narrowClusterScopes(defaultClusterScopes(spec), given);
  const within = withinToken(wanted, asChildAuthority(parent, undefined));
  return Object.fromEntries(Object.keys(wanted).map((cluster) => [cluster, within[cluster] ?? []]));
}
