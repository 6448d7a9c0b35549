import { SECRET_LENGTH, formatToken, isSaltedSecret, newSecret, parseToken } from "../../src/auth/tokenString";

const UUID = "zzzzz-gj3su-077z32aux8dg2s1";
const SECRET = "3kg6k6lzmp9kj5cpkcoxie963cmvjahbt2fod9zru30k1jqdmi";
const CONTAINER = "bbbbb-dz642-0123456789abcde";

describe("parseToken and formatToken", () => {
  it("parse a three-field token and format it back", () => {
    const text = `v2/${UUID}/${SECRET}`;
    expect(parseToken(text)).toEqual({ uuid: UUID, secret: SECRET, containerUuid: undefined });
    expect(formatToken({ uuid: UUID, secret: SECRET })).toBe(text);
  });

  it("parse a container token's fourth field and format it back", () => {
    const text = `v2/${UUID}/${SECRET}/${CONTAINER}`;
    expect(parseToken(text)).toEqual({ uuid: UUID, secret: SECRET, containerUuid: CONTAINER });
    expect(formatToken({ uuid: UUID, secret: SECRET, containerUuid: CONTAINER })).toBe(text);
  });

  it.each([
    ["a fourth and fifth field (Arvados' remote_user_test)", `v2/${UUID}/${SECRET}/foo/bar`],
    ["a fourth field that is not a container uuid", `v2/${UUID}/${SECRET}/zzzzz-xvhdp-0123456789abcde`],
    ["an empty fourth field", `v2/${UUID}/${SECRET}/`],
    ["many empty fields", `v2/${UUID}/${SECRET}////`],
  ])("ignore the fields after the secret when the 4th is not a container uuid: %s", (_, text) => {
    expect(parseToken(text)).toEqual({ uuid: UUID, secret: SECRET, containerUuid: undefined });
  });

  it("keep a container binding and ignore the fields after it", () => {
    expect(parseToken(`v2/${UUID}/${SECRET}/${CONTAINER}/future/fields`)).toEqual({ uuid: UUID, secret: SECRET, containerUuid: CONTAINER });
  });

  it.each([
    ["a uuid that does not name a token", `v2/zzzzz-tpzed-077z32aux8dg2s1/${SECRET}`],
    ["a malformed uuid", `v2/zzzzz-gj3su-short/${SECRET}`],
    ["a v1 prefix", `v1/${UUID}/${SECRET}`],
    ["no prefix", `${UUID}/${SECRET}`],
    ["an empty secret", `v2/${UUID}/`],
    ["a short secret", `v2/${UUID}/abc123`],
    ["a secret with punctuation", `v2/${UUID}/${SECRET.slice(0, 40)}-${SECRET.slice(41)}`],
    ["a bad secret before extra fields", `v2/${UUID}/abc/${SECRET}`],
    ["a v2 prefix alone", `v2`],
    ["no secret field", `v2/${UUID}`],
    ["a bare secret", SECRET],
  ])("reject %s", (_, text) => {
    expect(parseToken(text)).toBeUndefined();
  });

  it("accept a salted (40 hex characters) secret", () => {
    expect(parseToken(`v2/${UUID}/7fd31b61f39c0e82a4155592163218272cedacdc`)?.secret).toHaveLength(40);
  });
});

describe("newSecret", () => {
  it("makes 50 characters of [a-z0-9], never 40, and never the same twice", () => {
    const secrets = Array.from({ length: 200 }, newSecret);
    expect(SECRET_LENGTH).toBe(50);
    for (const s of secrets) {
      expect(s).toMatch(/^[a-z0-9]{50}$/);
      expect(isSaltedSecret(s)).toBe(false);
    }
    expect(new Set(secrets).size).toBe(secrets.length);
  });

  it("makes secrets that parse inside a token", () => {
    const secret = newSecret();
    expect(parseToken(formatToken({ uuid: UUID, secret }))?.secret).toBe(secret);
  });
});

describe("isSaltedSecret", () => {
  it("recognises exactly 40 lower-case hex characters", () => {
    expect(isSaltedSecret("7fd31b61f39c0e82a4155592163218272cedacdc")).toBe(true);
    expect(isSaltedSecret("7fd31b61f39c0e82a4155592163218272cedacd")).toBe(false);
    expect(isSaltedSecret("7fd31b61f39c0e82a4155592163218272cedacdz")).toBe(false);
    expect(isSaltedSecret(SECRET)).toBe(false);
  });
});
