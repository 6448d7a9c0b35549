/**
 * The federation router: a ClusterApi that sends each operation to the cluster that owns the
 * object (the uuid's first five characters), locally or over HTTP with the caller's token
 * salted for the target. One router per GraphQL request: its DataLoaders batch every look-up
 * of one kind to one cluster into one call, and cache the answers for the rest of the request.
 * Lists that name several clusters ask each once, in parallel, and merge by uuid.
 */
import DataLoader from "dataloader";
import type { ClusterApi } from "../api/clusterApi";
import type { ClusterFailure, CollectionRecord, GroupRecord, Page, UserRecord } from "../api/types";
import type { Caller } from "../auth/principal";
import { saltToken } from "../auth/salt";
import { codeOf, forbidden } from "../errors";
import { clusterOf } from "../ids";
import type { ClusterRegistry } from "./registry";
import { remoteCluster } from "./remoteClient";
import type { TransportDeps } from "./transport";

/** Bounded so one huge request does not become one huge remote call. */
export const MAX_BATCH = 500;

export interface RouterDeps {
  local: ClusterApi;
  registry: ClusterRegistry;
  transport: TransportDeps;
}

type Getter = "usersGet" | "groupsGet" | "collectionsGet";

export class FederationRouter implements ClusterApi {
  private readonly remotes = new Map<string, ClusterApi>();
  private readonly loaders = new Map<string, DataLoader<string, unknown>>();

  constructor(private readonly deps: RouterDeps, private readonly caller: Caller) {}

  private get selfId(): string {
    return this.deps.registry.selfId;
  }

  /** The API of cluster `id`: local, or a remote client with the caller's token salted for it. */
  backend(id: string): ClusterApi {
    if (id === this.selfId) return this.deps.local;
    let api = this.remotes.get(id);
    if (api) return api;
    if (this.caller.forwardedFrom) throw forbidden(`a request delegated by cluster ${this.caller.forwardedFrom} is not forwarded again (to ${id})`);
    const target = this.deps.registry.get(id);
    const token = this.caller.token;
    if (!token || this.caller.principal.isRoot) throw forbidden(`the system root token is valid on cluster ${this.selfId} only`);
    api = remoteCluster(this.deps.transport, target, saltToken(token, id));
    this.remotes.set(id, api);
    return api;
  }

  private loader<T extends { uuid: string }>(getter: Getter, cluster: string): DataLoader<string, T | null> {
    const key = `${getter}:${cluster}`;
    let l = this.loaders.get(key) as DataLoader<string, T | null> | undefined;
    if (!l) {
      l = new DataLoader<string, T | null>(
        async (uuids) => {
          const get = this.backend(cluster)[getter] as unknown as (c: Caller, u: string[]) => Promise<T[]>;
          const found = await get(this.caller, [...uuids]);
          const byUuid = new Map(found.map((r) => [r.uuid, r]));
          return uuids.map((u) => byUuid.get(u) ?? null);
        },
        { maxBatchSize: MAX_BATCH },
      );
      this.loaders.set(key, l as DataLoader<string, unknown>);
    }
    return l;
  }

  /** Batched get across clusters: found records only; a failing cluster fails the call. */
  private async getMany<T extends { uuid: string }>(getter: Getter, uuids: string[]): Promise<T[]> {
    const results: (T | null)[] = await Promise.all(uuids.map((u) => this.loader<T>(getter, clusterOf(u)).load(u)));
    return results.filter((r): r is T => r !== null);
  }

  /**
   * Asks each named cluster (default: this one) for the same page and merges by uuid. A
   * cluster that fails is reported in `failedClusters`; the others still answer.
   */
  private async federatedList<T extends { uuid: string }>(
    clusters: string[] | undefined,
    first: number,
    ask: (api: ClusterApi) => Promise<Page<T>>,
  ): Promise<Page<T>> {
    const targets = clusters ?? [this.selfId];
    const settled = await Promise.allSettled(targets.map((id) => Promise.resolve().then(() => ask(this.backend(id)))));
    const nodes: T[] = [];
    const failedClusters: ClusterFailure[] = [];
    let more = false;
    settled.forEach((s, i) => {
      if (s.status === "fulfilled") {
        nodes.push(...s.value.nodes);
        failedClusters.push(...s.value.failedClusters);
        more ||= s.value.hasNextPage;
      } else {
        failedClusters.push({ cluster: targets[i], code: codeOf(s.reason) ?? "UNAVAILABLE", message: (s.reason as Error).message });
      }
    });
    nodes.sort((a, b) => (a.uuid < b.uuid ? -1 : a.uuid > b.uuid ? 1 : 0));
    const page = nodes.slice(0, first);
    return {
      nodes: page,
      endCursor: page.length ? page[page.length - 1].uuid : null,
      hasNextPage: more || nodes.length > first,
      failedClusters,
    };
  }

  usersGet = (_c: Caller, uuids: string[]) => this.getMany<UserRecord>("usersGet", uuids);
  groupsGet = (_c: Caller, uuids: string[]) => this.getMany<GroupRecord>("groupsGet", uuids);
  collectionsGet = (_c: Caller, uuids: string[]) => this.getMany<CollectionRecord>("collectionsGet", uuids);

  userList: ClusterApi["userList"] = (c, o) => this.federatedList(o.clusters, o.first, (api) => api.userList(c, o));
  groupList: ClusterApi["groupList"] = (c, o) => this.federatedList(o.clusters, o.first, (api) => api.groupList(c, o));
  collectionList: ClusterApi["collectionList"] = (c, o) => this.federatedList(o.clusters, o.first, (api) => api.collectionList(c, o));

  userCreate: ClusterApi["userCreate"] = (c, input) => this.deps.local.userCreate(c, input);
  groupCreate: ClusterApi["groupCreate"] = (c, input) => this.backend(input.ownerUuid ? clusterOf(input.ownerUuid) : this.selfId).groupCreate(c, input);
  groupContents: ClusterApi["groupContents"] = (c, uuid, o) => this.backend(clusterOf(uuid)).groupContents(c, uuid, o);

  collectionCreate: ClusterApi["collectionCreate"] = (c, input) =>
    this.backend(input.ownerUuid ? clusterOf(input.ownerUuid) : this.selfId).collectionCreate(c, input);
  collectionUpdate: ClusterApi["collectionUpdate"] = (c, uuid, input) => this.backend(clusterOf(uuid)).collectionUpdate(c, uuid, input);
  collectionDelete: ClusterApi["collectionDelete"] = (c, uuid) => this.backend(clusterOf(uuid)).collectionDelete(c, uuid);

  tokenCreate: ClusterApi["tokenCreate"] = (c, input) => this.deps.local.tokenCreate(c, input);
  tokenRevoke: ClusterApi["tokenRevoke"] = (c, uuid) => this.backend(clusterOf(uuid)).tokenRevoke(c, uuid);
  tokenList: ClusterApi["tokenList"] = (c, o) => this.deps.local.tokenList(c, o);
}
