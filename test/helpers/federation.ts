/**
 * Real fedgate clusters on 127.0.0.1 for integration tests: each with its own database
 * (PGlite in memory, or a fresh PostgreSQL database when DATABASE_URL is set), talking HTTP.
 */
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { parseConfig, type ConfigInput } from "../../src/config/config";
import { startCluster, type RunningCluster } from "../../src/cluster";
import { log } from "../../src/log";
import { createTestDatabase } from "./database";

log.configure({ level: (process.env.FEDGATE_TEST_LOG as "info") ?? "error" });

export interface TestCluster extends RunningCluster {
  id: string;
  rootToken: string;
  /** GraphQL as the system root of this cluster. */
  root<T = any>(query: string, variables?: Record<string, unknown>): Promise<T>;
  /** Stops the server and drops its database. */
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface GqlResult<T = any> {
  status: number;
  data?: T;
  errors?: { message: string; path?: (string | number)[]; extensions?: { code?: string; cluster?: string; [k: string]: unknown } }[];
  extensions?: Record<string, any>;
}

export async function gql<T = any>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  token?: string,
  headers: Record<string, string> = {},
): Promise<GqlResult<T>> {
  const init = {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: JSON.stringify({ query, variables }),
  };
  let res: Response;
  try {
    res = await fetch(`${url}/graphql`, init);
  } catch (e) {
    if (!staleSocket(e)) throw e;
    staleRetries++;
    res = await fetch(`${url}/graphql`, init);
  }
  const body = (await res.json()) as Omit<GqlResult<T>, "status">;
  return { status: res.status, ...body };
}

/**
 * PGlite runs inside this process: a long statement (a benchmark's bulk seeding) blocks the
 * event loop past the server's keep-alive timeout, and the client may then reuse a socket the
 * server is closing at that very moment (reset before the request was read). Such a request is
 * sent once more on a fresh connection, and counted.
 */
let staleRetries = 0;

/** Requests re-sent after a stale keep-alive socket (see above). */
export function staleSocketRetries(): number {
  return staleRetries;
}

function staleSocket(e: unknown): boolean {
  const code = (e as { cause?: { code?: string } })?.cause?.code;
  return code === "ECONNRESET" || code === "UND_ERR_SOCKET" || code === "EPIPE";
}

/** The data of a response that must have no errors (the errors are shown when it has). */
export async function ok<T = any>(p: Promise<GqlResult<T>>): Promise<T> {
  const r = await p;
  if (r.errors?.length) throw new Error(`unexpected errors: ${JSON.stringify(r.errors)}`);
  return r.data as T;
}

export function codes(r: GqlResult): (string | undefined)[] {
  return (r.errors ?? []).map((e) => e.extensions?.code);
}

/** A fresh secrets section with one random key (a persistent test database needs one to store secrets). */
export function testSecretKeys(extra: Partial<NonNullable<ConfigInput["secrets"]>> = {}): NonNullable<ConfigInput["secrets"]> {
  return { keys: { test1: randomBytes(32).toString("base64") }, activeKey: "test1", ...extra };
}

/** `databaseServer`: a PostgreSQL URL to make a fresh database on (default DATABASE_URL); none: PGlite. */
export async function startTestCluster(
  id: string,
  overrides: Partial<ConfigInput> = {},
  port?: number,
  databaseServer = process.env.DATABASE_URL,
): Promise<TestCluster> {
  const target = await createTestDatabase(databaseServer);
  const rootToken = `root-${id}-${"x".repeat(40)}`;
  const config = parseConfig({
    clusterId: id,
    listen: `127.0.0.1:${port ?? 0}`,
    systemRootToken: rootToken,
    ...(target.databaseUrl ? { databaseUrl: target.databaseUrl } : {}),
    secrets: testSecretKeys(),
    ...overrides,
  });
  let running: RunningCluster;
  try {
    running = await startCluster(config);
  } catch (e) {
    await target.dispose();
    throw e;
  }
  return {
    ...running,
    id,
    rootToken,
    root: (query, variables) => ok(gql(running.url, query, variables, rootToken)),
    async stop() {
      await running.close();
      await target.dispose();
    },
  };
}

/**
 * Several clusters that know each other. `options[id]` are extra config for that cluster;
 * every cluster gets the others in its remote-cluster table.
 */
export async function startFederation(ids: string[], options: Record<string, Partial<ConfigInput>> = {}): Promise<Record<string, TestCluster>> {
  const ports = Object.fromEntries(await Promise.all(ids.map(async (id) => [id, await freePort()] as const)));
  const clusters = await Promise.all(
    ids.map((id) => {
      const remoteClusters = Object.fromEntries(
        ids.filter((o) => o !== id).map((o) => [o, { url: `http://127.0.0.1:${ports[o]}`, activateUsers: true, timeoutMs: 3000 }]),
      );
      return startTestCluster(id, { remoteClusters, ...options[id] }, ports[id]);
    }),
  );
  return Object.fromEntries(clusters.map((c) => [c.id, c]));
}

/** A user and a token for it, created by the cluster's root. */
export async function createUserWithToken(
  c: TestCluster,
  email: string,
  tokenInput: Record<string, unknown> = {},
): Promise<{ uuid: string; token: string; tokenUuid: string }> {
  const { createUser } = await c.root(`mutation($e:String!){ createUser(input:{email:$e, fullName:$e}) { uuid } }`, { e: email });
  const { createToken } = await c.root(`mutation($i:CreateTokenInput!){ createToken(input:$i) { uuid token } }`, {
    i: { userUuid: createUser.uuid, ...tokenInput },
  });
  return { uuid: createUser.uuid, token: createToken.token, tokenUuid: createToken.uuid };
}
