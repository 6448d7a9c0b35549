/**
 * GraphQL arguments checked once at the edge: uuids, page sizes, cursors, cluster lists.
 * Everything past here trusts them.
 */
import { badInput } from "../errors";
import { CLUSTER_ID_RE, INFIX, UUID_RE, type Kind } from "../ids";
import type { PageOptions, PriorityCursor } from "../api/types";

export interface Limits {
  defaultPageSize: number;
  maxPageSize: number;
}

/** A well-formed uuid, of one of `kinds` when given; BAD_USER_INPUT otherwise. */
export function uuidArg(value: string, name: string, ...kinds: Kind[]): string {
  const m = UUID_RE.exec(value);
  if (!m) throw badInput(`${name}: "${value.slice(0, 64)}" is not a uuid (<cluster>-<infix>-<15 characters>)`);
  if (kinds.length && !kinds.some((k) => INFIX[k] === m[2]))
    throw badInput(`${name}: "${value}" is not a ${kinds.join(" or ")} uuid`);
  return value;
}

/** A batch of uuids of the given kinds, at most one page's worth, without repeats. */
export function uuidsArg(values: string[], limits: Limits, ...kinds: Kind[]): string[] {
  if (values.length > limits.maxPageSize) throw badInput(`uuids: at most ${limits.maxPageSize} at once`);
  return [...new Set(values.map((v, i) => uuidArg(v, `uuids[${i}]`, ...kinds)))];
}

/** Cursors are opaque to clients; inside they are the last uuid of the previous page. */
export function encodeCursor(uuid: string | null): string | null {
  return uuid === null ? null : Buffer.from(`u:${uuid}`).toString("base64url");
}

export function decodeCursor(cursor: string | null | undefined): string | undefined {
  if (cursor == null) return undefined;
  const text = Buffer.from(cursor, "base64url").toString("utf8");
  if (!text.startsWith("u:") || !UUID_RE.test(text.slice(2))) throw badInput(`after: "${cursor.slice(0, 64)}" is not a cursor from this API`);
  return text.slice(2);
}

/** A cursor of a list in priority order (containers' queue): the last item's priority and uuid. */
export function encodePriorityCursor(last: PriorityCursor | undefined): string | null {
  return last === undefined ? null : Buffer.from(`p:${last.priority}:${last.uuid}`).toString("base64url");
}

export function decodePriorityCursor(cursor: string | null | undefined): PriorityCursor | undefined {
  if (cursor == null) return undefined;
  const m = /^p:(\d{1,4}):(.*)$/.exec(Buffer.from(cursor, "base64url").toString("utf8"));
  if (!m || !UUID_RE.test(m[2])) throw badInput(`after: "${cursor.slice(0, 64)}" is not a cursor of this list in this order`);
  return { priority: Number(m[1]), uuid: m[2] };
}

export function pageArgs(args: { first?: number | null; after?: string | null }, limits: Limits): PageOptions {
  const first = args.first ?? limits.defaultPageSize;
  if (!Number.isInteger(first) || first < 1 || first > limits.maxPageSize)
    throw badInput(`first: must be between 1 and ${limits.maxPageSize}`);
  return { first, after: decodeCursor(args.after) };
}

/** More clusters than a federation plausibly has would only multiply remote calls. */
export const MAX_CLUSTERS = 32;

export function clustersArg(value: string[] | null | undefined): string[] | undefined {
  if (value == null) return undefined;
  if (value.length > MAX_CLUSTERS) throw badInput(`clusters: at most ${MAX_CLUSTERS}`);
  for (const id of value) if (!CLUSTER_ID_RE.test(id)) throw badInput(`clusters: "${id.slice(0, 32)}" is not a cluster id`);
  return [...new Set(value)];
}

export function searchArg(value: string | null | undefined): string | undefined {
  if (value == null || value.trim() === "") return undefined;
  if (value.length > 200) throw badInput("search: at most 200 characters");
  return value.trim();
}
