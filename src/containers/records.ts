/** Rows of container_requests and containers as the records every ClusterApi speaks. */
import type { Container, ContainerRequest } from "@prisma/client";
import type { ContainerRecord, ContainerRequestRecord, ContainerRequestState, ContainerSpec, ContainerState } from "../api/types";
import { clusterScopesFromJson } from "../auth/authority";
import { scopesFromJson } from "../auth/scopes";
import { secretMountsFromJson } from "./secretMounts";

export function specOf(row: ContainerRequest | Container): ContainerSpec {
  return {
    command: row.command as string[],
    cwd: row.cwd,
    environment: row.environment as Record<string, string>,
    containerImage: row.containerImage,
    mounts: row.mounts as Record<string, unknown>,
    outputPath: row.outputPath,
    runtimeConstraints: row.runtimeConstraints as Record<string, unknown>,
    schedulingParameters: row.schedulingParameters as Record<string, unknown>,
  };
}

export function toRequestRecord(row: ContainerRequest): ContainerRequestRecord {
  return {
    ...specOf(row),
    uuid: row.uuid,
    ownerUuid: row.ownerUuid,
    name: row.name,
    description: row.description,
    properties: row.properties,
    state: row.state as ContainerRequestState,
    priority: row.priority,
    useExisting: row.useExisting,
    containerCount: row.containerCount,
    containerCountMax: row.containerCountMax,
    containerUuid: row.containerUuid,
    requestingContainerUuid: row.requestingContainerUuid,
    outputUuid: row.outputUuid,
    logUuid: row.logUuid,
    hasRuntimeToken: row.runtimeTokenSealed !== null,
    runtimeClusterScopes: clusterScopesFromJson(row.runtimeClusterScopes),
    secretMounts: secretMountsFromJson(row.secretMounts),
    createdAt: row.createdAt,
    modifiedAt: row.modifiedAt,
  };
}

export function toContainerRecord(row: Container): ContainerRecord {
  return {
    ...specOf(row),
    uuid: row.uuid,
    state: row.state as ContainerState,
    priority: row.priority,
    exitCode: row.exitCode,
    output: row.output,
    log: row.log,
    progress: row.progress,
    runtimeStatus: row.runtimeStatus,
    lockedByUuid: row.lockedByUuid,
    authUuid: row.authUuid,
    lockCount: row.lockCount,
    runtimeUserUuid: row.runtimeUserUuid,
    runtimeAuthScopes: scopesFromJson(row.runtimeAuthScopes),
    secretMounts: secretMountsFromJson(row.secretMounts),
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
    createdAt: row.createdAt,
    modifiedAt: row.modifiedAt,
  };
}
