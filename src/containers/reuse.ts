/**
 * Container reuse: a committed request with `useExisting` gets an existing container whose
 * spec is identical (command, cwd, environment, outputPath, containerImage, mounts,
 * runtimeConstraints) and that runs as the same user with the same sorted scopes (seed 003;
 * Arvados later dropped that check), compared through one indexed hash column. Preference: a
 * Complete container with exit code 0 whose output the requester can read, then Running, then
 * Locked, then Queued; never Cancelled.
 */
import { createHash } from "node:crypto";
import { Prisma } from "@prisma/client";
import stableStringify from "fast-json-stable-stringify";
import type { ContainerSpec } from "../api/types";
import type { ClusterScopes } from "../auth/authority";
import { clusterScopesToJson } from "../auth/authority";
import type { Principal } from "../auth/principal";
import { scopesToJson, type ScopeSet } from "../auth/scopes";
import { collectionReadable } from "../permissions/access";

/** Who a container runs as and with what authority: part of the reuse key. */
export interface RuntimeIdentity {
  runtimeUserUuid: string;
  runtimeAuthScopes: ScopeSet;
  /**
   * A request's narrowing of the container token; absent from the key when there is none. A
   * child request of a running container records here what the requesting container's token
   * allows it (src/localdb/containerRequests.ts), so that is part of the key: no reuse across
   * authorities, reuse between children whose parents allow the same over the child's inputs.
   */
  runtimeClusterScopes: ClusterScopes | null;
}

/**
 * The reuse key's hash: sha256 of the key-sorted JSON of the spec and runtime identity.
 * `extra` is for what later parts add to the key (secret mounts as sorted [uuid, version]):
 * left out when undefined, so the hashes of existing containers stay valid.
 */
export function reuseHash(spec: Omit<ContainerSpec, "schedulingParameters">, runtime: RuntimeIdentity, extra?: unknown): string {
  const key = {
    command: spec.command,
    cwd: spec.cwd,
    environment: spec.environment,
    outputPath: spec.outputPath,
    containerImage: spec.containerImage,
    mounts: spec.mounts,
    runtimeConstraints: spec.runtimeConstraints,
    runtimeUserUuid: runtime.runtimeUserUuid,
    runtimeAuthScopes: scopesToJson(runtime.runtimeAuthScopes),
    ...(runtime.runtimeClusterScopes ? { runtimeClusterScopes: clusterScopesToJson(runtime.runtimeClusterScopes) } : {}),
    ...(extra !== undefined ? { extra } : {}),
  };
  return createHash("sha256").update(stableStringify(key)).digest("hex");
}

/**
 * The best reusable container for `hash`, locked FOR UPDATE (so it cannot change state before
 * the request is attached), or undefined. One statement on the (reuse_hash, state) index; a
 * Complete candidate also needs a collection with its output's portable data hash that
 * `requester` can read (the index on collections.portable_data_hash).
 */
export async function findReusable(tx: Prisma.TransactionClient, hash: string, requester: Principal): Promise<string | undefined> {
  const rows = await tx.$queryRaw<{ uuid: string }[]>`
    SELECT ct.uuid FROM containers ct
    WHERE ct.reuse_hash = ${hash} AND ct.state IN ('Complete', 'Running', 'Locked', 'Queued')
      AND (ct.state <> 'Complete' OR (ct.exit_code = 0 AND EXISTS (
        SELECT 1 FROM collections c WHERE c.portable_data_hash = ct.output AND ${collectionReadable(requester)})))
    ORDER BY CASE ct.state WHEN 'Complete' THEN 0 WHEN 'Running' THEN 1 WHEN 'Locked' THEN 2 ELSE 3 END, ct.created_at, ct.uuid
    LIMIT 1
    FOR UPDATE OF ct`;
  return rows[0]?.uuid;
}
