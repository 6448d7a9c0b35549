/**
 * Administrative GraphQL for the CLI, acting as the system root: either through a running
 * server (HTTP) or in-process against the configured database. Both run the same documents
 * through the same schema, so the CLI cannot drift from the API.
 */
import { graphql } from "graphql";
import type { ClusterConfig } from "./config/config";
import { prepareDatabase } from "./cluster";
import { Authenticator } from "./auth/authenticator";
import { LocalTokens } from "./auth/localTokens";
import { SecretBox } from "./auth/secretBox";
import { ClusterRegistry } from "./federation/registry";
import { FederationRouter } from "./federation/router";
import { buildSchema } from "./graphql/schema";
import { localCluster } from "./localdb/localCluster";
import { createMetrics } from "./metrics";
import { dataOf, httpGraphQL, type GraphQLRun } from "./graphqlClient";


export interface AdminApi {
  createUser(input: { email: string; fullName: string | null; isAdmin: boolean }): Promise<{ uuid: string }>;
  createToken(input: Record<string, unknown>): Promise<{ uuid: string; token: string }>;
  close(): Promise<void>;
}

function admin(run: GraphQLRun, close: () => Promise<void>): AdminApi {
  return {
    createUser: async (input) =>
      (await run<{ createUser: { uuid: string } }>(`mutation($i: CreateUserInput!) { createUser(input: $i) { uuid } }`, { i: input })).createUser,
    createToken: async (input) =>
      (await run<{ createToken: { uuid: string; token: string } }>(`mutation($i: CreateTokenInput!) { createToken(input: $i) { uuid token } }`, { i: input })).createToken,
    close,
  };
}

export function adminViaHttp(url: string, rootToken: string): AdminApi {
  return admin(httpGraphQL(url, rootToken), async () => {});
}

export async function adminViaDatabase(config: ClusterConfig): Promise<AdminApi> {
  const db = await prepareDatabase(config);
  const tokens = new LocalTokens(db.prisma, config.clusterId, SecretBox.fromConfig(config.tokens.encryptionKey, config.systemRootToken), 0);
  const auth = new Authenticator({ clusterId: config.clusterId, systemRootToken: config.systemRootToken, localTokens: tokens, saltedLookupsPerMinute: 1 });
  const principal = await auth.authenticate(config.systemRootToken);
  const local = localCluster({ prisma: db.prisma, clusterId: config.clusterId, tokens });
  const caller = { principal, token: config.systemRootToken };
  const transport = { selfId: config.clusterId, remoteRequests: createMetrics(config.clusterId).remoteRequests };
  const schema = buildSchema({ forgetRemoteToken: () => {} });
  const run: GraphQLRun = async (query, variables) =>
    dataOf(
      await graphql({
        schema,
        source: query,
        variableValues: variables,
        contextValue: {
          clusterId: config.clusterId,
          caller,
          api: new FederationRouter({ local, registry: new ClusterRegistry(config), transport }, caller),
          limits: config.limits,
          stats: { remoteRequests: {} },
          reported: [],
        },
      }),
    );
  return admin(run, () => db.close());
}
