/**
 * Token scopes with Arvados semantics (doc/admin/scoped-tokens): a scope set is "all" or a list
 * of (method, path) pairs; a request is allowed when one pair allows it.
 *  - a GET scope also allows HEAD;
 *  - a path without a trailing slash matches exactly that path;
 *  - a path with a trailing slash matches everything strictly underneath it;
 *  - GET /arvados/v1/api_client_authorizations/current is always allowed.
 * Request paths are built by fedgate itself from SDL templates with every substituted value
 * percent-encoded (see `expandRestPath`), so a value can never add a segment, `..` or `//`.
 */

export interface Scope {
  method: string;
  path: string;
}
/** null means ["all"]. */
export type ScopeSet = Scope[] | null;

export const ALWAYS_ALLOWED_PATH = "/arvados/v1/api_client_authorizations/current";
const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]);
const SEGMENT_RE = /^[A-Za-z0-9_.~+:@-]+$/;

export class ScopeFormatError extends Error {}

/** Checks and normalises one scope given by a client. Methods are upper-cased; paths must be canonical. */
export function normaliseScope(method: string, path: string): Scope {
  const m = method.trim().toUpperCase();
  if (!METHODS.has(m)) throw new ScopeFormatError(`unknown method "${method}" in scope`);
  if (!path.startsWith("/")) throw new ScopeFormatError(`scope path "${path}" must start with "/"`);
  const segments = path.slice(1).split("/");
  const body = path.endsWith("/") ? segments.slice(0, -1) : segments;
  for (const s of body) {
    if (s === "" || s === "." || s === ".." || !SEGMENT_RE.test(s))
      throw new ScopeFormatError(`scope path "${path}" is not canonical (empty, ".", ".." or unusual characters in a segment)`);
  }
  return { method: m, path };
}

/**
 * Reads scopes as stored or sent in JSON: null/undefined → all; "all" anywhere → all;
 * each entry a [method, path] pair or a "METHOD /path" string.
 */
export function scopesFromJson(value: unknown): ScopeSet {
  if (value === null || value === undefined) return null;
  if (!Array.isArray(value)) throw new ScopeFormatError("scopes must be a list");
  const out: Scope[] = [];
  for (const entry of value) {
    if (entry === "all") return null;
    if (typeof entry === "string") {
      const i = entry.indexOf(" ");
      if (i < 0) throw new ScopeFormatError(`scope "${entry}" must be "METHOD /path"`);
      out.push(normaliseScope(entry.slice(0, i), entry.slice(i + 1).trim()));
    } else if (Array.isArray(entry) && entry.length === 2 && entry.every((x) => typeof x === "string")) {
      out.push(normaliseScope(entry[0], entry[1]));
    } else if (entry && typeof entry === "object" && "method" in entry && "path" in entry) {
      out.push(normaliseScope(String(entry.method), String(entry.path)));
    } else {
      throw new ScopeFormatError("each scope must be [method, path] or \"METHOD /path\"");
    }
  }
  return out;
}

/** Storage form: null for all, otherwise sorted unique [method, path] pairs. */
export function scopesToJson(scopes: ScopeSet): [string, string][] | null {
  if (scopes === null) return null;
  const seen = new Map(scopes.map((s) => [`${s.method} ${s.path}`, [s.method, s.path] as [string, string]]));
  return [...seen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
}

function methodAllows(scopeMethod: string, method: string): boolean {
  return scopeMethod === method || (method === "HEAD" && scopeMethod === "GET");
}

function pathAllows(scopePath: string, path: string): boolean {
  if (scopePath.endsWith("/")) return path.length > scopePath.length && path.startsWith(scopePath);
  return path === scopePath;
}

/** Drops a trailing slash, as Arvados does before matching. */
function requestPath(path: string): string {
  return path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
}

export function scopeSetAllows(scopes: ScopeSet, method: string, rawPath: string): boolean {
  if (scopes === null) return true;
  const path = requestPath(rawPath);
  if ((method === "GET" || method === "HEAD") && path === ALWAYS_ALLOWED_PATH) return true;
  return scopes.some((s) => methodAllows(s.method, method) && pathAllows(s.path, path));
}

/** Several scope sets in force at once (a token's own and its cluster's entry): all must allow. */
export function allAllow(sets: readonly ScopeSet[], method: string, path: string): boolean {
  return sets.every((s) => scopeSetAllows(s, method, path));
}

/** True when everything `inner` allows, `outer` allows too. */
export function scopeSetCovers(outer: ScopeSet, inner: ScopeSet): boolean {
  if (outer === null) return true;
  if (inner === null) return false;
  return inner.every((s) =>
    s.path.endsWith("/")
      ? outer.some((o) => methodAllows(o.method, s.method) && o.path.endsWith("/") && s.path.startsWith(o.path))
      : scopeSetAllows(outer, s.method, s.path),
  );
}

/** The one scope allowing exactly what both allow, if any (a GET and a HEAD scope meet in HEAD). */
function intersectScope(a: Scope, b: Scope): Scope | undefined {
  const method = a.method === b.method ? a.method : methodAllows(a.method, b.method) ? b.method : methodAllows(b.method, a.method) ? a.method : undefined;
  if (method === undefined) return undefined;
  const [longer, shorter] = a.path.length >= b.path.length ? [a.path, b.path] : [b.path, a.path];
  // Equal paths, or the longer one under the shorter prefix (exact or prefix itself).
  const meet = longer === shorter || (shorter.endsWith("/") && pathAllows(shorter, longer));
  return meet ? { method, path: longer } : undefined;
}

/**
 * A scope set allowing exactly what both allow (always-allowed look-up aside), so that it is
 * covered by each: what narrowing a token by another's scopes (never widening) produces.
 */
export function intersectScopeSets(a: ScopeSet, b: ScopeSet): ScopeSet {
  if (a === null) return b;
  if (b === null) return a;
  const out: Scope[] = [];
  for (const x of a) for (const y of b) {
    const s = intersectScope(x, y);
    if (s) out.push(s);
  }
  return scopesFromJson(scopesToJson(out));
}

/** An intersection of sets is covered when each outer set covers one of the inner sets. */
export function intersectionCovers(outer: readonly ScopeSet[], inner: readonly ScopeSet[]): boolean {
  return outer.every((o) => inner.some((i) => scopeSetCovers(o, i)));
}

/**
 * Expands a REST path template such as `/arvados/v1/collections/{uuid}`: each `{name}` takes
 * the value of that argument (or of the parent object's field) percent-encoded, dots included,
 * so that no value can change the path's shape.
 */
export function expandRestPath(template: string, lookup: (name: string) => unknown): string {
  return template.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
    const v = lookup(name);
    // An empty value must not vanish (it would turn ".../{uuid}" into the list path): "%00"
    // stays one segment, and no scope path can contain "%", so only prefix scopes reach it.
    const text = v === undefined || v === null ? "" : String(v);
    // A lone surrogate cannot be percent-encoded (encodeURIComponent throws): it becomes U+FFFD.
    const wellFormed = (text as string & { toWellFormed(): string }).toWellFormed();
    return text === "" ? "%00" : encodeURIComponent(wellFormed).replace(/\./g, "%2E");
  });
}
