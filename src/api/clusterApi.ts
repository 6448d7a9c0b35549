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
  CreateTokenInput, CreateUserInput, GroupClass, GroupRecord, ListOptions, Page, PageOptions,
  TokenRecord, UpdateCollectionInput, UserRecord,
} from "./types";

export interface ClusterApi {
  usersGet(c: Caller, uuids: string[]): Promise<UserRecord[]>;
  userList(c: Caller, o: ListOptions): Promise<Page<UserRecord>>;
  userCreate(c: Caller, input: CreateUserInput): Promise<UserRecord>;

  groupsGet(c: Caller, uuids: string[]): Promise<GroupRecord[]>;
  groupList(c: Caller, o: ListOptions & { groupClass?: GroupClass }): Promise<Page<GroupRecord>>;
  groupCreate(c: Caller, input: CreateGroupInput): Promise<GroupRecord>;
  groupContents(c: Caller, uuid: string, o: PageOptions): Promise<Page<ContentRecord>>;

  collectionsGet(c: Caller, uuids: string[]): Promise<CollectionRecord[]>;
  collectionList(c: Caller, o: ListOptions & { ownerUuid?: string }): Promise<Page<CollectionRecord>>;
  collectionCreate(c: Caller, input: CreateCollectionInput): Promise<CollectionRecord>;
  collectionUpdate(c: Caller, uuid: string, input: UpdateCollectionInput): Promise<CollectionRecord>;
  collectionDelete(c: Caller, uuid: string): Promise<CollectionRecord>;

  tokenCreate(c: Caller, input: CreateTokenInput): Promise<CreatedToken>;
  tokenRevoke(c: Caller, uuid: string): Promise<TokenRecord>;
  tokenList(c: Caller, o: PageOptions & { userUuid?: string }): Promise<Page<TokenRecord>>;
}
