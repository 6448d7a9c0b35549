/** Documents the limits must refuse (or let through), shared by the unit and integration tests. */

/** `n` aliased copies of `field`: `a0: field a1: field …`. */
export const aliases = (n: number, field: string) => Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(" ");

/** About `bytes` of `__typename` under the shortest distinct aliases (3 letters: "abc:__typename "). */
export function typenameFlood(bytes: number): string {
  const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  const out: string[] = [];
  for (let i = 0; out.length * 15 < bytes; i++) out.push(`${letters[i % 52]}${letters[Math.floor(i / 52) % 52]}${letters[Math.floor(i / 2704) % 52]}:__typename`);
  return out.join(" ");
}
