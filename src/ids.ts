/**
 * Arvados-style identifiers: cluster ids and `<cluster>-<infix>-<15 chars>` uuids.
 * The first five characters of a uuid name the cluster that owns the object.
 */
import { randomInt } from "node:crypto";

export const CLUSTER_ID_RE = /^[a-z0-9]{5}$/;
export const UUID_RE = /^([a-z0-9]{5})-([a-z0-9]{5})-([a-z0-9]{15})$/;

/** Object kinds and their uuid infixes (as in Arvados). */
export const INFIX = {
  user: "tpzed",
  group: "j7d0g",
  token: "gj3su",
  collection: "4zz18",
  containerRequest: "xvhdp",
  container: "dz642",
  link: "o0j2j",
  log: "57u5n",
  /** Not in Arvados: fedgate's secret store (src/secrets). Kept forever once issued. */
  secret: "s3cr7",
} as const;
export type Kind = keyof typeof INFIX;

const KIND_BY_INFIX = new Map<string, Kind>(Object.entries(INFIX).map(([k, v]) => [v, k as Kind]));
const ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";

export function randomChars(n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += ALPHABET[randomInt(ALPHABET.length)];
  return s;
}

export function newUuid(clusterId: string, kind: Kind): string {
  return `${clusterId}-${INFIX[kind]}-${randomChars(15)}`;
}

export function isUuid(s: string): boolean {
  return UUID_RE.test(s);
}

export function clusterOf(uuid: string): string {
  return uuid.slice(0, 5);
}

/** The kind of object a well-formed uuid names, or undefined for an unknown infix. */
export function kindOf(uuid: string): Kind | undefined {
  const m = UUID_RE.exec(uuid);
  return m ? KIND_BY_INFIX.get(m[2]) : undefined;
}
