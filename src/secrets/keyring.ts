/**
 * The keys that seal secret values at rest (config `secrets.keys`, `secrets.activeKey`):
 * AES-256-GCM through SecretBox, with "<secret uuid>/<version>" as associated data, so a sealed
 * value copied onto another row (another secret, or another version of the same one) does not
 * open. Each stored value names the key that sealed it, so keys can be rotated: new values go
 * under the active key, `fedgate secrets rotate-key` moves the old ones, then the old key can go.
 * A copy of the database without the keys holds no value in readable form.
 */
import { randomBytes } from "node:crypto";
import { SecretBox } from "../auth/secretBox";
import { unavailable } from "../errors";
import { log } from "../log";

/** Upper bound of `secrets.maxWrapTtlSeconds`: a wrapping token is meant to be short-lived. */
export const MAX_WRAP_TTL_SECONDS = 30 * 86_400;

/** Key id of the key made up at start for an in-memory cluster without configured keys. */
export const EPHEMERAL_KEY_ID = "ephemeral";

/** Whether `text` is usable as a secrets key: 32 bytes as (standard) base64. */
export function isValidSecretKey(text: string): boolean {
  return /^[A-Za-z0-9+/]+={0,2}$/.test(text) && Buffer.from(text, "base64").length === 32;
}

/** A value as stored: the key's id and the sealed text. */
export interface SealedValue {
  keyId: string;
  sealed: string;
}

export interface SecretKeysConfig {
  keys: Record<string, string>;
  activeKey?: string;
}

const aad = (secretUuid: string, version: number) => `${secretUuid}/${version}`;

export class SecretKeyring {
  private constructor(
    private readonly boxes: ReadonlyMap<string, SecretBox>,
    /** undefined: no key configured (a persistent cluster that stores no secrets). */
    readonly activeKey: string | undefined,
  ) {}

  /**
   * The configured keys. Without any, an in-memory cluster (whose values die with it) gets a
   * random key of its own, shown nowhere; a persistent one stores no value until keys are set.
   */
  static fromConfig(config: SecretKeysConfig, persistent: boolean): SecretKeyring {
    const entries = Object.entries(config.keys);
    if (entries.length === 0 && !persistent) return new SecretKeyring(new Map([[EPHEMERAL_KEY_ID, SecretBox.fromKey(randomBytes(32))]]), EPHEMERAL_KEY_ID);
    return new SecretKeyring(new Map(entries.map(([id, key]) => [id, SecretBox.fromKey(Buffer.from(key, "base64"))])), config.activeKey);
  }

  /** Seals a value of version `version` of secret `secretUuid` under the active key. */
  seal(value: string, secretUuid: string, version: number): SealedValue {
    const keyId = this.activeKey;
    if (keyId === undefined)
      throw unavailable("secrets cannot be stored on this cluster: its database persists and no key is configured (set secrets.keys and secrets.activeKey, or FEDGATE_SECRETS_KEYS and FEDGATE_SECRETS_ACTIVE_KEY)");
    return { keyId, sealed: this.boxes.get(keyId)!.seal(value, aad(secretUuid, version)) };
  }

  /** The value; UNAVAILABLE when its key is not configured or it does not open (moved or altered). */
  open(stored: SealedValue, secretUuid: string, version: number): string {
    const box = this.boxes.get(stored.keyId);
    if (!box) throw unavailable(`the value of secret "${secretUuid}" version ${version} is sealed under key "${stored.keyId}", which this cluster's secrets.keys does not hold`);
    const value = box.open(stored.sealed, aad(secretUuid, version));
    if (value === undefined) {
      log.error("a stored secret value does not open under its key: altered or moved in the database", { secretUuid, version, keyId: stored.keyId });
      throw unavailable(`the value of secret "${secretUuid}" version ${version} cannot be opened (altered in the database?)`);
    }
    return value;
  }
}
