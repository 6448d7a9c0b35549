/**
 * Salted tokens, exactly as Arvados (sdk/go/auth/salt.go): a token's real secret never goes
 * to a cluster that did not issue it; that cluster gets HMAC-SHA1(secret, its id) instead.
 */
import { createHmac } from "node:crypto";
import { clusterOf } from "../ids";
import { parseToken } from "./tokenString";

export function saltSecret(secret: string, clusterId: string): string {
  return createHmac("sha1", secret).update(clusterId).digest("hex");
}

/**
 * The form of `token` to send to `targetCluster`: unchanged when the target issued it or it is
 * already salted (40 characters), otherwise `v2/<uuid>/<hmac>`. The container field is
 * dropped, as Arvados does. Throws on a string that is not a v2 token.
 */
export function saltToken(token: string, targetCluster: string): string {
  const parsed = parseToken(token);
  if (!parsed) throw new Error("cannot salt: not a v2 token");
  if (clusterOf(parsed.uuid) === targetCluster) return token;
  if (parsed.secret.length === 40) return token;
  return `v2/${parsed.uuid}/${saltSecret(parsed.secret, targetCluster)}`;
}
