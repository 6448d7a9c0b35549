/**
 * `fedgate secrets rotate-key`: re-seals every stored value that is not under the active key.
 * Batch by batch, each in one transaction that locks its rows (FOR UPDATE SKIP LOCKED, so two
 * rotations at once share the work instead of waiting), opens each value with its own key and
 * seals it under the active one. Interrupted anywhere, every row holds either its old sealed
 * value or its new one, both readable while both keys are configured; run again, it picks up
 * the rows still under other keys. Once it reports none left, the old keys can be removed.
 */
import type { PrismaClient } from "@prisma/client";
import type { SecretKeyring } from "./keyring";

export interface RotationOptions {
  /** Values re-sealed per transaction. */
  batchSize: number;
  /** Stop after this many (an operator spreading the work; tests interrupting it). */
  maxValues?: number;
  /** After each committed batch. */
  onBatch?: (rewritten: number) => void;
}

export interface RotationResult {
  activeKey: string;
  rewritten: number;
  /** Values still under other keys (0 once the rotation is complete). */
  remaining: number;
}

type Row = { secretUuid: string; version: number; keyId: string; valueSealed: string };

export async function rotateSecretKeys(prisma: PrismaClient, keyring: SecretKeyring, o: RotationOptions): Promise<RotationResult> {
  const active = keyring.activeKey;
  if (active === undefined) throw new Error("secrets.activeKey is not set: name the key to re-seal values under");
  let rewritten = 0;
  for (;;) {
    const limit = Math.min(o.batchSize, (o.maxValues ?? Infinity) - rewritten);
    if (limit <= 0) break;
    const done = await prisma.$transaction(async (tx) => {
      const rows = await tx.$queryRaw<Row[]>`
        SELECT secret_uuid AS "secretUuid", version, key_id AS "keyId", value_sealed AS "valueSealed"
        FROM secret_versions WHERE key_id <> ${active} ORDER BY secret_uuid, version LIMIT ${limit} FOR UPDATE SKIP LOCKED`;
      for (const r of rows) {
        const value = keyring.open({ keyId: r.keyId, sealed: r.valueSealed }, r.secretUuid, r.version);
        const sealed = keyring.seal(value, r.secretUuid, r.version);
        await tx.$executeRaw`UPDATE secret_versions SET key_id = ${sealed.keyId}, value_sealed = ${sealed.sealed} WHERE secret_uuid = ${r.secretUuid} AND version = ${r.version}`;
      }
      return rows.length;
    });
    if (done === 0) break;
    rewritten += done;
    o.onBatch?.(rewritten);
  }
  const [{ n }] = await prisma.$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n FROM secret_versions WHERE key_id <> ${active}`;
  return { activeKey: active, rewritten, remaining: n };
}
