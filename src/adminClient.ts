/**
 * GraphQL for the CLI: through a running server (HTTP, as the token the user gives), or
 * in-process against the configured database as the system root. Both run the same documents
 * through the same schema, so the CLI cannot drift from the API.
 */
import { graphql } from "graphql";
import type { ClusterConfig } from "./config/config";
import { prepareDatabase } from "./cluster";
import { Authenticator } from "./auth/authenticator";
import { LocalTokens } from "./auth/localTokens";
import { containerDeps } from "./containers/deps";
import { SecretBox } from "./auth/secretBox";
import { ClusterRegistry } from "./federation/registry";
import { RevocationPush } from "./federation/revocations";
import { NO_REPLICAS, clusterBusOf } from "./db/clusterBus";
import { DatabaseClock } from "./db/queryBudget";
import { FederationRouter } from "./federation/router";
import { buildSchema } from "./graphql/schema";
import { localCluster } from "./localdb/localCluster";
import { secretStoreOptions } from "./localdb/secrets";
import { createMetrics } from "./metrics";
import { dataOf, httpGraphQL, type GraphQLRun } from "./graphqlClient";


/** GraphQL as the CLI's caller, and how to let go of what it opened. */
export interface AdminApi {
  run: GraphQLRun;
  close(): Promise<void>;
}

/** Through a running server, as the given token (`waitMs`: wait for a starting server). */
export function adminViaHttp(url: string, token: string, waitMs = 0): AdminApi {
  return { run: httpGraphQL(url, token, { waitMs }), close: async () => {} };
}

export async function adminViaDatabase(config: ClusterConfig): Promise<AdminApi> {
  const db = await prepareDatabase(config);
  const metrics = createMetrics(config.clusterId);
  const transport = { selfId: config.clusterId, remoteRequests: metrics.remoteRequests };
  const registry = new ClusterRegistry(config);
  // Revocations made here queue and send their hints like the server's (its worker retries them),
  // and the running replicas forget the tokens revoked.
  const hints = new RevocationPush(db.prisma, registry, transport, { retrySeconds: config.federation.hintRetrySeconds, maxBackoffSeconds: config.federation.hintMaxBackoffSeconds });
  const box = SecretBox.fromConfig(config.tokens.encryptionKey, config.systemRootToken);
  const tokens = new LocalTokens(db.prisma, config.clusterId, box, 0, hints, clusterBusOf(config) ?? NO_REPLICAS);
  const auth = new Authenticator({
    clusterId: config.clusterId, systemRootToken: config.systemRootToken, localTokens: tokens, saltedLookupsPerMinute: 1,
    rootIsCurrent: config.generatedRootToken ? undefined : () => tokens.rootIsCurrent(config.systemRootToken),
  });
  const principal = await auth.authenticate(config.systemRootToken);
  const local = localCluster({ prisma: db.prisma, reader: db.reader, clusterId: config.clusterId, tokens, secrets: secretStoreOptions(config), containers: containerDeps(config, tokens, box, auth, (c) => new FederationRouter({ local, registry, transport, droppedRecords: metrics.remoteRecordsDropped }, c)) });
  const caller = { principal, token: config.systemRootToken };
  const schema = buildSchema({ forgetRemoteTokens: async () => {} });
  const run: GraphQLRun = async (query, variables) =>
    dataOf(
      await graphql({
        schema,
        source: query,
        variableValues: variables,
        contextValue: {
          clusterId: config.clusterId,
          caller,
          api: new FederationRouter({ local, registry, transport, droppedRecords: metrics.remoteRecordsDropped }, caller),
          limits: config.limits,
          stats: { remoteRequests: {} },
          reported: [],
          fieldsLeft: config.limits.maxQueryCost,
          clock: new DatabaseClock(Infinity), // the operator's own commands: no budget
        },
      }),
    );
  return { run, close: () => db.close() };
}
