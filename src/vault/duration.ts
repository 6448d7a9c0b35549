/**
 * Vault's TTL strings (X-Vault-Wrap-TTL): whole seconds ("300"), or a duration of whole units
 * ("90s", "5m", "1h30m", "2d"), as Vault's parseutil.ParseDurationSecond reads them.
 */
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
const DURATION_RE = /^(?:\d{1,9}[smhd])+$/;

/** The TTL in seconds, or undefined when it is not one of the forms above. */
export function parseTtlSeconds(text: string): number | undefined {
  const t = text.trim();
  if (/^\d{1,9}$/.test(t)) return Number(t);
  if (!DURATION_RE.test(t)) return undefined;
  let total = 0;
  for (const [, n, unit] of t.matchAll(/(\d+)([smhd])/g)) total += Number(n) * UNIT_SECONDS[unit];
  return total;
}
