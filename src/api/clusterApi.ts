/**
 * The one API every layer implements (after Arvados' `arvados.API`): the local database
 * (src/localdb), the HTTP client to another cluster (src/federation/remoteClient) and the
 * federation router that picks between them by uuid prefix (src/federation/router).
 * Resolvers call only the router. Getters by uuid are batched (`…Get(uuids)`): they return
 * the records the caller may read, in no particular order, and leave out the others.
 */
import type { Caller } from "../auth/principal";
import type {
  CollectionRecord, ContentRecord, CreateCollectionInput, CreateGroupInput, CreatedToken,
  CreateTokenInput, CreateUserInput, GrantInput, GroupLevel, GroupClass, GroupRecord, ListOptions, Page, PageOptions,
  PermissionRecord, SubjectRecord, TokenRecord, UpdateCollectionInput, UpdateGroupInput, UserRecord,
} from "./types";
import type {
  ContainerAuthRecord, ContainerRecord, ContainerRequestRecord, ContainerSecretRecord, ContainerRequestState, ContainerState, ContainerTokenMintInput, CreateContainerRequestInput,
  ContainerOrder, PriorityCursor, UpdateContainerInput, UpdateContainerRequestInput,
} from "./types";
import type {
  CreateSecretInput, SecretRecord, SecretValueRecord, UpdateSecretInput, WrappedSecretRecord, WrappingInfoRecord,
} from "./types";

export interface ClusterApi {
  usersGet(c: Caller, uuids: string[]): Promise<UserRecord[]>;
  userList(c: Caller, o: ListOptions): Promise<Page<UserRecord>>;
  userCreate(c: Caller, input: CreateUserInput): Promise<UserRecord>;

  groupsGet(c: Caller, uuids: string[]): Promise<GroupRecord[]>;
  groupList(c: Caller, o: ListOptions & { groupClass?: GroupClass }): Promise<Page<GroupRecord>>;
  groupCreate(c: Caller, input: CreateGroupInput): Promise<GroupRecord>;
  groupContents(c: Caller, uuid: string, o: PageOptions): Promise<Page<ContentRecord>>;
  groupUpdate(c: Caller, uuid: string, input: UpdateGroupInput): Promise<GroupRecord>;
  groupDelete(c: Caller, uuid: string): Promise<GroupRecord>;

  collectionsGet(c: Caller, uuids: string[]): Promise<CollectionRecord[]>;
  collectionList(c: Caller, o: ListOptions & { ownerUuid?: string }): Promise<Page<CollectionRecord>>;
  collectionCreate(c: Caller, input: CreateCollectionInput): Promise<CollectionRecord>;
  collectionUpdate(c: Caller, uuid: string, input: UpdateCollectionInput): Promise<CollectionRecord>;
  collectionDelete(c: Caller, uuid: string): Promise<CollectionRecord>;

  /** Grants on an object of this cluster; the grantee's visibility is checked by the caller (the router). */
  permissionGrant(c: Caller, input: GrantInput): Promise<PermissionRecord>;
  permissionUpdate(c: Caller, uuid: string, level: GrantInput["level"]): Promise<PermissionRecord>;
  permissionRevoke(c: Caller, uuid: string): Promise<PermissionRecord>;
  permissionList(c: Caller, objectUuid: string): Promise<PermissionRecord[]>;
  /** Which of `uuids` (users, groups) the caller can see. */
  subjectsVisible(c: Caller, uuids: string[]): Promise<string[]>;
  /** The role groups the caller is in here, through its own links, with its level in each (bounded). */
  visibleGroups(c: Caller): Promise<GroupLevel[]>;
  /** Users and groups the caller can see, for the sharing dialog. */
  subjectList(c: Caller, o: ListOptions): Promise<Page<SubjectRecord>>;
  /** Projects and collections shared with the caller (by links, not owned). */
  sharedWithMe(c: Caller, o: ListOptions): Promise<Page<ContentRecord>>;

  tokenCreate(c: Caller, input: CreateTokenInput): Promise<CreatedToken>;
  tokenRevoke(c: Caller, uuid: string): Promise<TokenRecord>;
  tokenList(c: Caller, o: PageOptions & { userUuid?: string }): Promise<Page<TokenRecord>>;

  /** Secrets' metadata (never a value): those the caller can read. */
  secretsGet(c: Caller, uuids: string[]): Promise<SecretRecord[]>;
  secretList(c: Caller, o: ListOptions & { ownerUuid?: string }): Promise<Page<SecretRecord>>;
  secretCreate(c: Caller, input: CreateSecretInput): Promise<SecretRecord>;
  secretUpdate(c: Caller, uuid: string, input: UpdateSecretInput): Promise<SecretRecord>;
  secretDelete(c: Caller, uuid: string): Promise<SecretRecord>;
  /** One version's value (default: the current one), audited where the secret lives. */
  secretValue(c: Caller, uuid: string, version: number | null): Promise<SecretValueRecord>;
  /** A single-use wrapping token for one version (default: the current one). */
  secretWrap(c: Caller, uuid: string, version: number | null, ttlSeconds: number): Promise<WrappedSecretRecord>;
  /** The wrapped value, the first time only (no bearer token needed: `c` is null then). */
  secretUnwrap(c: Caller | null, token: string): Promise<SecretValueRecord>;
  wrappingLookup(c: Caller | null, token: string): Promise<WrappingInfoRecord>;

  containerRequestsGet(c: Caller, uuids: string[]): Promise<ContainerRequestRecord[]>;
  containerRequestList(c: Caller, o: ListOptions & { state?: ContainerRequestState }): Promise<Page<ContainerRequestRecord>>;
  /** `cluster`: where the container runs (default: here); the router delegates the request there. */
  containerRequestCreate(c: Caller, input: CreateContainerRequestInput, cluster?: string): Promise<ContainerRequestRecord>;
  containerRequestUpdate(c: Caller, uuid: string, input: UpdateContainerRequestInput): Promise<ContainerRequestRecord>;
  containersGet(c: Caller, uuids: string[]): Promise<ContainerRecord[]>;
  /** `order` "priority": this cluster's containers only, continuing after `afterPriority` (`after` is not read). */
  containerList(c: Caller, o: PageOptions & { state?: ContainerState; clusters?: string[]; order?: ContainerOrder; afterPriority?: PriorityCursor }): Promise<Page<ContainerRecord>>;
  /** The container the caller's token is bound to (a container's own token); NOT_FOUND for other tokens. */
  currentContainer(c: Caller): Promise<ContainerRecord>;
  /** Dispatchers (admins' tokens): Queued → Locked, minting the container's token. */
  containerLock(c: Caller, uuid: string): Promise<ContainerRecord>;
  containerUnlock(c: Caller, uuid: string): Promise<ContainerRecord>;
  containerUpdate(c: Caller, uuid: string, input: UpdateContainerInput): Promise<ContainerRecord>;
  /** The container's token, for the token holding its lock. */
  containerAuth(c: Caller, uuid: string): Promise<ContainerAuthRecord>;
  /** The values of the secrets the caller's container mounts, to its own token while it is Running. */
  containerSecrets(c: Caller): Promise<ContainerSecretRecord[]>;
  /**
   * Where a container runs: the state of the container the caller's token is bound to, read
   * now (never cached), for a cluster about to hand that token a secret value.
   */
  boundContainerState(c: Caller): Promise<ContainerState>;
  /**
   * At the home cluster of the caller's token, a runtime token presented salted for the
   * cluster asking: a child of it bound to a container of that cluster (and only that).
   */
  containerTokenMint(c: Caller, input: ContainerTokenMintInput): Promise<ContainerAuthRecord>;
  /** The same caller: revokes such a child (its container ended), and what was minted from it. */
  containerTokenRevoke(c: Caller, tokenUuid: string): Promise<TokenRecord>;
}

/** What only the local database can answer, used by the router to decide for remote callers. */
export interface LocalClusterApi extends ClusterApi {
  /**
   * Which of `uuids` the caller can see here directly, or through being linked here with one
   * of `viaGroups` (the groups the caller's home cluster says it can see).
   */
  subjectsVisibleVia(c: Caller, uuids: string[], viaGroups: string[]): Promise<string[]>;
  /**
   * For a request to be run on cluster `runsOn` without a runtime token: one minted here from
   * the caller's (unscoped, issued here) token with the container's cluster scopes. Raw: the
   * router hands `runsOn` only its salted form.
   */
  runtimeTokenFor(c: Caller, input: CreateContainerRequestInput, runsOn: string): Promise<string>;
}
