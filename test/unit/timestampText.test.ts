import { types as pgTypes } from "pg";
import { parseTimestamptz, TIMESTAMPTZ_OID } from "../../src/db/timestampText";

const general = pgTypes.getTypeParser(TIMESTAMPTZ_OID, "text") as (text: string) => unknown;

/** PostgreSQL's ISO text of `ms` at a fixed offset (minutes east), with `places` fraction digits. */
function pgText(ms: number, offsetMinutes: number, places: number, offsetSeconds = 0): string {
  const local = new Date(ms + (offsetMinutes * 60 + Math.sign(offsetMinutes || 1) * offsetSeconds) * 1000).toISOString();
  const frac = places ? `.${String(ms % 1000).padStart(3, "0")}${"7".repeat(Math.max(0, places - 3))}`.slice(0, places + 1) : "";
  const sign = offsetMinutes < 0 ? "-" : "+";
  const abs = Math.abs(offsetMinutes);
  const hh = String(Math.floor(abs / 60)).padStart(2, "0");
  const mm = abs % 60 || offsetSeconds ? `:${String(abs % 60).padStart(2, "0")}` : "";
  const ss = offsetSeconds ? `:${String(offsetSeconds).padStart(2, "0")}` : "";
  return `${local.slice(0, 10)} ${local.slice(11, 19)}${frac}${sign}${hh}${mm}${ss}`;
}

describe("parseTimestamptz", () => {
  it("gives what pg's own parser gives, over many instants, offsets and precisions", () => {
    let seed = 42;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 20_000; i++) {
      const ms = Math.floor(rand() * 253402300799999 * (rand() < 0.5 ? 1 : 0.1));
      const offset = [0, 60, -300, 330, 345, -570, 840, -720][i % 8];
      const text = pgText(ms, offset, i % 7, i % 13 === 0 ? 15 : 0);
      const ours = parseTimestamptz(text);
      expect(ours).toBeInstanceOf(Date);
      expect([text, (ours as Date).getTime()]).toEqual([text, (general(text) as Date).getTime()]);
    }
  });

  it("hands every other form to pg's parser", () => {
    for (const text of ["infinity", "-infinity", "0044-03-15 12:00:00+00 BC", "0099-01-01 00:00:00+00", "12345-01-01 00:00:00+00", "2026-12-03 06:19:50+00 BC"]) {
      expect(parseTimestamptz(text)).toEqual(general(text));
    }
  });
});
