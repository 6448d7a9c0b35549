/**
 * Revocation push. The home cluster remembers which clusters it vouched for each token to (a
 * salted look-up names the asking cluster); when a token is revoked it tells each of them to
 * drop its cached validation. The hint carries no authority: the receiver just validates again
 * on next use. The remote cache time stays the backstop for a cluster that misses the hint.
 */
import type { PrismaClient } from "@prisma/client";
import { log } from "../log";
import type { ClusterRegistry } from "./registry";
import { callRemote, type TransportDeps } from "./transport";

/** Hints should not hold a revocation up for long: a missed one is covered by the cache time. */
const HINT_TIMEOUT_MS = 3000;

export class RevocationPush {
  private readonly recorded = new Set<string>();

  constructor(
    private readonly prisma: PrismaClient,
    private readonly registry: ClusterRegistry,
    private readonly transport: TransportDeps,
  ) {}

  /**
   * Notes that `cluster` validated `tokenUuid` here (once per process per pair). Only clusters
   * in the table are recorded (the header naming them is only an assertion); others rely on
   * their cache time.
   */
  async recordUse(tokenUuid: string, cluster: string): Promise<void> {
    if (!this.registry.tableIds().includes(cluster)) return;
    const key = `${tokenUuid}/${cluster}`;
    if (this.recorded.has(key)) return;
    this.recorded.add(key);
    await this.prisma.tokenRemoteValidation.upsert({
      where: { tokenUuid_clusterId: { tokenUuid, clusterId: cluster } },
      create: { tokenUuid, clusterId: cluster },
      update: { validatedAt: new Date() },
    });
  }

  /** Tells every cluster that validated one of these tokens to forget it. */
  async push(tokenUuids: string[]): Promise<void> {
    const rows = await this.prisma.tokenRemoteValidation.findMany({ where: { tokenUuid: { in: tokenUuids } } });
    const byCluster = new Map<string, string[]>();
    for (const r of rows) byCluster.set(r.clusterId, [...(byCluster.get(r.clusterId) ?? []), r.tokenUuid]);
    await Promise.allSettled(
      [...byCluster].map(async ([cluster, uuids]) => {
        const target = this.registry.find(cluster);
        if (!target) return;
        const fields = uuids.map((u, i) => `d${i}: dropCachedToken(uuid: ${JSON.stringify(u)})`).join(" ");
        try {
          await callRemote(this.transport, { ...target, timeoutMs: Math.min(target.timeoutMs, HINT_TIMEOUT_MS) }, undefined, "DropCachedTokens", `mutation DropCachedTokens { ${fields} }`, {});
        } catch (e) {
          log.warn("revocation hint not delivered; the remote cache time applies", { cluster, error: (e as Error).message });
        }
      }),
    );
  }
}
