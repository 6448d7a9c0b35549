import { pageTail, toPage } from "../../src/localdb/sql";

describe("pageTail", () => {
  it("reads at least one row more than asked, the common page sizes exactly, with the limit in the statement", () => {
    for (const [first, limit] of [[10, 11], [20, 21], [25, 26], [50, 51], [100, 101], [1000, 1001], [1, 11], [37, 51], [10000, 10001]]) {
      const sql = pageTail("c", { first });
      expect(sql.text).toBe(`ORDER BY c.uuid LIMIT ${limit}`);
      expect(sql.values).toEqual([]);
    }
  });

  it("makes few distinct statements whatever page sizes clients ask for", () => {
    const texts = new Set(Array.from({ length: 10_000 }, (_, i) => pageTail("c", { first: i + 1 }).text));
    expect(texts.size).toBeLessThanOrEqual(11);
  });

  it("refuses a page size that is not a count, rather than writing it into SQL", () => {
    for (const first of [NaN, -1, 1.5, Infinity]) expect(() => pageTail("c", { first })).toThrow(/not a count/);
  });

  it("pages the extra rows away: `first` nodes, and whether more follow", () => {
    const rows = Array.from({ length: 26 }, (_, i) => ({ uuid: `u${String(i).padStart(2, "0")}` }));
    expect(toPage(rows, 20)).toMatchObject({ nodes: rows.slice(0, 20), endCursor: "u19", hasNextPage: true });
    expect(toPage(rows.slice(0, 20), 20)).toMatchObject({ hasNextPage: false });
  });
});
