/**
 * The federation router: a ClusterApi that sends each operation to the cluster that owns the
 * object (the uuid's first five characters), locally or over HTTP with the caller's token
 * salted for the target. One router per GraphQL request: its DataLoaders batch every look-up
 * of one kind to one cluster into one call, and cache the answers for the rest of the request.
 * Lists that name several clusters ask each once, in parallel, and merge by uuid.
 */
import DataLoader from "dataloader";
import type { Counter } from "prom-client";
import type { ClusterApi, LocalClusterApi } from "../api/clusterApi";
import type { ClusterFailure, CollectionRecord, GroupRecord, Page, SecretRecord, SecretValueRecord, UserRecord } from "../api/types";
import type { ContainerRecord, ContainerRequestRecord } from "../api/types";
import { isAdmin, type Caller } from "../auth/principal";
import { saltToken } from "../auth/salt";
import { isSaltedSecret, parseToken } from "../auth/tokenString";
import { pinSecretMounts } from "../containers/secretMounts";
import { badInput, codeOf, forbidden, notFound } from "../errors";
import { clusterOf, kindOf } from "../ids";
import { log } from "../log";
import { wrappingTokenCluster, wrappingTokenNotFound } from "../secrets/wrappingToken";
import type { ClusterRegistry } from "./registry";
import { remoteCluster } from "./remoteClient";
import type { TransportDeps } from "./transport";

/** A cluster's part of a list failed: coded errors as they are, anything else masked and logged. */
function failureOf(cluster: string, e: unknown): ClusterFailure {
  const code = codeOf(e);
  if (code && code !== "INTERNAL_SERVER_ERROR") return { cluster, code, message: (e as Error).message };
  log.error("federated list failed", { cluster, error: e instanceof Error ? e.message : String(e) });
  return { cluster, code: "INTERNAL_SERVER_ERROR", message: "internal error" };
}

/** Bounded so one huge request does not become one huge remote call. */
const MAX_BATCH = 500;

export interface RouterDeps {
  local: LocalClusterApi;
  registry: ClusterRegistry;
  transport: TransportDeps;
  /** Counts records a remote cluster answered for objects it does not own (dropped). */
  droppedRecords: Counter<"cluster">;
}

/** How a list shows a user that a third cluster's record vouched for (see `trusted`). */
type ListUser<T> = (home: UserRecord) => T;

type Getter = "usersGet" | "groupsGet" | "collectionsGet" | "secretsGet" | "containerRequestsGet" | "containersGet";

export class FederationRouter implements ClusterApi {
  private readonly remotes = new Map<string, ClusterApi>();
  private readonly loaders = new Map<string, DataLoader<string, unknown>>();

  constructor(private readonly deps: RouterDeps, private readonly caller: Caller) {}

  private get selfId(): string {
    return this.deps.registry.selfId;
  }

  /**
   * The API of cluster `id`: local, or a remote client with the caller's token salted for it.
   * A request another cluster delegated is never forwarded again; only `lookup` calls (the
   * federation's identity and visibility look-ups) may go out from it.
   */
  backend(id: string, purpose: "operation" | "lookup" = "operation"): ClusterApi {
    if (id === this.selfId) return this.deps.local;
    if (purpose === "operation" && this.caller.forwardedFrom)
      throw forbidden(`a request delegated by cluster ${this.caller.forwardedFrom} is not forwarded again (to ${id})`);
    let api = this.remotes.get(id);
    if (api) return api;
    const target = this.deps.registry.get(id);
    const token = this.caller.token;
    if (!token || this.caller.principal.isRoot) throw forbidden(`the system root token is valid on cluster ${this.selfId} only`);
    api = remoteCluster(this.deps.transport, target, saltToken(token, id));
    this.remotes.set(id, api);
    return api;
  }

  /** The request's loader under `key`, made on first use: one batch function, one cache. */
  private loaderFor<V>(key: string, batch: (keys: string[]) => Promise<V[]>): DataLoader<string, V> {
    let l = this.loaders.get(key) as DataLoader<string, V> | undefined;
    if (!l) {
      l = new DataLoader<string, V>((keys) => batch([...keys]), { maxBatchSize: MAX_BATCH });
      this.loaders.set(key, l as DataLoader<string, unknown>);
    }
    return l;
  }

  private loader<T extends { uuid: string }>(getter: Getter, cluster: string): DataLoader<string, T | null> {
    return this.loaderFor(`${getter}:${cluster}`, async (uuids) => {
      const get = this.backend(cluster)[getter] as unknown as (c: Caller, u: string[]) => Promise<T[]>;
      const found = this.ownedBy(cluster, await get(this.caller, uuids));
      const byUuid = new Map(found.map((r) => [r.uuid, r]));
      return uuids.map((u) => byUuid.get(u) ?? null);
    });
  }

  /** Batched get across clusters: found records only; a failing cluster fails the call. */
  private async getMany<T extends { uuid: string }>(getter: Getter, uuids: string[]): Promise<T[]> {
    const results: (T | null)[] = await Promise.all(uuids.map((u) => this.loader<T>(getter, clusterOf(u)).load(u)));
    return results.filter((r): r is T => r !== null);
  }

  /**
   * A cluster answers for its own objects only: records another cluster answered for objects
   * it does not own are dropped (a peer cannot forge or shadow another cluster's objects) and
   * counted. Our own database is trusted, the local records of remote users included.
   */
  private ownedBy<T extends { uuid: string }>(cluster: string, records: T[]): T[] {
    if (cluster === this.selfId) return records;
    const own = records.filter((r) => clusterOf(r.uuid) === cluster);
    this.countDropped(cluster, records.length - own.length);
    return own;
  }

  private countDropped(cluster: string, n: number): void {
    if (n === 0) return;
    // Clusters reached through the pattern share one label, so client-named ids cannot add series.
    this.deps.droppedRecords.inc({ cluster: this.deps.registry.find(cluster)?.viaPattern ? "other" : cluster }, n);
    log.warn("remote cluster answered for objects it does not own; dropped", { cluster, dropped: n });
  }

  /**
   * A remote cluster's page with only what it may answer for: its own objects, and, in lists
   * of users (`listUser`), users of a third cluster that it knows as local records, kept only
   * as their home cluster answers for them to this caller (the home's record wins). A home
   * that fails is reported in `failedClusters` and its users are left out. Its cursor counts no
   * earlier than the last record kept: a merge shows no item past any cluster's cursor, so a
   * cursor before every real uuid would cut every other cluster's items off the list.
   */
  private async trusted<T extends { uuid: string }>(cluster: string, page: Page<T>, listUser?: ListUser<T>): Promise<Page<T>> {
    if (cluster === this.selfId) return page;
    const own = page.nodes.filter((n) => clusterOf(n.uuid) === cluster);
    const thirdParty = page.nodes.filter((n) => clusterOf(n.uuid) !== cluster && kindOf(n.uuid) === "user").map((n) => n.uuid);
    const failedClusters = [...page.failedClusters];
    const vouched = listUser && thirdParty.length ? (await this.usersAtHome(thirdParty, failedClusters)).map(listUser) : [];
    this.countDropped(cluster, page.nodes.length - own.length - vouched.length);
    const nodes = [...own, ...vouched];
    const last = nodes.reduce<string | null>((max, n) => (max === null || n.uuid > max ? n.uuid : max), null);
    const endCursor = last !== null && page.endCursor !== null && page.endCursor > last ? page.endCursor : last;
    return { nodes, endCursor, hasNextPage: last !== null && page.hasNextPage, failedClusters };
  }

  /** These users as their home clusters show them to the caller (batched per home); failures go to `failed`. */
  private async usersAtHome(uuids: string[], failed: ClusterFailure[]): Promise<UserRecord[]> {
    const homes = [...new Set(uuids.map(clusterOf))];
    const answers = await Promise.all(
      homes.map(async (home) => {
        try {
          return await Promise.all(uuids.filter((u) => clusterOf(u) === home).map((u) => this.loader<UserRecord>("usersGet", home).load(u)));
        } catch (e) {
          failed.push(failureOf(home, e));
          return [];
        }
      }),
    );
    return answers.flat().filter((u): u is UserRecord => u !== null);
  }

  /**
   * Asks each named cluster (default: this one) for the same page, in parallel, keeps what each
   * may answer for (`trusted`) and merges by uuid (an object known to several clusters, such as
   * a remote user's local record, is listed once). A cluster that fails is reported in
   * `failedClusters`; the others still answer.
   */
  private async federatedList<T extends { uuid: string }>(
    clusters: string[] | undefined,
    first: number,
    ask: (api: ClusterApi) => Promise<Page<T>>,
    listUser?: ListUser<T>,
  ): Promise<Page<T>> {
    const targets = clusters ?? [this.selfId];
    const settled = await Promise.allSettled(
      targets.map((id) => Promise.resolve().then(async () => this.trusted(id, await ask(this.backend(id)), listUser))),
    );
    const byUuid = new Map<string, T>();
    const failedClusters: ClusterFailure[] = [];
    let more = false;
    let cutoff: string | undefined; // no cluster's unseen items may come before what we return
    settled.forEach((s, i) => {
      if (s.status === "rejected") {
        failedClusters.push(failureOf(targets[i], s.reason));
        return;
      }
      for (const n of s.value.nodes) if (!byUuid.has(n.uuid)) byUuid.set(n.uuid, n);
      failedClusters.push(...s.value.failedClusters);
      if (s.value.hasNextPage && s.value.endCursor) {
        more = true;
        if (cutoff === undefined || s.value.endCursor < cutoff) cutoff = s.value.endCursor;
      }
    });
    const merged = [...byUuid.values()].sort((a, b) => (a.uuid < b.uuid ? -1 : a.uuid > b.uuid ? 1 : 0));
    const eligible = cutoff === undefined ? merged : merged.filter((n) => n.uuid <= cutoff!);
    const page = eligible.slice(0, first);
    return {
      nodes: page,
      endCursor: page.length ? page[page.length - 1].uuid : null,
      hasNextPage: more || merged.length > page.length,
      failedClusters,
    };
  }

  /** Every cluster this one knows by name: the default for the sharing dialog's lists. */
  private everyCluster(): string[] {
    return [this.selfId, ...this.deps.registry.tableIds()];
  }

  /**
   * Can the caller see these users/groups? Batched per cluster and cached for the request:
   * here, directly or (for a caller from another cluster) through the groups its home cluster
   * said it can see when it validated the token; elsewhere, by asking that cluster.
   */
  private visibilityLoader(cluster: string): DataLoader<string, boolean> {
    return this.loaderFor(`visible:${cluster}`, async (uuids) => {
      const seen = new Set(cluster === this.selfId ? await this.visibleHere(uuids) : await this.backend(cluster, "lookup").subjectsVisible(this.caller, uuids));
      return uuids.map((u) => seen.has(u));
    });
  }

  private async visibleHere(uuids: string[]): Promise<string[]> {
    const direct = await this.deps.local.subjectsVisible(this.caller, uuids);
    const groups = (this.caller.principal.homeGroups ?? []).map((g) => g.uuid);
    if (direct.length === uuids.length || groups.length === 0) return direct;
    return this.deps.local.subjectsVisibleVia(this.caller, uuids, groups);
  }

  subjectsVisible: ClusterApi["subjectsVisible"] = async (_c, uuids) => {
    const answers = await Promise.all(uuids.map((u) => this.visibilityLoader(clusterOf(u)).load(u)));
    return uuids.filter((_, i) => answers[i]);
  };
  visibleGroups: ClusterApi["visibleGroups"] = (c) => this.deps.local.visibleGroups(c);

  /**
   * A grant is stored with its object. There the grantee must be visible to the grantor:
   * checked here for a local grantee, by the grantee's own cluster otherwise.
   */
  permissionGrant: ClusterApi["permissionGrant"] = async (c, input) => {
    const home = clusterOf(input.headUuid);
    if (home !== this.selfId) return this.backend(home).permissionGrant(c, input);
    if (!isAdmin(c.principal)) {
      const [visible] = await this.subjectsVisible(c, [input.tailUuid]);
      if (!visible) throw notFound(kindOf(input.tailUuid) ?? "subject", input.tailUuid);
    }
    return this.deps.local.permissionGrant(c, input);
  };
  permissionUpdate: ClusterApi["permissionUpdate"] = (c, uuid, level) => this.backend(clusterOf(uuid)).permissionUpdate(c, uuid, level);
  permissionRevoke: ClusterApi["permissionRevoke"] = (c, uuid) => this.backend(clusterOf(uuid)).permissionRevoke(c, uuid);
  permissionList: ClusterApi["permissionList"] = (c, uuid) => this.backend(clusterOf(uuid)).permissionList(c, uuid);
  subjectList: ClusterApi["subjectList"] = (c, o) =>
    this.federatedList(o.clusters ?? this.everyCluster(), o.first, (api) => api.subjectList(c, o), (u) => ({ uuid: u.uuid, kind: "user", name: u.fullName, email: u.email, groupClass: null }));
  sharedWithMe: ClusterApi["sharedWithMe"] = (c, o) => this.federatedList(o.clusters ?? this.everyCluster(), o.first, (api) => api.sharedWithMe(c, o));

  usersGet = (_c: Caller, uuids: string[]) => this.getMany<UserRecord>("usersGet", uuids);
  groupsGet = (_c: Caller, uuids: string[]) => this.getMany<GroupRecord>("groupsGet", uuids);
  collectionsGet = (_c: Caller, uuids: string[]) => this.getMany<CollectionRecord>("collectionsGet", uuids);

  userList: ClusterApi["userList"] = (c, o) => this.federatedList(o.clusters, o.first, (api) => api.userList(c, o), (u) => u);
  groupList: ClusterApi["groupList"] = (c, o) => this.federatedList(o.clusters, o.first, (api) => api.groupList(c, o));
  collectionList: ClusterApi["collectionList"] = (c, o) => this.federatedList(o.clusters, o.first, (api) => api.collectionList(c, o));

  userCreate: ClusterApi["userCreate"] = (c, input) => this.deps.local.userCreate(c, input);
  groupCreate: ClusterApi["groupCreate"] = (c, input) => this.backend(input.ownerUuid ? clusterOf(input.ownerUuid) : this.selfId).groupCreate(c, input);
  groupContents: ClusterApi["groupContents"] = async (c, uuid, o) => {
    const home = clusterOf(uuid);
    return this.trusted(home, await this.backend(home).groupContents(c, uuid, o));
  };
  groupUpdate: ClusterApi["groupUpdate"] = (c, uuid, input) => this.backend(clusterOf(uuid)).groupUpdate(c, uuid, input);
  groupDelete: ClusterApi["groupDelete"] = (c, uuid) => this.backend(clusterOf(uuid)).groupDelete(c, uuid);

  collectionCreate: ClusterApi["collectionCreate"] = (c, input) =>
    this.backend(input.ownerUuid ? clusterOf(input.ownerUuid) : this.selfId).collectionCreate(c, input);
  collectionUpdate: ClusterApi["collectionUpdate"] = (c, uuid, input) => this.backend(clusterOf(uuid)).collectionUpdate(c, uuid, input);
  collectionDelete: ClusterApi["collectionDelete"] = (c, uuid) => this.backend(clusterOf(uuid)).collectionDelete(c, uuid);

  /**
   * A token is created by its creator's home cluster, which alone can revoke it with its parent
   * (and checks it is no broader). From elsewhere the request is delegated there with the token
   * as presented: raw, it goes back to the cluster that issued it, so nothing leaks; salted, it
   * is not the creator's token there, so the request is refused.
   */
  tokenCreate: ClusterApi["tokenCreate"] = (c, input) => {
    const home = c.principal.token?.homeCluster;
    if (home === undefined || home === this.selfId) return this.deps.local.tokenCreate(c, input);
    const presented = c.token && parseToken(c.token);
    if (!presented || isSaltedSecret(presented.secret))
      throw forbidden(`tokens are created on the token's home cluster (${home}): ask it there with the token it issued, not one salted for ${this.selfId}`);
    return this.backend(home).tokenCreate(c, input);
  };
  tokenRevoke: ClusterApi["tokenRevoke"] = (c, uuid) => this.backend(clusterOf(uuid)).tokenRevoke(c, uuid);
  tokenList: ClusterApi["tokenList"] = (c, o) => this.deps.local.tokenList(c, o);

  containerRequestsGet = (_c: Caller, uuids: string[]) => this.getMany<ContainerRequestRecord>("containerRequestsGet", uuids);
  containersGet = (_c: Caller, uuids: string[]) => this.getMany<ContainerRecord>("containersGet", uuids);
  containerRequestList: ClusterApi["containerRequestList"] = (c, o) => this.federatedList(o.clusters, o.first, (api) => api.containerRequestList(c, o));
  /** In priority order the list is one cluster's queue: federated lists merge by uuid, which would undo that order. */
  containerList: ClusterApi["containerList"] = async (c, o) => {
    if (o.order !== "priority") return this.federatedList(o.clusters, o.first, (api) => api.containerList(c, o));
    if (o.clusters && (o.clusters.length !== 1 || o.clusters[0] !== this.selfId))
      throw badInput(`clusters: containers in order PRIORITY are listed on one cluster, this one (${this.selfId}): ask another cluster's queue there`);
    return this.deps.local.containerList(c, o);
  };
  /**
   * A request runs where it is created: on another cluster it is delegated there, its runtime
   * token salted for that cluster (its real secret never leaves its home). Without one, a
   * runtime token is minted here from the caller's with the container's cluster scopes (see
   * `runtimeTokenFor`), so the container never acts with the caller's own token.
   */
  containerRequestCreate: ClusterApi["containerRequestCreate"] = async (c, input, cluster = this.selfId) => {
    if (cluster === this.selfId) return this.deps.local.containerRequestCreate(c, input);
    const remote = this.backend(cluster);
    // Checked and pinned here: `cluster` cannot ask onward about secrets homed elsewhere.
    const secretMounts = await pinSecretMounts(this, c, input.secretMounts ?? [], this.selfId);
    const runtimeToken = input.runtimeToken ?? (await this.deps.local.runtimeTokenFor(c, input, cluster));
    return remote.containerRequestCreate(c, { ...input, secretMounts, runtimeToken: saltToken(runtimeToken, cluster) });
  };
  containerRequestUpdate: ClusterApi["containerRequestUpdate"] = (c, uuid, input) =>
    this.backend(clusterOf(uuid)).containerRequestUpdate(c, uuid, { ...input, runtimeToken: input.runtimeToken && saltToken(input.runtimeToken, clusterOf(uuid)) });
  /** A container's token names its container, which is on this cluster (where it runs). */
  currentContainer: ClusterApi["currentContainer"] = (c) => this.deps.local.currentContainer(c);
  containerLock: ClusterApi["containerLock"] = (c, uuid) => this.backend(clusterOf(uuid)).containerLock(c, uuid);
  containerUnlock: ClusterApi["containerUnlock"] = (c, uuid) => this.backend(clusterOf(uuid)).containerUnlock(c, uuid);
  containerUpdate: ClusterApi["containerUpdate"] = (c, uuid, input) => this.backend(clusterOf(uuid)).containerUpdate(c, uuid, input);
  containerAuth: ClusterApi["containerAuth"] = (c, uuid) => this.backend(clusterOf(uuid)).containerAuth(c, uuid);
  /** The caller's container runs here (its token names it). */
  containerSecrets: ClusterApi["containerSecrets"] = (c) => this.deps.local.containerSecrets(c);
  /** Asked of the cluster the container belongs to; a look-up, so also from a request another cluster delegated. */
  boundContainerState: ClusterApi["boundContainerState"] = (c) => {
    const uuid = c.principal.token?.containerUuid;
    if (!uuid) throw notFound("container of token", c.principal.token?.uuid ?? "system root");
    return this.backend(clusterOf(uuid), "lookup").boundContainerState(c);
  };
  /** Asked of the caller's token's home (the runtime token's), which alone can mint from it. */
  containerTokenMint: ClusterApi["containerTokenMint"] = (c, input) => this.backend(this.tokenHome(c)).containerTokenMint(c, input);
  containerTokenRevoke: ClusterApi["containerTokenRevoke"] = (c, uuid) => this.backend(this.tokenHome(c)).containerTokenRevoke(c, uuid);

  private tokenHome(c: Caller): string {
    return c.principal.token?.homeCluster ?? this.selfId;
  }

  secretsGet = (_c: Caller, uuids: string[]) => this.getMany<SecretRecord>("secretsGet", uuids);
  secretList: ClusterApi["secretList"] = (c, o) => this.federatedList(o.clusters, o.first, (api) => api.secretList(c, o));
  secretCreate: ClusterApi["secretCreate"] = (c, input) => this.backend(input.ownerUuid ? clusterOf(input.ownerUuid) : this.selfId).secretCreate(c, input);
  secretUpdate: ClusterApi["secretUpdate"] = (c, uuid, input) => this.backend(clusterOf(uuid)).secretUpdate(c, uuid, input);
  secretDelete: ClusterApi["secretDelete"] = (c, uuid) => this.backend(clusterOf(uuid)).secretDelete(c, uuid);
  secretValue: ClusterApi["secretValue"] = async (c, uuid, version) =>
    this.answeredValue(clusterOf(uuid), await this.backend(clusterOf(uuid)).secretValue(c, uuid, version), (v) => v.uuid === uuid && (version === null || v.version === version), () => notFound("secret", uuid));
  secretWrap: ClusterApi["secretWrap"] = (c, uuid, version, ttl) => this.backend(clusterOf(uuid)).secretWrap(c, uuid, version, ttl);
  /** A wrapping token names the cluster that holds it. */
  secretUnwrap: ClusterApi["secretUnwrap"] = async (c, token) => {
    const home = wrappingTokenCluster(token) ?? this.selfId;
    return this.answeredValue(home, await this.backend(home).secretUnwrap(c, token), () => true, wrappingTokenNotFound);
  };
  wrappingLookup: ClusterApi["wrappingLookup"] = (c, token) => this.backend(wrappingTokenCluster(token) ?? this.selfId).wrappingLookup(c, token);

  /** A value another cluster answered must be a value of its own secret, the one asked for; otherwise `refusal` (NOT_FOUND). */
  private answeredValue(cluster: string, v: SecretValueRecord | null, asked: (v: SecretValueRecord) => boolean, refusal: () => Error): SecretValueRecord {
    if (cluster === this.selfId) return v!;
    const wellFormed = v !== null && typeof v === "object" && typeof v.uuid === "string" && Number.isInteger(v.version) && typeof v.value === "string";
    // The wire carries the version's time as text; an answer without a valid one is not well formed.
    const createdAt = new Date(wellFormed ? (v.createdAt as unknown as string) : NaN);
    if (wellFormed && !Number.isNaN(createdAt.getTime()) && clusterOf(v.uuid) === cluster && kindOf(v.uuid) === "secret" && asked(v))
      return { uuid: v.uuid, version: v.version, value: v.value, createdAt };
    this.countDropped(cluster, 1);
    throw refusal();
  }
}
