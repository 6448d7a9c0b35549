/** Prometheus metrics of one cluster process (its own registry: tests run several clusters in one process). */
import { Counter, Registry, collectDefaultMetrics } from "prom-client";
import type { SnapshotCachedReader } from "./db/snapshotCache";

export interface Metrics {
  registry: Registry;
  /** HTTP requests this process sent to each remote cluster. */
  remoteRequests: Counter<"cluster" | "operation">;
  /** GraphQL requests served, by the cluster that forwarded them ("" for clients). */
  graphqlRequests: Counter<"forwarded_for">;
  /** Records a remote cluster answered for objects it does not own: dropped, never shown. */
  remoteRecordsDropped: Counter<"cluster">;
}

export function createMetrics(clusterId: string, reads?: SnapshotCachedReader["stats"]): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ fedgate_cluster: clusterId });
  collectDefaultMetrics({ register: registry });
  if (reads)
    new Counter({
      name: "fedgate_reads_total",
      help: "Hot reads answered from memory (the database unchanged since they last ran) or by the database",
      labelNames: ["answered_by"],
      registers: [registry],
      collect() {
        this.reset();
        this.inc({ answered_by: "memory" }, reads.hits);
        // Reads sent as written while the cache was not paying are the database's answers too.
        this.inc({ answered_by: "database" }, reads.misses + reads.bypasses);
      },
    });
  return {
    registry,
    remoteRequests: new Counter({
      name: "fedgate_remote_requests_total",
      help: "HTTP requests sent to remote clusters",
      labelNames: ["cluster", "operation"],
      registers: [registry],
    }),
    graphqlRequests: new Counter({
      name: "fedgate_graphql_requests_total",
      help: "GraphQL requests served",
      labelNames: ["forwarded_for"],
      registers: [registry],
    }),
    remoteRecordsDropped: new Counter({
      name: "fedgate_remote_records_dropped_total",
      help: "Records remote clusters answered for objects they do not own (dropped)",
      labelNames: ["cluster"],
      registers: [registry],
    }),
  };
}
