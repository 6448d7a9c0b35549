/** The cluster's own database as a ClusterApi: a table of one-liners over the resource modules. */
import type { LocalClusterApi } from "../api/clusterApi";
import type { LocalContext } from "./context";
import * as collections from "./collections";
import * as containerRequests from "./containerRequests";
import * as containerQueue from "./containerQueue";
import * as containers from "./containers";
import * as federatedTokens from "../containers/federatedTokens";
import * as groups from "./groups";
import * as permissions from "./permissions";
import * as secrets from "./secrets";
import * as sharing from "./sharing";
import * as users from "./users";

export function localCluster(ctx: LocalContext): LocalClusterApi {
  return {
    usersGet: (c, uuids) => users.usersGet(ctx, c, uuids),
    userList: (c, o) => users.userList(ctx, c, o),
    userCreate: (c, input) => users.userCreate(ctx, c, input),

    groupsGet: (c, uuids) => groups.groupsGet(ctx, c, uuids),
    groupList: (c, o) => groups.groupList(ctx, c, o),
    groupCreate: (c, input) => groups.groupCreate(ctx, c, input),
    groupContents: (c, uuid, o) => groups.groupContents(ctx, c, uuid, o),
    groupUpdate: (c, uuid, input) => groups.groupUpdate(ctx, c, uuid, input),
    groupDelete: (c, uuid) => groups.groupDelete(ctx, c, uuid),

    collectionsGet: (c, uuids) => collections.collectionsGet(ctx, c, uuids),
    collectionList: (c, o) => collections.collectionList(ctx, c, o),
    collectionCreate: (c, input) => collections.collectionCreate(ctx, c, input),
    collectionUpdate: (c, uuid, input) => collections.collectionUpdate(ctx, c, uuid, input),
    collectionDelete: (c, uuid) => collections.collectionDelete(ctx, c, uuid),

    permissionGrant: (c, input) => permissions.permissionGrant(ctx, c, input),
    permissionUpdate: (c, uuid, level) => permissions.permissionUpdate(ctx, c, uuid, level),
    permissionRevoke: (c, uuid) => permissions.permissionRevoke(ctx, c, uuid),
    permissionList: (c, uuid) => permissions.permissionList(ctx, c, uuid),
    subjectsVisible: (c, uuids) => sharing.subjectsVisible(ctx, c, uuids),
    subjectsVisibleVia: (c, uuids, via) => sharing.subjectsVisible(ctx, c, uuids, via),
    runtimeTokenFor: (c, input, runsOn) => federatedTokens.runtimeTokenFor(ctx, c, input, runsOn),
    visibleGroups: (c) => sharing.visibleGroups(ctx, c),
    subjectList: (c, o) => sharing.subjectList(ctx, c, o),
    sharedWithMe: (c, o) => sharing.sharedWithMe(ctx, c, o),

    tokenCreate: (c, input) => ctx.tokens.create(c, input),
    tokenRevoke: (c, uuid) => ctx.tokens.revoke(c, uuid),
    tokenList: (c, o) => ctx.tokens.list(c, o),

    secretsGet: (c, uuids) => secrets.secretsGet(ctx, c, uuids),
    secretList: (c, o) => secrets.secretList(ctx, c, o),
    secretCreate: (c, input) => secrets.secretCreate(ctx, c, input),
    secretUpdate: (c, uuid, input) => secrets.secretUpdate(ctx, c, uuid, input),
    secretDelete: (c, uuid) => secrets.secretDelete(ctx, c, uuid),
    secretValue: (c, uuid, version) => secrets.secretValue(ctx, c, uuid, version),
    secretWrap: (c, uuid, version, ttl) => secrets.secretWrap(ctx, c, uuid, version, ttl),
    secretUnwrap: (c, token) => secrets.secretUnwrap(ctx, c, token),
    wrappingLookup: (_c, token) => secrets.wrappingLookup(ctx, token),

    containerRequestsGet: (c, uuids) => containerRequests.containerRequestsGet(ctx, c, uuids),
    containerRequestList: (c, o) => containerRequests.containerRequestList(ctx, c, o),
    containerRequestCreate: (c, input) => containerRequests.containerRequestCreate(ctx, c, input),
    containerRequestUpdate: (c, uuid, input) => containerRequests.containerRequestUpdate(ctx, c, uuid, input),
    containersGet: (c, uuids) => containers.containersGet(ctx, c, uuids),
    containerList: (c, o) => (o.order === "priority" ? containerQueue.containerQueueList(ctx, c, o) : containers.containerList(ctx, c, o)),
    currentContainer: (c) => containers.currentContainer(ctx, c),
    containerLock: (c, uuid) => containers.containerLock(ctx, c, uuid),
    containerUnlock: (c, uuid) => containers.containerUnlock(ctx, c, uuid),
    containerUpdate: (c, uuid, input) => containers.containerUpdate(ctx, c, uuid, input),
    containerAuth: (c, uuid) => containers.containerAuth(ctx, c, uuid),
    containerSecrets: (c) => containers.containerSecrets(ctx, c),
    boundContainerState: (c) => containers.boundContainerState(ctx, c),
    containerTokenMint: (c, input) => federatedTokens.mintForCluster(ctx, c, input),
    containerTokenRevoke: (c, uuid) => federatedTokens.revokeForCluster(ctx, c, uuid),
  };
}
