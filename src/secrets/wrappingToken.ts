/**
 * Response-wrapping tokens: `fgw1.<cluster id>.<50 characters [a-z0-9]>`. The cluster id names
 * the cluster that holds the wrap (where unwrap and lookup are answered); the rest is random.
 * Only the SHA-256 of a token is stored, so a copy of the database unwraps nothing.
 */
import { createHash } from "node:crypto";
import { ErrorCode, apiError } from "../errors";
import { CLUSTER_ID_RE, randomChars } from "../ids";

const TOKEN_RE = /^fgw1\.([a-z0-9]{5})\.[a-z0-9]{50}$/;

export function newWrappingToken(clusterId: string): string {
  return `fgw1.${clusterId}.${randomChars(50)}`;
}

/** The cluster a well-formed wrapping token names; undefined for anything else. */
export function wrappingTokenCluster(token: string): string | undefined {
  const m = TOKEN_RE.exec(token);
  return m && CLUSTER_ID_RE.test(m[1]) ? m[1] : undefined;
}

/** Used, expired and unknown tokens fail alike, wherever they are tried. */
export const wrappingTokenNotFound = () => apiError(ErrorCode.NOT_FOUND, "wrapping token not found (used, expired, or never issued)");

/** What is stored in place of the token. */
export function wrappingTokenHash(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}
