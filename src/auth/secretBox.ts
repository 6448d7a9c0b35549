/**
 * Token secrets at rest: sealed with AES-256-GCM under the cluster's token key, with the token
 * uuid as associated data (a sealed secret moved to another row does not open). A copy of the
 * database without the key yields no working token; the key must stay with the operator.
 * The secret itself (not a hash) is needed because a salted token is checked against
 * HMAC-SHA1(secret, caller cluster id) for any caller.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from "node:crypto";

const VERSION = "s1";

export class SecretBox {
  private constructor(private readonly key: Buffer) {}

  /** From an explicit key (32 bytes as base64 or 64 hex characters) or derived from the root token. */
  static fromConfig(encryptionKey: string | undefined, systemRootToken: string): SecretBox {
    if (encryptionKey) return new SecretBox(decodeKey(encryptionKey));
    const derived = hkdfSync("sha256", systemRootToken, "fedgate", "token secrets v1", 32);
    return new SecretBox(Buffer.from(derived));
  }

  /** From 32 raw bytes: the secret store's keys (src/secrets/keyring.ts). */
  static fromKey(key: Buffer): SecretBox {
    if (key.length !== 32) throw new Error("a SecretBox key must be 32 bytes");
    return new SecretBox(Buffer.from(key));
  }

  /**
   * A keyed digest of `text` for `purpose`: it tells whether a value is the one digested, and
   * without the key (which never goes to the database) it cannot be guessed from a copy of it.
   */
  digest(text: string, purpose: string): string {
    return createHmac("sha256", this.key).update(purpose).update("\u0000").update(text).digest("hex");
  }

  seal(secret: string, tokenUuid: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv);
    cipher.setAAD(Buffer.from(tokenUuid));
    const body = Buffer.concat([cipher.update(secret, "utf8"), cipher.final()]);
    return `${VERSION}:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64")}`;
  }

  /** The secret, or undefined if the sealed value was not made by this key for this uuid. */
  open(sealed: string, tokenUuid: string): string | undefined {
    if (!sealed.startsWith(`${VERSION}:`)) return undefined;
    const raw = Buffer.from(sealed.slice(VERSION.length + 1), "base64");
    if (raw.length < 29) return undefined;
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.key, raw.subarray(0, 12));
      decipher.setAAD(Buffer.from(tokenUuid));
      decipher.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
    } catch {
      return undefined;
    }
  }
}

function keyBytes(text: string): Buffer {
  return /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, "hex") : Buffer.from(text, "base64");
}

/** Whether `text` is usable as tokens.encryptionKey (checked when the config is loaded). */
export function isValidTokenKey(text: string): boolean {
  return keyBytes(text).length === 32;
}

function decodeKey(text: string): Buffer {
  const key = keyBytes(text);
  if (key.length !== 32) throw new Error("tokens.encryptionKey: must be 32 bytes, as base64 or 64 hex characters");
  return key;
}
