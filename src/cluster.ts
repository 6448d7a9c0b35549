/**
 * One running cluster: the composition root that wires configuration, database, tokens,
 * federation, schema and HTTP together, in one place.
 */
import { readFileSync } from "node:fs";
import type { HeaderMap } from "@apollo/server";
import type { ClusterConfig } from "./config/config";
import { openDatabase, type Database } from "./db/database";
import { readCacheLimits } from "./db/snapshotCache";
import { migrate } from "./db/migrate";
import { NO_REPLICAS, clusterBusOf } from "./db/clusterBus";
import { DatabaseClock, tracedPrisma } from "./db/queryBudget";
import { Authenticator, bearerToken, systemUser } from "./auth/authenticator";
import type { Caller } from "./auth/principal";
import { LocalTokens, storeRootTokenRecord } from "./auth/localTokens";
import { containerDeps } from "./containers/deps";
import { SecretBox } from "./auth/secretBox";
import { CLUSTER_ID_RE } from "./ids";
import { ClusterRegistry } from "./federation/registry";
import { RemoteTokens } from "./federation/remoteTokens";
import { RevocationPush } from "./federation/revocations";
import { FederationRouter } from "./federation/router";
import { FORWARDED_HEADER, type TransportDeps } from "./federation/transport";
import type { RequestContext } from "./graphql/context";
import { countResolvedFields } from "./graphql/queryCost";
import { buildSchema } from "./graphql/schema";
import { traceRootFields } from "./telemetry/graphqlTracing";
import { enableOtlpTracing } from "./telemetry/tracing";
import { localCluster } from "./localdb/localCluster";
import { budgetedContext, type LocalContext } from "./localdb/context";
import { secretStoreOptions } from "./localdb/secrets";
import { log } from "./log";
import { createMetrics } from "./metrics";
import { createHttpServer } from "./server";
import { createCors } from "./http/cors";
import { createExplorer, type ExplorerOptions } from "./http/explorer";
import { managementAccess } from "./http/management";

/** How often an embedded PGlite, which has no autovacuum, is vacuumed and analysed (StartOptions). */
const PGLITE_MAINTENANCE_EVERY_MS = 10 * 60_000;

export interface RunningCluster {
  config: ClusterConfig;
  db: Database;
  /** Base URL, e.g. http://127.0.0.1:8000 */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Opens the database and applies pending migrations; makes sure the system user exists. */
export async function prepareDatabase(config: ClusterConfig): Promise<Database> {
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, readCache: readCacheLimits(config.readCacheMegabytes) });
  try {
    const applied = await migrate(db);
    if (applied.length) log.info("migrations applied", { migrations: applied });
    await db.prisma.$executeRawUnsafe("ANALYZE"); // the planner needs statistics from the start
    const root = systemUser(config.clusterId);
    // ON CONFLICT DO NOTHING: replicas starting at once would race a read-then-insert upsert.
    await db.prisma.user.createMany({ data: [root], skipDuplicates: true });
    const box = SecretBox.fromConfig(config.tokens.encryptionKey, config.systemRootToken);
    await storeRootTokenRecord(db.prisma, config.clusterId, box, config.generatedRootToken ? null : config.systemRootToken);
    return db;
  } catch (e) {
    await db.close();
    throw e;
  }
}

function listenAddress(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(":");
  return { host: listen.slice(0, i).replace(/^\[|\]$/g, ""), port: Number(listen.slice(i + 1)) };
}

/** What the process that starts a cluster adds to its configuration (the demo's explorer banner). */
export interface StartOptions {
  explorer?: ExplorerOptions;
  /** Milliseconds between VACUUM ANALYZE runs on embedded PGlite (default 10 minutes). */
  pgliteMaintenanceMs?: number;
}

export async function startCluster(config: ClusterConfig, options: StartOptions = {}): Promise<RunningCluster> {
  const db = await prepareDatabase(config);
  const metrics = createMetrics(config.clusterId, db.reader.stats);
  const registry = new ClusterRegistry(config);
  const baseTransport: TransportDeps = { selfId: config.clusterId, remoteRequests: metrics.remoteRequests, maxResponseBytes: config.limits.maxRemoteResponseBytes };
  const prisma = tracedPrisma(db.prisma);

  const secretBox = SecretBox.fromConfig(config.tokens.encryptionKey, config.systemRootToken);
  const revocations = new RevocationPush(db.prisma, registry, baseTransport, {
    retrySeconds: config.federation.hintRetrySeconds,
    maxBackoffSeconds: config.federation.hintMaxBackoffSeconds,
  });
  // Replicas of this cluster share its PostgreSQL database, and learn through it what to forget.
  const bus = clusterBusOf(config);
  const replicas = bus ?? NO_REPLICAS;
  const localTokens = new LocalTokens(prisma, config.clusterId, secretBox, config.tokens.localCacheSeconds, revocations, replicas);
  const remoteTokens = new RemoteTokens({
    replicas,
    prisma,
    registry,
    transport: baseTransport,
    cacheSeconds: config.tokens.remoteCacheSeconds,
    negativeCacheSeconds: config.tokens.negativeCacheSeconds,
  });
  const authenticator = new Authenticator({
    clusterId: config.clusterId,
    systemRootToken: config.systemRootToken,
    localTokens,
    remote: remoteTokens,
    knowsCluster: (id) => registry.find(id) !== undefined,
    saltedLookupsPerMinute: config.limits.remoteValidationsPerMinute,
    onSaltedUse: (uuid, cluster) => revocations.recordUse(uuid, cluster),
    rootIsCurrent: config.generatedRootToken ? undefined : () => localTokens.rootIsCurrent(config.systemRootToken),
  });
  const localDeps: LocalContext = {
    prisma, reader: db.reader, clusterId: config.clusterId, tokens: localTokens, secrets: secretStoreOptions(config),
    // Late-bound: the router reaches `local`, which holds these deps.
    containers: containerDeps(config, localTokens, secretBox, authenticator, (caller) => routerFor(caller)),
  };
  const local = localCluster(localDeps);
  const routerFor = (caller: Caller) => new FederationRouter({ local, registry, transport: baseTransport, droppedRecords: metrics.remoteRecordsDropped }, caller);
  if (config.telemetry.otlpEndpoint) enableOtlpTracing(config.telemetry.otlpEndpoint);
  const schema = countResolvedFields(traceRootFields(buildSchema({ forgetRemoteTokens: (uuids) => remoteTokens.dropEverywhere(uuids) }), config.clusterId), config.limits.maxQueryCost);

  async function context(headers: HeaderMap): Promise<RequestContext> {
    const forwarded = headers.get(FORWARDED_HEADER);
    const forwardedFrom = forwarded && CLUSTER_ID_RE.test(forwarded) && forwarded !== config.clusterId ? forwarded : undefined;
    const token = bearerToken(headers.get("authorization"));
    const principal = token ? await authenticator.authenticate(token, forwardedFrom) : null;
    const caller = principal ? { principal, token, forwardedFrom } : null;
    const stats = { remoteRequests: {} };
    const transport = { ...baseTransport, stats, maxRequests: config.limits.maxRemoteRequests };
    // What the request does in this cluster's database counts towards its database-time budget.
    const clock = new DatabaseClock(config.limits.maxDatabaseMsPerRequest);
    const requestLocal = localCluster(budgetedContext(localDeps, clock));
    const api = caller ? new FederationRouter({ local: requestLocal, registry, transport, droppedRecords: metrics.remoteRecordsDropped }, caller) : requestLocal;
    return { clusterId: config.clusterId, caller, api, limits: config.limits, stats, reported: [], fieldsLeft: config.limits.maxQueryCost, clock };
  }

  // PGlite runs without autovacuum: do its work now and then ourselves. Without VACUUM the rows
  // that updates and deletes leave behind are never reclaimed, and index-only scans keep visiting
  // the table; without ANALYZE the planner's statistics go stale. (A few tens of ms for the bench's
  // 20,000 collections, while the one connection waits.)
  const maintenance = db.kind === "pglite"
    ? setInterval(() => void db.prisma.$executeRawUnsafe("VACUUM ANALYZE").catch(() => undefined), options.pgliteMaintenanceMs ?? PGLITE_MAINTENANCE_EVERY_MS)
    : undefined;
  maintenance?.unref();

  const http = await createHttpServer({
    schema,
    metrics,
    limits: config.limits,
    http: config.http,
    isKnownCluster: (id) => registry.tableIds().includes(id),
    context,
    explorer: config.explorer ? createExplorer(options.explorer ?? {}) : undefined,
    cors: createCors(config.cors.allowedOrigins),
    metricsAccess: managementAccess(config.managementToken),
    tls: config.tls && { cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) },
  });
  bus?.subscribe(localTokens);
  bus?.subscribe(remoteTokens);
  await bus?.start();
  const { host, port: wanted } = listenAddress(config.listen);
  let address;
  try {
    address = await http.listen(host, wanted);
  } catch (e) {
    await bus?.stop();
    await db.close();
    throw new Error(`cannot listen on ${config.listen}: ${(e as Error).message}`);
  }
  const urlHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
  revocations.start();
  return {
    config,
    db,
    url: `${config.tls ? "https" : "http"}://${urlHost}:${address.port}`,
    port: address.port,
    async close() {
      clearInterval(maintenance);
      await http.close();
      await revocations.stop();
      await bus?.stop();
      await db.close();
    },
  };
}
