/**
 * A bounded cache of answers about tokens, keyed by a digest of what was presented and
 * indexed by token uuid, so that a revocation (local, or a hint from the home cluster) drops
 * every cached answer for that token in one look-up rather than a scan. A look-up that was
 * under way when its token was forgotten may carry a pre-revocation answer: `watch` tells.
 */
import { createHash } from "node:crypto";
import { LRUCache } from "lru-cache";

/** A cache key that never holds the presented secret itself. */
export function presentedKey(...parts: string[]): string {
  return createHash("sha256").update(parts.join("/")).digest("base64");
}

/** A look-up of one token under way; `stale` once the token was forgotten since it began. */
export interface Watch {
  readonly stale: boolean;
  close(): void;
}

export class TokenCache<V extends {}> {
  private readonly keysByUuid = new Map<string, Set<string>>();
  /** Look-ups under way, per token uuid (entries only while some are). */
  private readonly watching = new Map<string, Set<{ stale: boolean }>>();
  private readonly lru: LRUCache<string, { uuid: string; value: V }>;

  constructor(max: number) {
    this.lru = new LRUCache({
      max,
      ttl: 1000, // every entry is set with its own ttl
      dispose: (entry, key) => {
        const keys = this.keysByUuid.get(entry.uuid);
        keys?.delete(key);
        if (keys?.size === 0) this.keysByUuid.delete(entry.uuid);
      },
    });
  }

  get(key: string): V | undefined {
    return this.lru.get(key)?.value;
  }

  /** Keeps `value` for `ttlMs` (nothing is kept for a ttl of zero or less). */
  set(key: string, uuid: string, value: V, ttlMs: number): void {
    if (ttlMs <= 0) return;
    this.lru.set(key, { uuid, value }, { ttl: ttlMs });
    this.keysByUuid.set(uuid, (this.keysByUuid.get(uuid) ?? new Set()).add(key));
  }

  /** Drops every answer cached about token `uuid`, and marks look-ups of it under way stale. */
  forget(uuid: string): void {
    for (const key of [...(this.keysByUuid.get(uuid) ?? [])]) this.lru.delete(key);
    for (const marker of this.watching.get(uuid) ?? []) marker.stale = true;
  }

  /** Drops every cached answer, and marks every look-up under way stale (notifications may have been missed). */
  forgetAll(): void {
    this.lru.clear();
    this.keysByUuid.clear();
    for (const markers of this.watching.values()) for (const marker of markers) marker.stale = true;
  }

  /** Call before reading token `uuid` from its source; close when done. */
  watch(uuid: string): Watch {
    const marker = { stale: false };
    const markers = this.watching.get(uuid) ?? new Set();
    this.watching.set(uuid, markers.add(marker));
    return {
      get stale() {
        return marker.stale;
      },
      close: () => {
        markers.delete(marker);
        if (markers.size === 0) this.watching.delete(uuid);
      },
    };
  }
}
