/**
 * PostgreSQL's text form of a timestamptz, as a Date, without a regular expression: every row of
 * every hot list carries two of them, and `pg`'s general parser (postgres-date: three regular
 * expressions and several parseInt calls per value) was ~4% of the process's CPU under a
 * `collections(first: 10)` load. The common form (DateStyle ISO, years 1000–9999:
 * `2026-12-03 06:19:50.123+00`, offsets `+05`, `+05:30` or `+05:30:15`) is read here digit by
 * digit; anything else (BC, infinity, other years) goes to the general parser, so the result is
 * always what it would give (test/unit/timestampText.test.ts compares them).
 */
import { types as pgTypes } from "pg";

export const TIMESTAMPTZ_OID = 1184;
const general = pgTypes.getTypeParser(TIMESTAMPTZ_OID, "text") as (text: string) => Date | number | null;

const ZERO = 48;

/** The number written by the digits at s[from, to), or NaN if one is not a digit. */
function digits(s: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = s.charCodeAt(i) - ZERO;
    if (d < 0 || d > 9) return NaN;
    n = n * 10 + d;
  }
  return n;
}

/** The offset `±HH[:MM[:SS]]` at s[at…] in milliseconds east of UTC, or NaN. */
function offsetMs(s: string, at: number): number {
  const sign = s[at] === "+" ? 1 : s[at] === "-" ? -1 : 0;
  const rest = s.length - at - 1;
  if (!sign || (rest !== 2 && rest !== 5 && rest !== 8)) return NaN;
  let seconds = digits(s, at + 1, at + 3) * 3600;
  for (let p = at + 3; p < s.length; p += 3) seconds += s[p] === ":" ? digits(s, p + 1, p + 3) * (p === at + 3 ? 60 : 1) : NaN;
  return sign * seconds * 1000;
}

/** `YYYY-MM-DD HH:MM:SS[.f…]±HH[:MM[:SS]]` in milliseconds since the epoch, or NaN when not of that form. */
function commonFormMs(s: string): number {
  if (s.length < 22 || s[4] !== "-" || s[7] !== "-" || s[10] !== " " || s[13] !== ":" || s[16] !== ":") return NaN;
  const year = digits(s, 0, 4);
  if (!(year >= 1000)) return NaN;
  let at = 19;
  let ms = 0;
  if (s[at] === ".") {
    // Milliseconds: the first three digits of the fraction (Date keeps no more), right-padded.
    let places = 0;
    for (at++; at < s.length && s.charCodeAt(at) >= ZERO && s.charCodeAt(at) <= ZERO + 9; at++)
      if (places < 3) {
        ms = ms * 10 + s.charCodeAt(at) - ZERO;
        places++;
      }
    ms *= 10 ** (3 - places);
  }
  const utc = Date.UTC(year, digits(s, 5, 7) - 1, digits(s, 8, 10), digits(s, 11, 13), digits(s, 14, 16), digits(s, 17, 19), ms);
  return utc - offsetMs(s, at);
}

/** A timestamptz's text as the Date (or ±Infinity, for infinity) `pg` would give. */
export function parseTimestamptz(text: string): Date | number | null {
  const ms = commonFormMs(text);
  return Number.isNaN(ms) ? general(text) : new Date(ms);
}
