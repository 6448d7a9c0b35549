import { sameSecret, secretMatcher } from "../../src/auth/localTokens";

describe("secretMatcher", () => {
  const root = "root-token-" + "x".repeat(40);
  const isRoot = secretMatcher(root);
  it("matches exactly the configured secret", () => {
    expect(isRoot(root)).toBe(true);
    for (const other of [root.slice(0, -1), root + "x", root.slice(0, -1) + "y", "", "v2/zzzzz-gj3su-000000000000000/" + "s".repeat(40), root.toUpperCase()])
      expect(isRoot(other)).toBe(false);
  });
  it("compares bytes, not UTF-16 units: same length in characters, other bytes", () => {
    expect(secretMatcher("ab")("é")).toBe(false);
    expect(secretMatcher("éa")("éa")).toBe(true);
    expect(secretMatcher("é")("e\u0301")).toBe(false);
  });
  it("agrees with sameSecret", () => {
    for (const [a, b] of [[root, root], [root, root + "x"], ["a", "b"], ["", ""]]) expect(secretMatcher(b)(a)).toBe(sameSecret(a, b));
  });
});
