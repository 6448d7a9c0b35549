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
