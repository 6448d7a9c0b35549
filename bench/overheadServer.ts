/**
 * One server of the overhead benchmark (bench/overhead.ts), in its own process, compiled and
 * started by it (or alone: `node --import tsx bench/overheadServer.ts <role>`); it answers on IPC with a `Ready`
 * message once it listens, and stops (dropping its database) on SIGTERM.
 *
 * Roles:
 * - fedgate: a real cluster (startBenchCluster), seeded, with a viewer token.
 * - naive: Apollo Server 5 + Prisma `findMany` over the same tables, no auth; on PostgreSQL it
 *   opens the database named by OVERHEAD_DATABASE_URL (fedgate's), on PGlite it migrates and
 *   seeds its own in-memory database with the same deterministic seed.
 * - ceiling: the same Apollo Server 5 schema returning static data (no database).
 * - idle: a fresh, unseeded cluster, for its idle RSS.
 * - federation: three fedgate clusters (local, remote1, remote2), the remotes behind 20 ms
 *   latency proxies, each holding collections the local viewer can read.
 */
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";
import type { PrismaClient } from "@prisma/client";
import { prepareDatabase } from "../src/cluster";
import { parseConfig } from "../src/config/config";
import { openDatabase, type Database } from "../src/db/database";
import { recomputeUsers } from "../src/permissions/closure";
import { seed, type Shape } from "./closure";
import { startLatencyProxy } from "./latencyProxy";
import { createUserWithToken, envInt, freePort, ok, gql, seededUuid, startBenchCluster, type BenchCluster } from "./lib";

export const CLUSTER = "bench";
/** The seeded data every server gets (closure.ts's shape, 2k users). */
export function overheadShape(): Shape {
  return {
    users: envInt("BENCH_USERS", 2000),
    roles: 500,
    projects: 2000,
    collections: envInt("BENCH_COLLECTIONS", 20000),
    memberships: 3,
    roleGrants: 8,
    bigRole: 500,
  };
}

/** What a server tells the benchmark when it listens. */
export interface Ready {
  url: string;
  /** The viewer's token (fedgate roles). */
  token?: string;
  /** PostgreSQL database holding the seeded data (fedgate role on PostgreSQL). */
  databaseUrl?: string;
  /** A collection and a project the viewer can read; a remote cluster's proxied URL (federation). */
  fixtures?: { collection: string; project: string; remoteUrl?: string; clusters?: string[] };
}

async function seedAll(prisma: PrismaClient, viewer: string): Promise<void> {
  await seed(prisma, overheadShape(), viewer, 2);
  const users = (await prisma.$queryRawUnsafe<{ uuid: string }[]>(`SELECT uuid FROM users ORDER BY uuid`)).map((r) => r.uuid);
  await recomputeUsers(prisma, users);
  await prisma.$executeRawUnsafe("ANALYZE");
}

/** A collection and a (well-filled) project the viewer can read, the same on every seeded copy. */
async function fixtures(prisma: PrismaClient, viewer: string): Promise<{ collection: string; project: string }> {
  const readable = (t: string) =>
    `EXISTS (SELECT 1 FROM permission_closure pc WHERE pc.user_uuid = $1 AND pc.target_uuid IN (${t}.uuid, ${t}.owner_uuid))`;
  const [col] = await prisma.$queryRawUnsafe<{ uuid: string }[]>(
    `SELECT c.uuid FROM collections c WHERE ${readable("c")} AND c.name LIKE 'collection %' ORDER BY c.uuid LIMIT 1`, viewer);
  const [proj] = await prisma.$queryRawUnsafe<{ uuid: string }[]>(
    `SELECT g.uuid FROM groups g WHERE g.group_class = 'project' AND g.name LIKE 'project %' AND ${readable("g")}
     ORDER BY (SELECT count(*) FROM collections c WHERE c.owner_uuid = g.uuid) DESC, g.uuid LIMIT 1`, viewer);
  return { collection: col.uuid, project: proj.uuid };
}

async function fedgate(): Promise<{ ready: Ready; stop: () => Promise<void> }> {
  // BENCH_READ_CACHE_MB=0: every read runs (the answers of unchanged reads are not kept).
  const c = await startBenchCluster(CLUSTER, { readCacheMegabytes: envInt("BENCH_READ_CACHE_MB", 32) });
  const viewer = await createUserWithToken(c, "viewer@bench.example");
  await seedAll(c.db.prisma, viewer.uuid);
  return {
    ready: { url: c.url, token: viewer.token, databaseUrl: c.config.databaseUrl, fixtures: await fixtures(c.db.prisma, viewer.uuid) },
    stop: () => c.stop(),
  };
}

async function idle(): Promise<{ ready: Ready; stop: () => Promise<void> }> {
  const c = await startBenchCluster(CLUSTER);
  return { ready: { url: c.url }, stop: () => c.stop() };
}

// ---------------------------------------------------------------- the Apollo peers

/** The subset of fedgate's SDL the workloads use, field for field. */
const PEER_SDL = `#graphql
  scalar DateTime
  type Collection { uuid: ID! name: String! ownerUuid: ID! portableDataHash: String createdAt: DateTime! modifiedAt: DateTime! }
  type Group { uuid: ID! name: String! groupClass: String! ownerUuid: ID! contents(first: Int): ContentsConnection }
  union ContentItem = Group | Collection
  type PageInfo { endCursor: String hasNextPage: Boolean! }
  type CollectionConnection { nodes: [Collection!]! pageInfo: PageInfo! }
  type ContentsConnection { nodes: [ContentItem!]! pageInfo: PageInfo! }
  type Subject { uuid: ID! kind: String! name: String email: String groupClass: String }
  type SubjectConnection { nodes: [Subject!]! pageInfo: PageInfo! }
  type Query {
    collection(uuid: ID!): Collection
    collections(first: Int): CollectionConnection
    project(uuid: ID!): Group
    shareableSubjects(search: String, first: Int): SubjectConnection
  }`;

type Row = Record<string, unknown>;
interface PeerData {
  collection(uuid: string): Promise<Row | null>;
  collections(first: number): Promise<Row[]>;
  project(uuid: string): Promise<Row | null>;
  contents(owner: string, first: number): Promise<Row[]>;
  subjects(search: string, first: number): Promise<Row[]>;
}

function page(nodes: Row[]) {
  return { nodes, pageInfo: { endCursor: (nodes.at(-1)?.uuid as string) ?? null, hasNextPage: nodes.length > 0 } };
}

function peerResolvers(d: PeerData) {
  return {
    ContentItem: { __resolveType: (o: Row) => ("groupClass" in o ? "Group" : "Collection") },
    Group: { contents: async (g: Row, a: { first?: number }) => page(await d.contents(g.uuid as string, a.first ?? 100)) },
    Query: {
      collection: (_: unknown, a: { uuid: string }) => d.collection(a.uuid),
      collections: async (_: unknown, a: { first?: number }) => page(await d.collections(a.first ?? 100)),
      project: (_: unknown, a: { uuid: string }) => d.project(a.uuid),
      shareableSubjects: async (_: unknown, a: { search?: string; first?: number }) => page(await d.subjects(a.search ?? "", a.first ?? 100)),
    },
  };
}

const COLUMNS = { uuid: true, name: true, ownerUuid: true, portableDataHash: true, createdAt: true, modifiedAt: true } as const;
const GROUP_COLUMNS = { uuid: true, name: true, groupClass: true, ownerUuid: true } as const;

/** The naive peer: one Prisma `findMany` (or `findUnique`) per field, no auth. */
function prismaData(prisma: PrismaClient): PeerData {
  return {
    collection: (uuid) => prisma.collection.findUnique({ where: { uuid }, select: COLUMNS }),
    collections: (first) => prisma.collection.findMany({ take: first, orderBy: { uuid: "asc" }, select: COLUMNS }),
    project: (uuid) => prisma.group.findUnique({ where: { uuid }, select: GROUP_COLUMNS }),
    async contents(owner, first) {
      const groups = await prisma.group.findMany({ where: { ownerUuid: owner }, take: first, orderBy: { uuid: "asc" }, select: GROUP_COLUMNS });
      const cols = await prisma.collection.findMany({ where: { ownerUuid: owner }, take: first - groups.length, orderBy: { uuid: "asc" }, select: COLUMNS });
      return [...groups, ...cols];
    },
    async subjects(search, first) {
      const users = await prisma.user.findMany({
        where: { OR: [{ fullName: { startsWith: search } }, { email: { startsWith: search } }] },
        take: first, orderBy: { uuid: "asc" }, select: { uuid: true, fullName: true, email: true },
      });
      return users.map((u) => ({ uuid: u.uuid, kind: "user", name: u.fullName, email: u.email, groupClass: null }));
    },
  };
}

/** The ceiling: the same shapes, made once, no database. */
function staticData(): PeerData {
  const at = new Date("2026-01-01T00:00:00Z");
  const col = (i: number): Row => ({
    uuid: seededUuid(CLUSTER, "collection", `c${i}`), name: `collection ${i}`, ownerUuid: seededUuid(CLUSTER, "group", `p${i}`),
    portableDataHash: "d41d8cd98f00b204e9800998ecf8427e+0", createdAt: at, modifiedAt: at,
  });
  const cols = Array.from({ length: 100 }, (_, i) => col(i));
  const group: Row = { uuid: seededUuid(CLUSTER, "group", "p0"), name: "project 0", groupClass: "project", ownerUuid: seededUuid(CLUSTER, "user", "u0") };
  const users = Array.from({ length: 100 }, (_, i) => ({ uuid: seededUuid(CLUSTER, "user", `u${i}`), kind: "user", name: `Bench User ${i}`, email: `user${i}@bench.example`, groupClass: null }));
  return {
    collection: async () => cols[0],
    collections: async (first) => cols.slice(0, first),
    project: async () => group,
    contents: async (_, first) => cols.slice(0, first),
    subjects: async (_, first) => users.slice(0, first),
  };
}

async function apolloPeer(data: PeerData): Promise<string> {
  const server = new ApolloServer({ typeDefs: PEER_SDL, resolvers: peerResolvers(data) as never });
  const { url } = await startStandaloneServer(server, { listen: { host: "127.0.0.1", port: 0 } });
  return url.replace(/\/$/, "");
}

async function naive(): Promise<{ ready: Ready; stop: () => Promise<void> }> {
  let db: Database;
  const url = process.env.OVERHEAD_DATABASE_URL;
  if (url) {
    db = await openDatabase({ databaseUrl: url });
  } else {
    db = await prepareDatabase(parseConfig({ clusterId: CLUSTER, listen: "127.0.0.1:0", systemRootToken: "x".repeat(40) }));
    const viewer = seededUuid(CLUSTER, "user", "viewer");
    await db.prisma.user.create({ data: { uuid: viewer, email: "viewer@bench.example", isActive: true } });
    await seedAll(db.prisma, viewer);
  }
  return { ready: { url: await apolloPeer(prismaData(db.prisma)) }, stop: () => db.close() };
}

async function ceiling(): Promise<{ ready: Ready; stop: () => Promise<void> }> {
  return { ready: { url: await apolloPeer(staticData()) }, stop: async () => {} };
}

// ---------------------------------------------------------------- federation

const REMOTE_LATENCY_MS = 20;

async function federation(): Promise<{ ready: Ready; stop: () => Promise<void> }> {
  const ids = [CLUSTER, "rmot1", "rmot2"];
  const ports = Object.fromEntries(await Promise.all(ids.map(async (id) => [id, await freePort()] as const)));
  const proxies = await Promise.all(ids.slice(1).map((id) => startLatencyProxy(ports[id], REMOTE_LATENCY_MS)));
  const via: Record<string, string> = { [CLUSTER]: `http://127.0.0.1:${ports[CLUSTER]}`, rmot1: proxies[0].url, rmot2: proxies[1].url };
  const clusters: BenchCluster[] = await Promise.all(
    ids.map((id) =>
      startBenchCluster(
        id,
        {
          ...(id === CLUSTER ? {} : { loginCluster: CLUSTER }),
          remoteClusters: Object.fromEntries(ids.filter((o) => o !== id).map((o) => [o, { url: via[o], activateUsers: true, timeoutMs: 30_000 }])),
        },
        ports[id],
      ),
    ),
  );
  const viewer = await createUserWithToken(clusters[0], "viewer@bench.example");
  for (const c of clusters)
    for (let i = 0; i < 10; i++)
      await ok(gql(c.url, `mutation($n: String!) { createCollection(input: { name: $n }) { uuid } }`, { n: `${c.id} ${i}` }, viewer.token));
  return {
    ready: { url: clusters[0].url, token: viewer.token, fixtures: { collection: "", project: "", remoteUrl: proxies[0].url, clusters: ids } },
    stop: async () => {
      await Promise.all(clusters.map((c) => c.stop()));
      await Promise.all(proxies.map((p) => p.close()));
    },
  };
}

const ROLES = { fedgate, idle, naive, ceiling, federation };
export type Role = keyof typeof ROLES;

if (require.main === module) {
  const role = process.argv[2] as Role;
  ROLES[role]().then(
    ({ ready, stop }) => {
      process.send?.(ready);
      process.once("SIGTERM", () => stop().finally(() => process.exit(0)));
    },
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
