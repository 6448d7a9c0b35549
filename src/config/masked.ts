/**
 * The resolved configuration as `fedgate config check` prints it: every credential masked
 * (the root token, encryption keys, management tokens, a database URL's password), so the
 * output can be pasted into a ticket.
 */
import type { ClusterConfig } from "./config";

const CREDENTIAL_KEY = /token|key|secret|password/i;
const MASK = "********";

function mask(value: unknown, secret: boolean): unknown {
  if (typeof value === "string") return secret ? MASK : value;
  if (Array.isArray(value)) return value.map((v) => mask(v, secret));
  if (value && typeof value === "object")
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mask(v, secret || CREDENTIAL_KEY.test(k))]));
  return value;
}

function maskUrlPassword(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = MASK;
  return u.toString();
}

export function maskedConfig(config: ClusterConfig): Record<string, unknown> {
  const masked = mask(config, false) as Record<string, unknown>;
  if (config.databaseUrl) masked.databaseUrl = maskUrlPassword(config.databaseUrl);
  return masked;
}
