import { DateTime } from "../../src/graphql/scalars";

describe("DateTime.serialize", () => {
  it("writes what toISOString writes, for every year it may meet", () => {
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const edges = [0, -1, Date.UTC(9999, 11, 31, 23, 59, 59, 999), Date.UTC(10000, 0, 1), Date.UTC(-5, 0, 1), Date.UTC(2024, 1, 29, 23, 59, 59, 9)];
    const instants = [...edges, ...Array.from({ length: 20_000 }, () => Math.floor((rand() * 2 - 0.3) * 253402300799999))];
    for (const t of instants) {
      const d = new Date(t);
      expect([t, DateTime.serialize(d)]).toEqual([t, d.toISOString()]);
    }
  });

  it("reads a string as a date first, and refuses what is no date", () => {
    expect(DateTime.serialize("2026-12-03T06:19:50+01:00")).toBe("2026-12-03T05:19:50.000Z");
    expect(() => DateTime.serialize("not a date")).toThrow(RangeError);
  });
});
