/**
 * Another cluster's fedgate as a ClusterApi: each method is one GraphQL request to its
 * /graphql (every cluster runs the same schema), with the caller's token salted for it.
 */
import type { ClusterApi } from "../api/clusterApi";
import type {
  CollectionRecord, ContentRecord, CreateTokenInput, GroupLevel, GroupRecord, Page, PageOptions, PermissionRecord, SubjectRecord, TokenRecord, UserRecord,
} from "../api/types";
import type { SecretRecord, SecretValueRecord, WrappingInfoRecord } from "../api/types";
import type { ContainerAuthRecord, ContainerRecord, ContainerRequestRecord, ContainerSecretRecord, ContainerState, UpdateContainerRequestInput } from "../api/types";
import { clusterScopesFromJson, type ClusterScopes } from "../auth/authority";
import { scopesFromJson, type ScopeSet } from "../auth/scopes";
import { CONTAINER_STATES } from "../containers/states";
import { decodeCursor, encodeCursor } from "../graphql/args";
import { badInput, unavailable } from "../errors";
import type { RemoteCluster } from "./registry";
import { callRemote, type TransportDeps } from "./transport";

const USER = "uuid email fullName isActive isAdmin";
const GROUP = "uuid name groupClass ownerUuid description createdAt";
const COLLECTION = "uuid name ownerUuid portableDataHash manifestText properties createdAt modifiedAt";
const TOKEN = "uuid userUuid scopes { method path } clusterScopes expiresAt revokedAt createdAt containerUuid";
const PAGE = "pageInfo { endCursor hasNextPage }";
const PERMISSION = "uuid headUuid tailUuid level";
const SUBJECT = "uuid kind name email groupClass";
const SECRET = "uuid name description ownerUuid currentVersion versions { version createdAt createdByUuid } createdAt modifiedAt";
const SECRET_VALUE = "uuid version value createdAt";
const WRAPPING_INFO = "secretUuid version creatorUuid createdAt expiresAt unwrapped";
const CONTENT = `__typename ... on Group { ${GROUP} } ... on Collection { ${COLLECTION} }`;

type Wire = Record<string, unknown>;
type WirePage = { nodes: Wire[]; pageInfo: { endCursor: string | null; hasNextPage: boolean } };

const date = (v: unknown) => (v == null ? null : new Date(String(v)));
const toGroup = (w: Wire) => ({ ...w, createdAt: date(w.createdAt) }) as GroupRecord;
const toCollection = (w: Wire) => ({ ...w, createdAt: date(w.createdAt), modifiedAt: date(w.modifiedAt) }) as CollectionRecord;
export const toToken = (w: Wire): TokenRecord => ({
  uuid: String(w.uuid),
  userUuid: String(w.userUuid),
  scopes: scopesFromJson(w.scopes),
  clusterScopes: clusterScopesFromJson(w.clusterScopes),
  expiresAt: date(w.expiresAt),
  revokedAt: date(w.revokedAt),
  createdAt: date(w.createdAt)!,
  containerUuid: typeof w.containerUuid === "string" ? w.containerUuid : null,
});

const toSecret = (w: Wire): SecretRecord => ({
  ...(w as unknown as SecretRecord),
  versions: (w.versions as Wire[]).map((v) => ({ version: Number(v.version), createdAt: date(v.createdAt)!, createdByUuid: String(v.createdByUuid) })),
  createdAt: date(w.createdAt)!,
  modifiedAt: date(w.modifiedAt)!,
});
const toWrappingInfo = (w: Wire): WrappingInfoRecord => ({ ...(w as unknown as WrappingInfoRecord), createdAt: date(w.createdAt)!, expiresAt: date(w.expiresAt)! });

const toContent = (w: Wire): ContentRecord =>
  w.__typename === "Group" ? { kind: "group", ...toGroup(w) } : { kind: "collection", ...toCollection(w) };

function toPage<T>(w: WirePage, map: (x: Wire) => T): Page<T> {
  return {
    nodes: w.nodes.map(map),
    endCursor: decodeCursor(w.pageInfo.endCursor) ?? null,
    hasNextPage: w.pageInfo.hasNextPage,
    failedClusters: [],
  };
}

const scopesToWire = (s: ScopeSet) => s?.map(({ method, path }) => ({ method, path })) ?? null;

/** Cluster scopes as [ClusterScopeInput]. Entries come from that same input type, so none is "all". */
function clusterScopesToWire(cs: ClusterScopes | null | undefined): Wire[] | null | undefined {
  return cs && Object.entries(cs).map(([cluster, s]) => {
    if (s === null) throw badInput(`clusterScopes for ${cluster}: ["all"] cannot be sent to another cluster as a list of scopes`);
    return { cluster, scopes: scopesToWire(s) };
  });
}

function tokenInputToWire(i: CreateTokenInput): Wire {
  return { scopes: scopesToWire(i.scopes), clusterScopes: clusterScopesToWire(i.clusterScopes), expiresAt: i.expiresAt?.toISOString() ?? null, userUuid: i.userUuid ?? null };
}

const SPEC = "command cwd environment containerImage mounts outputPath runtimeConstraints schedulingParameters";
const CONTAINER_REQUEST = `uuid ownerUuid name description properties state priority ${SPEC} useExisting containerCount containerCountMax
  containerUuid requestingContainerUuid outputUuid logUuid hasRuntimeToken runtimeClusterScopes secretMounts { path secretUuid version } createdAt modifiedAt`;
const CONTAINER = `uuid state priority ${SPEC} exitCode output log progress runtimeStatus lockedByUuid authUuid lockCount
  runtimeUserUuid runtimeAuthScopes { method path } secretMounts { path secretUuid version } startedAt finishedAt createdAt modifiedAt`;

const toContainerRequest = (w: Wire) =>
  ({ ...w, runtimeClusterScopes: clusterScopesFromJson(w.runtimeClusterScopes), createdAt: date(w.createdAt), modifiedAt: date(w.modifiedAt) }) as ContainerRequestRecord;
const toContainer = (w: Wire) =>
  ({
    ...w, runtimeAuthScopes: scopesFromJson(w.runtimeAuthScopes),
    startedAt: date(w.startedAt), finishedAt: date(w.finishedAt), createdAt: date(w.createdAt), modifiedAt: date(w.modifiedAt),
  }) as ContainerRecord;
const CONTAINER_AUTH = "uuid token expiresAt scopes { method path } clusterScopes";
const toContainerAuth = (r: Wire): ContainerAuthRecord => ({
  uuid: String(r.uuid), token: String(r.token), expiresAt: date(r.expiresAt), scopes: scopesFromJson(r.scopes), clusterScopes: clusterScopesFromJson(r.clusterScopes),
});
const containerRequestInputToWire = (i: UpdateContainerRequestInput): Wire => ({ ...i, runtimeClusterScopes: clusterScopesToWire(i.runtimeClusterScopes) });

const pageVars = (o: PageOptions) => ({ first: o.first, after: encodeCursor(o.after ?? null) });

/** `token`: the caller's token already salted for `target` (undefined: anonymous). */
export function remoteCluster(deps: TransportDeps, target: RemoteCluster, token: string | undefined): ClusterApi {
  const call = <T>(op: string, query: string, vars: Record<string, unknown> = {}) =>
    callRemote<T>(deps, target, token, op, query, vars);
  return {
    usersGet: async (_c, uuids) =>
      (await call<{ r: UserRecord[] }>("UsersByUuid", `query UsersByUuid($u:[ID!]!){ r: usersByUuid(uuids:$u){ ${USER} } }`, { u: uuids })).r,
    userList: async (_c, o) =>
      toPage((await call<{ r: WirePage }>("Users", `query Users($s:String,$first:Int,$after:String){ r: users(search:$s,first:$first,after:$after){ nodes { ${USER} } ${PAGE} } }`, { s: o.search, ...pageVars(o) })).r, (w) => w as unknown as UserRecord),
    userCreate: async () => {
      throw unavailable(`users are created on their own cluster (${target.id}), not through another`);
    },

    groupsGet: async (_c, uuids) =>
      (await call<{ r: Wire[] }>("GroupsByUuid", `query GroupsByUuid($u:[ID!]!){ r: groupsByUuid(uuids:$u){ ${GROUP} } }`, { u: uuids })).r.map(toGroup),
    groupList: async (_c, o) =>
      toPage((await call<{ r: WirePage }>("Groups", `query Groups($s:String,$gc:String,$first:Int,$after:String){ r: groups(search:$s,groupClass:$gc,first:$first,after:$after){ nodes { ${GROUP} } ${PAGE} } }`, { s: o.search, gc: o.groupClass, ...pageVars(o) })).r, toGroup),
    groupCreate: async (_c, input) =>
      toGroup((await call<{ r: Wire }>("CreateGroup", `mutation CreateGroup($i:CreateGroupInput!){ r: createGroup(input:$i){ ${GROUP} } }`, { i: input })).r),
    groupContents: async (_c, uuid, o) =>
      toPage(
        (await call<{ r: { contents: WirePage } }>("GroupContents", `query GroupContents($u:ID!,$first:Int,$after:String){ r: group(uuid:$u){ contents(first:$first,after:$after){ nodes { ${CONTENT} } ${PAGE} } } }`, { u: uuid, ...pageVars(o) })).r.contents,
        toContent,
      ),
    groupUpdate: async (_c, uuid, input) =>
      toGroup((await call<{ r: Wire }>("UpdateGroup", `mutation UpdateGroup($u:ID!,$i:UpdateGroupInput!){ r: updateGroup(uuid:$u,input:$i){ ${GROUP} } }`, { u: uuid, i: input })).r),
    groupDelete: async (_c, uuid) =>
      toGroup((await call<{ r: Wire }>("DeleteGroup", `mutation DeleteGroup($u:ID!){ r: deleteGroup(uuid:$u){ ${GROUP} } }`, { u: uuid })).r),

    collectionsGet: async (_c, uuids) =>
      (await call<{ r: Wire[] }>("CollectionsByUuid", `query CollectionsByUuid($u:[ID!]!){ r: collectionsByUuid(uuids:$u){ ${COLLECTION} } }`, { u: uuids })).r.map(toCollection),
    collectionList: async (_c, o) =>
      toPage((await call<{ r: WirePage }>("Collections", `query Collections($s:String,$o:ID,$first:Int,$after:String){ r: collections(search:$s,ownerUuid:$o,first:$first,after:$after){ nodes { ${COLLECTION} } ${PAGE} } }`, { s: o.search, o: o.ownerUuid, ...pageVars(o) })).r, toCollection),
    collectionCreate: async (_c, input) =>
      toCollection((await call<{ r: Wire }>("CreateCollection", `mutation CreateCollection($i:CreateCollectionInput!){ r: createCollection(input:$i){ ${COLLECTION} } }`, { i: input })).r),
    collectionUpdate: async (_c, uuid, input) =>
      toCollection((await call<{ r: Wire }>("UpdateCollection", `mutation UpdateCollection($u:ID!,$i:UpdateCollectionInput!){ r: updateCollection(uuid:$u,input:$i){ ${COLLECTION} } }`, { u: uuid, i: input })).r),
    collectionDelete: async (_c, uuid) =>
      toCollection((await call<{ r: Wire }>("DeleteCollection", `mutation DeleteCollection($u:ID!){ r: deleteCollection(uuid:$u){ ${COLLECTION} } }`, { u: uuid })).r),

    permissionGrant: async (_c, i) =>
      (await call<{ r: PermissionRecord }>("GrantPermission", `mutation GrantPermission($h:ID!,$t:ID!,$l:String!){ r: grantPermission(headUuid:$h,tailUuid:$t,level:$l){ ${PERMISSION} } }`, { h: i.headUuid, t: i.tailUuid, l: i.level })).r,
    permissionUpdate: async (_c, uuid, level) =>
      (await call<{ r: PermissionRecord }>("UpdatePermission", `mutation UpdatePermission($u:ID!,$l:String!){ r: updatePermission(uuid:$u,level:$l){ ${PERMISSION} } }`, { u: uuid, l: level })).r,
    permissionRevoke: async (_c, uuid) =>
      (await call<{ r: PermissionRecord }>("RevokePermission", `mutation RevokePermission($u:ID!){ r: revokePermission(uuid:$u){ ${PERMISSION} } }`, { u: uuid })).r,
    permissionList: async (_c, uuid) =>
      (await call<{ r: PermissionRecord[] }>("Permissions", `query Permissions($u:ID!){ r: permissions(objectUuid:$u){ ${PERMISSION} } }`, { u: uuid })).r,
    subjectsVisible: async (_c, uuids) =>
      (await call<{ r: string[] }>("VisibleSubjects", `query VisibleSubjects($u:[ID!]!){ r: visibleSubjects(uuids:$u) }`, { u: uuids })).r,
    visibleGroups: async () => (await call<{ r: GroupLevel[] }>("VisibleGroups", `query VisibleGroups { r: visibleGroups { uuid level } }`)).r,
    subjectList: async (_c, o) =>
      toPage((await call<{ r: WirePage }>("ShareableSubjects", `query ShareableSubjects($s:String,$c:[String!],$first:Int,$after:String){ r: shareableSubjects(search:$s,clusters:$c,first:$first,after:$after){ nodes { ${SUBJECT} } ${PAGE} } }`, { s: o.search, c: [target.id], ...pageVars(o) })).r, (w) => w as unknown as SubjectRecord),
    sharedWithMe: async (_c, o) =>
      toPage((await call<{ r: WirePage }>("SharedWithMe", `query SharedWithMe($c:[String!],$first:Int,$after:String){ r: sharedWithMe(clusters:$c,first:$first,after:$after){ nodes { ${CONTENT} } ${PAGE} } }`, { c: [target.id], ...pageVars(o) })).r, toContent),

    tokenCreate: async (_c, input) => {
      const r = (await call<{ r: Wire }>("CreateToken", `mutation CreateToken($i:CreateTokenInput!){ r: createToken(input:$i){ uuid token expiresAt } }`, { i: tokenInputToWire(input) })).r;
      return { uuid: String(r.uuid), token: String(r.token), expiresAt: date(r.expiresAt) };
    },
    tokenRevoke: async (_c, uuid) =>
      toToken((await call<{ r: Wire }>("RevokeToken", `mutation RevokeToken($u:ID!){ r: revokeToken(uuid:$u){ ${TOKEN} } }`, { u: uuid })).r),
    tokenList: async () => {
      throw unavailable(`tokens are listed on the cluster that issued them`);
    },

    secretsGet: async (_c, uuids) =>
      (await call<{ r: Wire[] }>("SecretsByUuid", `query SecretsByUuid($u:[ID!]!){ r: secretsByUuid(uuids:$u){ ${SECRET} } }`, { u: uuids })).r.map(toSecret),
    secretList: async (_c, o) =>
      toPage((await call<{ r: WirePage }>("Secrets", `query Secrets($s:String,$o:ID,$first:Int,$after:String){ r: secrets(search:$s,ownerUuid:$o,first:$first,after:$after){ nodes { ${SECRET} } ${PAGE} } }`, { s: o.search, o: o.ownerUuid, ...pageVars(o) })).r, toSecret),
    secretCreate: async (_c, input) =>
      toSecret((await call<{ r: Wire }>("CreateSecret", `mutation CreateSecret($i:CreateSecretInput!){ r: createSecret(input:$i){ ${SECRET} } }`, { i: input })).r),
    secretUpdate: async (_c, uuid, input) =>
      toSecret((await call<{ r: Wire }>("UpdateSecret", `mutation UpdateSecret($u:ID!,$i:UpdateSecretInput!){ r: updateSecret(uuid:$u,input:$i){ ${SECRET} } }`, { u: uuid, i: input })).r),
    secretDelete: async (_c, uuid) =>
      toSecret((await call<{ r: Wire }>("DeleteSecret", `mutation DeleteSecret($u:ID!){ r: deleteSecret(uuid:$u){ ${SECRET} } }`, { u: uuid })).r),
    secretValue: async (_c, uuid, version) =>
      (await call<{ r: SecretValueRecord }>("SecretValue", `query SecretValue($u:ID!,$v:Int){ r: secretValue(uuid:$u,version:$v){ ${SECRET_VALUE} } }`, { u: uuid, v: version })).r,
    secretWrap: async (_c, uuid, version, ttlSeconds) => {
      const r = (await call<{ r: Wire }>("WrapSecret", `mutation WrapSecret($u:ID!,$v:Int,$t:Int!){ r: wrapSecret(uuid:$u,version:$v,ttlSeconds:$t){ token expiresAt } }`, { u: uuid, v: version, t: ttlSeconds })).r;
      return { token: String(r.token), expiresAt: date(r.expiresAt)! };
    },
    secretUnwrap: async (_c, wrapping) =>
      (await call<{ r: SecretValueRecord }>("UnwrapSecret", `mutation UnwrapSecret($t:String!){ r: unwrapSecret(token:$t){ ${SECRET_VALUE} } }`, { t: wrapping })).r,
    containerRequestsGet: async (_c, uuids) =>
      (await call<{ r: Wire[] }>("ContainerRequestsByUuid", `query ContainerRequestsByUuid($u:[ID!]!){ r: containerRequestsByUuid(uuids:$u){ ${CONTAINER_REQUEST} } }`, { u: uuids })).r.map(toContainerRequest),
    containerRequestList: async (_c, o) =>
      toPage((await call<{ r: WirePage }>("ContainerRequests", `query ContainerRequests($s:String,$st:String,$first:Int,$after:String){ r: containerRequests(search:$s,state:$st,first:$first,after:$after){ nodes { ${CONTAINER_REQUEST} } ${PAGE} } }`, { s: o.search, st: o.state, ...pageVars(o) })).r, toContainerRequest),
    containerRequestCreate: async (_c, input) =>
      toContainerRequest((await call<{ r: Wire }>("CreateContainerRequest", `mutation CreateContainerRequest($i:CreateContainerRequestInput!){ r: createContainerRequest(input:$i){ ${CONTAINER_REQUEST} } }`, { i: containerRequestInputToWire(input) })).r),
    containerRequestUpdate: async (_c, uuid, input) =>
      toContainerRequest((await call<{ r: Wire }>("UpdateContainerRequest", `mutation UpdateContainerRequest($u:ID!,$i:UpdateContainerRequestInput!){ r: updateContainerRequest(uuid:$u,input:$i){ ${CONTAINER_REQUEST} } }`, { u: uuid, i: containerRequestInputToWire(input) })).r),
    containersGet: async (_c, uuids) =>
      (await call<{ r: Wire[] }>("ContainersByUuid", `query ContainersByUuid($u:[ID!]!){ r: containersByUuid(uuids:$u){ ${CONTAINER} } }`, { u: uuids })).r.map(toContainer),
    containerList: async (_c, o) =>
      toPage((await call<{ r: WirePage }>("Containers", `query Containers($st:String,$first:Int,$after:String){ r: containers(state:$st,first:$first,after:$after){ nodes { ${CONTAINER} } ${PAGE} } }`, { st: o.state, ...pageVars(o) })).r, toContainer),
    currentContainer: async () => toContainer((await call<{ r: Wire }>("CurrentContainer", `query CurrentContainer { r: currentContainer { ${CONTAINER} } }`)).r),
    containerLock: async (_c, uuid) =>
      toContainer((await call<{ r: Wire }>("LockContainer", `mutation LockContainer($u:ID!){ r: lockContainer(uuid:$u){ ${CONTAINER} } }`, { u: uuid })).r),
    containerUnlock: async (_c, uuid) =>
      toContainer((await call<{ r: Wire }>("UnlockContainer", `mutation UnlockContainer($u:ID!){ r: unlockContainer(uuid:$u){ ${CONTAINER} } }`, { u: uuid })).r),
    containerUpdate: async (_c, uuid, input) =>
      toContainer((await call<{ r: Wire }>("UpdateContainer", `mutation UpdateContainer($u:ID!,$i:UpdateContainerInput!){ r: updateContainer(uuid:$u,input:$i){ ${CONTAINER} } }`, { u: uuid, i: input })).r),
    containerAuth: async (_c, uuid) =>
      toContainerAuth((await call<{ r: Wire }>("ContainerAuth", `query ContainerAuth($u:ID!){ r: containerAuth(uuid:$u){ ${CONTAINER_AUTH} } }`, { u: uuid })).r),
    containerSecrets: async () =>
      (await call<{ r: ContainerSecretRecord[] }>("ContainerSecrets", "query ContainerSecrets { r: containerSecrets { path secretUuid version value } }")).r,
    boundContainerState: async () => {
      const state = (await call<{ r: string }>("BoundContainerState", "query BoundContainerState { r: boundContainerState }")).r;
      if (!CONTAINER_STATES.includes(state as ContainerState)) throw unavailable(`cluster ${target.id} answered an unknown container state`);
      return state as ContainerState;
    },
    containerTokenMint: async (_c, i) =>
      toContainerAuth((await call<{ r: Wire }>("MintContainerToken", `mutation MintContainerToken($i:MintContainerTokenInput!){ r: mintContainerToken(input:$i){ ${CONTAINER_AUTH} } }`, {
        i: { containerUuid: i.containerUuid, clusterScopes: clusterScopesToWire(i.clusterScopes), expiresAt: i.expiresAt?.toISOString() ?? null },
      })).r),
    containerTokenRevoke: async (_c, uuid) =>
      toToken((await call<{ r: Wire }>("RevokeContainerToken", `mutation RevokeContainerToken($u:ID!){ r: revokeContainerToken(uuid:$u){ ${TOKEN} } }`, { u: uuid })).r),

    wrappingLookup: async (_c, wrapping) =>
      toWrappingInfo((await call<{ r: Wire }>("WrappingInfo", `query WrappingInfo($t:String!){ r: wrappingInfo(token:$t){ ${WRAPPING_INFO} } }`, { t: wrapping })).r),
  };
}

export const REMOTE_FIELDS = { USER, TOKEN };
