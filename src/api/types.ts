/**
 * The records and options every ClusterApi implementation speaks: the local database, the
 * remote client and the federation router all return these shapes.
 */
import type { ScopeSet } from "../auth/scopes";
import type { ClusterScopes } from "../auth/authority";
import type { PermissionLevel } from "../permissions/levels";

export interface UserRecord {
  uuid: string;
  email: string | null;
  fullName: string | null;
  isActive: boolean;
  isAdmin: boolean;
}

export type GroupClass = "role" | "project";
export interface GroupRecord {
  uuid: string;
  name: string;
  groupClass: GroupClass;
  ownerUuid: string;
  description: string | null;
  createdAt: Date;
}

export interface CollectionRecord {
  uuid: string;
  name: string;
  ownerUuid: string;
  portableDataHash: string | null;
  manifestText: string | null;
  properties: unknown;
  createdAt: Date;
  modifiedAt: Date;
}

export interface TokenRecord {
  uuid: string;
  userUuid: string;
  scopes: ScopeSet;
  clusterScopes: ClusterScopes | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
  createdAt: Date;
  /** Set on a container's token: the container it is bound to (valid only while that is Locked or Running). */
  containerUuid?: string | null;
}

export interface PermissionRecord {
  uuid: string;
  headUuid: string;
  tailUuid: string;
  level: PermissionLevel;
}

export interface SubjectRecord {
  uuid: string;
  kind: "user" | "group";
  name: string | null;
  email: string | null;
  groupClass: GroupClass | null;
}

/** A role group a user is in, and the user's level there. */
export interface GroupLevel {
  uuid: string;
  level: PermissionLevel;
}

export interface GrantInput {
  headUuid: string;
  tailUuid: string;
  level: PermissionLevel;
}

export interface UpdateGroupInput {
  name?: string | null;
  ownerUuid?: string | null;
  description?: string | null;
}

export type ContentRecord = ({ kind: "group" } & GroupRecord) | ({ kind: "collection" } & CollectionRecord);

export interface ClusterFailure {
  cluster: string;
  code: string;
  message: string;
}

export interface Page<T> {
  nodes: T[];
  /** uuid of the last node (lists are ordered by uuid). */
  endCursor: string | null;
  hasNextPage: boolean;
  failedClusters: ClusterFailure[];
}

export interface PageOptions {
  first: number;
  /** Items strictly after this uuid. */
  after?: string;
}

export interface ListOptions extends PageOptions {
  search?: string;
  /** Clusters to ask; undefined: this cluster only. Only the federation router reads it. */
  clusters?: string[];
}

export interface CreateUserInput {
  email: string;
  fullName?: string | null;
  isAdmin?: boolean | null;
  isActive?: boolean | null;
}
export interface CreateGroupInput {
  name: string;
  groupClass: GroupClass;
  ownerUuid?: string | null;
  description?: string | null;
}
export interface CreateCollectionInput {
  name: string;
  ownerUuid?: string | null;
  manifestText?: string | null;
  portableDataHash?: string | null;
  properties?: unknown;
}
export type UpdateCollectionInput = Partial<{ [K in keyof CreateCollectionInput]: CreateCollectionInput[K] | null }>;

export interface CreateTokenInput {
  scopes: ScopeSet;
  clusterScopes: ClusterScopes | null;
  expiresAt: Date | null;
  userUuid?: string | null;
}
export interface CreatedToken {
  uuid: string;
  token: string;
  expiresAt: Date | null;
}

export type ContainerRequestState = "Uncommitted" | "Committed" | "Final";
export type ContainerState = "Queued" | "Locked" | "Running" | "Complete" | "Cancelled";

/** What a container runs; identical specs (with the same runtime user and scopes) may share one container. */
export interface ContainerSpec {
  command: string[];
  cwd: string;
  environment: Record<string, string>;
  containerImage: string;
  mounts: Record<string, unknown>;
  outputPath: string;
  runtimeConstraints: Record<string, unknown>;
  schedulingParameters: Record<string, unknown>;
}

/**
 * A secret a container gets as a file at `path` in its working directory: named by uuid and
 * version, never by value. `version` null: the current one, pinned when the request commits.
 */
export interface SecretMount {
  path: string;
  secretUuid: string;
  version: number | null;
}

/** A secret mount's value, to the running container it was named for. */
export interface ContainerSecretRecord {
  path: string;
  secretUuid: string;
  version: number;
  value: string;
}

export interface ContainerRequestRecord extends ContainerSpec {
  uuid: string;
  ownerUuid: string;
  name: string | null;
  description: string | null;
  properties: unknown;
  state: ContainerRequestState;
  priority: number;
  useExisting: boolean;
  containerCount: number;
  containerCountMax: number;
  containerUuid: string | null;
  requestingContainerUuid: string | null;
  outputUuid: string | null;
  logUuid: string | null;
  /** The runtime token itself never leaves the database. */
  hasRuntimeToken: boolean;
  runtimeClusterScopes: ClusterScopes | null;
  secretMounts: SecretMount[];
  createdAt: Date;
  modifiedAt: Date;
}

export interface ContainerRecord extends ContainerSpec {
  uuid: string;
  state: ContainerState;
  priority: number;
  exitCode: number | null;
  output: string | null;
  /** The log collection's uuid. */
  log: string | null;
  progress: number | null;
  runtimeStatus: unknown;
  lockedByUuid: string | null;
  authUuid: string | null;
  lockCount: number;
  runtimeUserUuid: string;
  runtimeAuthScopes: ScopeSet;
  /** Pinned: every version is a number. */
  secretMounts: SecretMount[];
  startedAt: Date | null;
  finishedAt: Date | null;
  createdAt: Date;
  modifiedAt: Date;
}

/** The token a container must use (containerAuth): never the runtime token itself. */
export interface ContainerAuthRecord {
  uuid: string;
  token: string;
  expiresAt: Date | null;
  scopes: ScopeSet;
  clusterScopes: ClusterScopes | null;
}

/**
 * What a cluster running a container asks the home cluster of the container's runtime token
 * to mint (with that token salted for the asking cluster): a child bound to the container.
 */
export interface ContainerTokenMintInput {
  /** A container of the asking cluster. */
  containerUuid: string;
  /** The asking cluster at most the runtime token's scopes there, every other cluster at most reads. */
  clusterScopes: ClusterScopes;
  /** Earlier than the home's bound (the runtime token's expiry, its containers.runtimeTokenTTL); null: that bound. */
  expiresAt: Date | null;
}

/** Fields of a container request as checked at the GraphQL edge (absent: unchanged / default). */
export interface ContainerRequestFields {
  name?: string | null;
  description?: string | null;
  ownerUuid?: string | null;
  properties?: unknown;
  state?: ContainerRequestState | null;
  priority?: number | null;
  command?: string[] | null;
  cwd?: string | null;
  environment?: Record<string, string> | null;
  containerImage?: string | null;
  mounts?: Record<string, unknown> | null;
  outputPath?: string | null;
  runtimeConstraints?: Record<string, unknown> | null;
  schedulingParameters?: Record<string, unknown> | null;
  useExisting?: boolean | null;
  containerCountMax?: number | null;
  /** Write-only: validated when given, stored sealed. */
  runtimeToken?: string | null;
  runtimeClusterScopes?: ClusterScopes | null;
  /** Sorted by path, checked for shape at the edge; readability checked and versions pinned at commit. */
  secretMounts?: SecretMount[] | null;
}
export interface CreateContainerRequestInput extends ContainerRequestFields {
  command: string[];
  containerImage: string;
  outputPath: string;
}
export type UpdateContainerRequestInput = ContainerRequestFields;

export interface UpdateContainerInput {
  state?: ContainerState | null;
  exitCode?: number | null;
  output?: string | null;
  log?: string | null;
  progress?: number | null;
  runtimeStatus?: unknown;
}

/** A secret's metadata: never its value (src/secrets). */
export interface SecretRecord {
  uuid: string;
  name: string;
  description: string | null;
  ownerUuid: string;
  currentVersion: number;
  /** Oldest first. */
  versions: SecretVersionRecord[];
  createdAt: Date;
  modifiedAt: Date;
}
export interface SecretVersionRecord {
  version: number;
  createdAt: Date;
  createdByUuid: string;
}
/** The one record that carries a value: answered only to the operations that exist to return it. */
export interface SecretValueRecord {
  uuid: string;
  version: number;
  value: string;
  /** When this version was written (Vault's KV metadata.created_time). */
  createdAt: Date;
}
export interface CreateSecretInput {
  name: string;
  ownerUuid?: string | null;
  description?: string | null;
  value: string;
}
export interface UpdateSecretInput {
  name?: string | null;
  description?: string | null;
  /** A value makes a new version. */
  value?: string | null;
}
export interface WrappedSecretRecord {
  token: string;
  expiresAt: Date;
}
export interface WrappingInfoRecord {
  secretUuid: string;
  version: number;
  creatorUuid: string;
  createdAt: Date;
  expiresAt: Date;
  unwrapped: boolean;
}

/** The order of a containers list: by uuid (as every list), or the dispatcher's queue: highest priority first, then uuid. */
export type ContainerOrder = "uuid" | "priority";

/** Where a page of containers in priority order continues: strictly after this place in that order. */
export interface PriorityCursor {
  priority: number;
  uuid: string;
}
