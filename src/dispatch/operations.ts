/**
 * The GraphQL the dispatcher speaks (the contract's names, nothing else): as the dispatcher
 * (queue, lock, auth, watch, unlock, cancel) and as the container itself (Running, the log
 * collection, the exit code, Complete), as crunch-run does with the container's token.
 */
import type { GraphQLRun } from "../graphqlClient";
import type { RunCollectionInput } from "./runCollections";

export interface QueuedContainer {
  uuid: string;
  priority: number;
}

/** What the dispatcher needs to run a container. */
export interface ContainerToRun {
  uuid: string;
  state: string;
  priority: number;
  command: string[];
  cwd: string;
  environment: Record<string, string>;
  outputPath: string;
  /** Where its secrets go (the values are fetched with its own token once it runs). */
  secretMounts: { path: string }[];
}

export interface ContainerStatus {
  state: string;
  priority: number;
  lockedByUuid: string | null;
}

type PageOf<T> = { nodes: T[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };

/** This cluster's containers in `state` (uuid order), up to about `limit`. */
async function containersIn<T>(gql: GraphQLRun, state: string, selection: string, pageSize: number, limit: number): Promise<T[]> {
  const found: T[] = [];
  let after: string | null = null;
  do {
    const { containers }: { containers: PageOf<T> } = await gql(
      `query($s: String, $first: Int, $after: String) { containers(state: $s, first: $first, after: $after) { nodes { ${selection} } pageInfo { hasNextPage endCursor } } }`,
      { s: state, first: pageSize, after },
    );
    found.push(...containers.nodes);
    after = containers.pageInfo.hasNextPage ? containers.pageInfo.endCursor : null;
  } while (after && found.length < limit);
  return found;
}

/** A page of the queue, highest priority first (then uuid), ordered by the server; `next`: the cursor of the page after it. */
export async function queuedPage(gql: GraphQLRun, pageSize: number, after: string | null): Promise<{ nodes: QueuedContainer[]; next: string | null }> {
  const { containers }: { containers: PageOf<QueuedContainer> } = await gql(
    `query($first: Int, $after: String) { containers(state: "Queued", order: PRIORITY, first: $first, after: $after) { nodes { uuid priority } pageInfo { hasNextPage endCursor } } }`,
    { first: pageSize, after },
  );
  return { nodes: containers.nodes, next: containers.pageInfo.hasNextPage ? containers.pageInfo.endCursor : null };
}

/** The uuids of containers in `state` whose lock `tokenUuid` holds. */
export async function heldContainers(gql: GraphQLRun, state: "Locked" | "Running", tokenUuid: string, pageSize: number, limit: number): Promise<string[]> {
  const held = await containersIn<{ uuid: string; lockedByUuid: string | null }>(gql, state, "uuid lockedByUuid", pageSize, limit);
  return held.filter((c) => c.lockedByUuid === tokenUuid).map((c) => c.uuid);
}

const RUN_FIELDS = "uuid state priority command cwd environment outputPath secretMounts { path }";

export async function lockContainer(gql: GraphQLRun, uuid: string): Promise<ContainerToRun> {
  const { lockContainer } = await gql<{ lockContainer: ContainerToRun }>(`mutation($u: ID!) { lockContainer(uuid: $u) { ${RUN_FIELDS} } }`, { u: uuid });
  return lockContainer;
}

export async function unlockContainer(gql: GraphQLRun, uuid: string): Promise<void> {
  await gql(`mutation($u: ID!) { unlockContainer(uuid: $u) { uuid } }`, { u: uuid });
}

/** The container's own token (only for the token holding the lock). */
export async function containerToken(gql: GraphQLRun, uuid: string): Promise<string> {
  const { containerAuth } = await gql<{ containerAuth: { token: string } }>(`query($u: ID!) { containerAuth(uuid: $u) { token } }`, { u: uuid });
  return containerAuth.token;
}

/** null when the container is gone from view (it never is for an admin, but a peer may lie). */
export async function containerStatus(gql: GraphQLRun, uuid: string): Promise<ContainerStatus | null> {
  const { container } = await gql<{ container: ContainerStatus | null }>(`query($u: ID!) { container(uuid: $u) { state priority lockedByUuid } }`, { u: uuid });
  return container;
}

export async function setContainer(
  gql: GraphQLRun,
  uuid: string,
  input: { state?: string; exitCode?: number; runtimeStatus?: Record<string, unknown>; log?: string; output?: string },
): Promise<void> {
  await gql(`mutation($u: ID!, $i: UpdateContainerInput!) { updateContainer(uuid: $u, input: $i) { uuid } }`, { u: uuid, i: input });
}

/** The values of the container's secret mounts, with its own token while it is Running (each read audited). */
export async function containerSecrets(containerGql: GraphQLRun): Promise<{ path: string; value: string }[]> {
  const { containerSecrets } = await containerGql<{ containerSecrets: { path: string; value: string }[] }>(`query { containerSecrets { path value } }`);
  return containerSecrets;
}

/** Creates a collection of the run (its log, its output) with the container's token (owned by its user); its uuid. */
export async function createRunCollection(containerGql: GraphQLRun, input: RunCollectionInput): Promise<string> {
  const { createCollection } = await containerGql<{ createCollection: { uuid: string } }>(
    `mutation($i: CreateCollectionInput!) { createCollection(input: $i) { uuid } }`,
    { i: input },
  );
  return createCollection.uuid;
}
