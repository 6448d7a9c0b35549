/** The secret store's keys: sealing bound to (secret, version), key ids, config validation and masking. */
import { randomBytes } from "node:crypto";
import { loadConfig, parseConfig } from "../../src/config/config";
import { maskedConfig } from "../../src/config/masked";
import { EPHEMERAL_KEY_ID, SecretKeyring } from "../../src/secrets/keyring";
import { codeOf } from "../../src/errors";
import { log } from "../../src/log";

log.configure({ sink: () => undefined }); // the refusals below log what they refuse

const K1 = randomBytes(32).toString("base64");
const K2 = randomBytes(32).toString("base64");
const UUID = "zzzzz-s3cr7-aaaaaaaaaaaaaaa";
const OTHER = "zzzzz-s3cr7-bbbbbbbbbbbbbbb";
const VALUE = "correct horse battery staple";
const ROOT = "r".repeat(40);

const ring = (keys: Record<string, string>, activeKey?: string) => SecretKeyring.fromConfig({ keys, activeKey }, true);

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return `${codeOf(e) ?? (e as Error).constructor.name}: ${(e as Error).message}`;
  }
  throw new Error("expected a refusal");
}

describe("SecretKeyring", () => {
  const k = ring({ k1: K1 }, "k1");

  it("opens what it sealed for the same secret and version, under the active key's id", () => {
    const sealed = k.seal(VALUE, UUID, 3);
    expect(sealed.keyId).toBe("k1");
    expect(k.open(sealed, UUID, 3)).toBe(VALUE);
  });

  it("seals to text without the value (nor any 8 characters of it), differently each time", () => {
    const a = k.seal(VALUE, UUID, 1);
    const b = k.seal(VALUE, UUID, 1);
    expect(a.sealed).not.toBe(b.sealed);
    const raw = `${a.sealed}\n${Buffer.from(a.sealed.slice(3), "base64").toString("latin1")}`;
    for (let i = 0; i + 8 <= VALUE.length; i++) expect(raw).not.toContain(VALUE.slice(i, i + 8));
  });

  it("refuses a sealed value moved to another secret or another version (UNAVAILABLE)", () => {
    const sealed = k.seal(VALUE, UUID, 1);
    expect(refusal(() => k.open(sealed, OTHER, 1))).toMatch(/^UNAVAILABLE: .*cannot be opened/);
    expect(refusal(() => k.open(sealed, UUID, 2))).toMatch(/^UNAVAILABLE/);
  });

  it("refuses a value altered in the database", () => {
    const sealed = k.seal(VALUE, UUID, 1);
    const bytes = Buffer.from(sealed.sealed.slice(3), "base64");
    bytes[bytes.length - 1] ^= 1;
    expect(refusal(() => k.open({ keyId: "k1", sealed: `s1:${bytes.toString("base64")}` }, UUID, 1))).toMatch(/^UNAVAILABLE/);
  });

  it("opens old values with an old key while sealing new ones under the active key", () => {
    const old = k.seal(VALUE, UUID, 1);
    const both = ring({ k1: K1, k2: K2 }, "k2");
    expect(both.open(old, UUID, 1)).toBe(VALUE);
    expect(both.seal(VALUE, UUID, 2).keyId).toBe("k2");
  });

  it("names the missing key when a value's key is not configured, and does not try another key", () => {
    const old = k.seal(VALUE, UUID, 1);
    expect(refusal(() => ring({ k2: K2 }, "k2").open(old, UUID, 1))).toMatch(/^UNAVAILABLE: .*key "k1"/);
    // The same bytes under another id do not open either: the key, not the id, decides.
    expect(refusal(() => ring({ k1: K2 }, "k1").open(old, UUID, 1))).toMatch(/^UNAVAILABLE/);
  });

  it("has an ephemeral key of its own only for an in-memory cluster; a persistent one without keys stores nothing", () => {
    const memory = SecretKeyring.fromConfig({ keys: {} }, false);
    expect(memory.activeKey).toBe(EPHEMERAL_KEY_ID);
    expect(memory.open(memory.seal(VALUE, UUID, 1), UUID, 1)).toBe(VALUE);
    // Another process (another key) cannot open it.
    expect(refusal(() => SecretKeyring.fromConfig({ keys: {} }, false).open(memory.seal(VALUE, UUID, 1), UUID, 1))).toMatch(/^UNAVAILABLE/);
    const persistent = SecretKeyring.fromConfig({ keys: {} }, true);
    expect(persistent.activeKey).toBeUndefined();
    expect(refusal(() => persistent.seal(VALUE, UUID, 1))).toMatch(/^UNAVAILABLE: .*secrets\.keys and secrets\.activeKey/);
  });
});

describe("secrets config", () => {
  const problem = (raw: Record<string, unknown>) => refusal(() => parseConfig(raw));

  it("takes keys and an active key, with a default wrap TTL bound", () => {
    const c = parseConfig({ secrets: { keys: { k1: K1, "old-2025": K2 }, activeKey: "k1" } });
    expect(c.secrets).toEqual({ keys: { k1: K1, "old-2025": K2 }, activeKey: "k1", maxWrapTtlSeconds: 86_400 });
    expect(parseConfig({}).secrets).toEqual({ keys: {}, maxWrapTtlSeconds: 86_400 });
  });

  it.each([
    ["a key that is not 32 bytes", { keys: { k1: Buffer.alloc(16).toString("base64") }, activeKey: "k1" }, /secrets\.keys\.k1: must be 32 bytes as base64/],
    ["a key that is not base64", { keys: { k1: "z".repeat(43) + "!" }, activeKey: "k1" }, /secrets\.keys\.k1: must be 32 bytes/],
    ["a bad key id", { keys: { "k 1": K1 }, activeKey: "k 1" }, /secrets\.keys/],
    ["an active key that is not among the keys", { keys: { k1: K1 }, activeKey: "k2" }, /secrets\.activeKey: names no key in secrets\.keys \(k1\)/],
    ["keys without an active key", { keys: { k1: K1 } }, /secrets\.activeKey: is required with secrets\.keys/],
    ["an active key without keys", { activeKey: "k1" }, /secrets\.activeKey: names no key/],
    ["a wrap TTL bound over 30 days", { maxWrapTtlSeconds: 31 * 86_400 }, /secrets\.maxWrapTtlSeconds/],
    ["an unknown key", { keyz: {} }, /secrets\.keyz: unknown key/],
  ])("refuses %s, naming the setting", (_, secrets, message) => {
    const text = problem({ secrets });
    expect(text).toMatch(/^ConfigError/);
    expect(text).toMatch(message);
    expect(text).not.toContain(K1);
  });

  it("reads FEDGATE_SECRETS_KEYS (JSON) and FEDGATE_SECRETS_ACTIVE_KEY over the file's section", () => {
    const c = loadConfig({ env: { FEDGATE_SECRETS_KEYS: JSON.stringify({ k2: K2 }), FEDGATE_SECRETS_ACTIVE_KEY: "k2" } });
    expect(c.secrets).toMatchObject({ keys: { k2: K2 }, activeKey: "k2" });
    expect(refusal(() => loadConfig({ env: { FEDGATE_SECRETS_KEYS: "[1]" } }))).toMatch(/^ConfigError: FEDGATE_SECRETS_KEYS: must be a JSON object/);
    expect(refusal(() => loadConfig({ env: { FEDGATE_SECRETS_KEYS: "{" } }))).toMatch(/^ConfigError: FEDGATE_SECRETS_KEYS/);
  });

  it("masks every key in `fedgate config check`, keeping the key ids", () => {
    const c = parseConfig({ systemRootToken: ROOT, secrets: { keys: { k1: K1, k2: K2 }, activeKey: "k1" } });
    const text = JSON.stringify(maskedConfig(c));
    expect(text).not.toContain(K1);
    expect(text).not.toContain(K2);
    expect((maskedConfig(c).secrets as { keys: Record<string, string> }).keys).toEqual({ k1: "********", k2: "********" });
  });
});
