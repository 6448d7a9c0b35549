/**
 * The remote-cluster table: id → base URL and options, with an optional default pattern for
 * ids not in the table (unless strict), as Arvados' RemoteClusters.
 */
import type { ClusterConfig, RemoteClusterConfig } from "../config/config";
import { notFound } from "../errors";

export interface RemoteCluster extends RemoteClusterConfig {
  id: string;
  /** Resolved through remoteClusterPattern, not the table: any id a client names can get here. */
  viaPattern?: boolean;
}

const PATTERN_DEFAULTS = { activateUsers: false, timeoutMs: 10_000 };

export class ClusterRegistry {
  constructor(private readonly config: Pick<ClusterConfig, "clusterId" | "remoteClusters" | "remoteClusterPattern" | "strictRemoteClusters" | "loginCluster">) {}

  get selfId(): string {
    return this.config.clusterId;
  }

  get loginCluster(): string | undefined {
    return this.config.loginCluster;
  }

  /** The remote cluster `id`, or undefined when it is unknown (not in the table, no usable pattern). */
  find(id: string): RemoteCluster | undefined {
    const entry = this.config.remoteClusters[id];
    if (entry) return { id, ...entry };
    if (this.config.strictRemoteClusters || !this.config.remoteClusterPattern) return undefined;
    return { id, url: this.config.remoteClusterPattern.replace(/\{id\}/g, id).replace(/\/+$/, ""), ...PATTERN_DEFAULTS, viaPattern: true };
  }

  /** Like find, but an unknown cluster is NOT_FOUND. */
  get(id: string): RemoteCluster {
    const c = this.find(id);
    if (!c) throw notFound("cluster", id);
    return c;
  }

  /** Ids of the clusters in the table. */
  tableIds(): string[] {
    return Object.keys(this.config.remoteClusters);
  }
}
