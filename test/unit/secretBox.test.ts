import { randomBytes } from "node:crypto";
import { SecretBox } from "../../src/auth/secretBox";

const ROOT = "root-token-".padEnd(40, "x");
const UUID = "zzzzz-gj3su-077z32aux8dg2s1";
const OTHER_UUID = "zzzzz-gj3su-000000000000000";
const SECRET = "3kg6k6lzmp9kj5cpkcoxie963cmvjahbt2fod9zru30k1jqdmi";

describe("SecretBox", () => {
  const box = SecretBox.fromConfig(undefined, ROOT);

  it("opens what it sealed, for the same token uuid", () => {
    expect(box.open(box.seal(SECRET, UUID), UUID)).toBe(SECRET);
  });

  it("seals to text that does not contain the secret, differently each time", () => {
    const a = box.seal(SECRET, UUID);
    const b = box.seal(SECRET, UUID);
    expect(a).not.toContain(SECRET);
    expect(Buffer.from(a.slice(3), "base64").toString("latin1")).not.toContain(SECRET);
    expect(a).not.toBe(b);
  });

  it("refuses to open a sealed secret under another token uuid", () => {
    expect(box.open(box.seal(SECRET, UUID), OTHER_UUID)).toBeUndefined();
  });

  it("refuses to open with another key", () => {
    const sealed = box.seal(SECRET, UUID);
    expect(SecretBox.fromConfig(undefined, `${ROOT}y`).open(sealed, UUID)).toBeUndefined();
    expect(SecretBox.fromConfig(randomBytes(32).toString("hex"), ROOT).open(sealed, UUID)).toBeUndefined();
  });

  it("derives the same key from the same root token", () => {
    expect(SecretBox.fromConfig(undefined, ROOT).open(box.seal(SECRET, UUID), UUID)).toBe(SECRET);
  });

  it("refuses tampered, truncated or foreign sealed text", () => {
    const sealed = box.seal(SECRET, UUID);
    const raw = Buffer.from(sealed.slice(3), "base64");
    for (const i of [0, 12, 28, raw.length - 1]) {
      const bad = Buffer.from(raw);
      bad[i] ^= 1;
      expect(box.open(`s1:${bad.toString("base64")}`, UUID)).toBeUndefined();
    }
    expect(box.open(`s1:${raw.subarray(0, 28).toString("base64")}`, UUID)).toBeUndefined();
    expect(box.open(`s2:${sealed.slice(3)}`, UUID)).toBeUndefined();
    expect(box.open(SECRET, UUID)).toBeUndefined();
    expect(box.open("", UUID)).toBeUndefined();
  });

  it("takes an explicit key as 64 hex characters or as base64", () => {
    const key = randomBytes(32);
    const fromHex = SecretBox.fromConfig(key.toString("hex"), ROOT);
    const fromBase64 = SecretBox.fromConfig(key.toString("base64"), "another root token");
    expect(fromBase64.open(fromHex.seal(SECRET, UUID), UUID)).toBe(SECRET);
    expect(box.open(fromHex.seal(SECRET, UUID), UUID)).toBeUndefined();
  });

  it.each([
    ["too short in hex", "ab".repeat(16)],
    ["too long in base64", randomBytes(48).toString("base64")],
    ["63 hex characters", "a".repeat(63)],
    ["not base64 at all", "!!!!"],
  ])("rejects a key %s, naming tokens.encryptionKey", (_, key) => {
    expect(() => SecretBox.fromConfig(key, ROOT)).toThrow(/tokens\.encryptionKey.*32 bytes/);
  });
});
