import { saltSecret, saltToken } from "../../src/auth/salt";

const ARVADOS_SECRET = "3kg6k6lzmp9kj5cpkcoxie963cmvjahbt2fod9zru30k1jqdmi";
const TOKEN_UUID = "zzzzz-gj3su-077z32aux8dg2s1";
const CONTAINER = "zzzzz-dz642-0123456789abcde";

describe("saltSecret", () => {
  it("matches Arvados' own federation test vector", () => {
    expect(saltSecret(ARVADOS_SECRET, "zmock")).toBe("7fd31b61f39c0e82a4155592163218272cedacdc");
  });

  it("matches HMAC-SHA1 as computed by openssl", () => {
    // echo -n bbbbb | openssl dgst -sha1 -hmac abcdefghij0123456789klmnopqrstuvwxyz9876543210abcd
    expect(saltSecret("abcdefghij0123456789klmnopqrstuvwxyz9876543210abcd", "bbbbb")).toBe("71cceae1e12f244aaffbba0c319d2ac104ce1fcf");
  });
});

describe("saltToken", () => {
  it("salts a token for a cluster that did not issue it", () => {
    expect(saltToken(`v2/${TOKEN_UUID}/${ARVADOS_SECRET}`, "zmock")).toBe(`v2/${TOKEN_UUID}/7fd31b61f39c0e82a4155592163218272cedacdc`);
  });

  it("returns a token unchanged for the cluster that issued it", () => {
    const token = `v2/${TOKEN_UUID}/${ARVADOS_SECRET}`;
    expect(saltToken(token, "zzzzz")).toBe(token);
    expect(saltToken(`${token}/${CONTAINER}`, "zzzzz")).toBe(`${token}/${CONTAINER}`);
  });

  it("does not salt a 40-character (already salted) secret again", () => {
    const salted = saltToken(`v2/${TOKEN_UUID}/${ARVADOS_SECRET}`, "zmock");
    expect(saltToken(salted, "zmock")).toBe(salted);
    expect(saltToken(salted, "bbbbb")).toBe(salted);
  });

  it("drops the container field when salting", () => {
    expect(saltToken(`v2/${TOKEN_UUID}/${ARVADOS_SECRET}/${CONTAINER}`, "zmock")).toBe(
      `v2/${TOKEN_UUID}/7fd31b61f39c0e82a4155592163218272cedacdc`,
    );
  });

  it("gives different clusters different salted secrets", () => {
    const token = `v2/${TOKEN_UUID}/${ARVADOS_SECRET}`;
    expect(saltToken(token, "bbbbb")).not.toBe(saltToken(token, "ccccc"));
  });

  it.each([
    ["a bare secret", ARVADOS_SECRET],
    ["a v1 token", `v1/${TOKEN_UUID}/${ARVADOS_SECRET}`],
    ["a token without a secret", `v2/${TOKEN_UUID}`],
    ["an empty string", ""],
  ])("throws on %s", (_, text) => {
    expect(() => saltToken(text, "zmock")).toThrow(/not a v2 token/);
  });
});
