/**
 * fedgate's command line:
 *   fedgate serve   [--config FILE]                       serve this cluster's API
 *   fedgate migrate [--config FILE]                       apply pending migrations
 *   fedgate user create --email E [--name N] [--admin]    create a user (as the system root)
 *   fedgate token create --user UUID [--scope METHOD:PATH …] [--cluster-scope ID=METHOD:PATH …] [--expires ISO]
 *   fedgate demo                                          a local three-cluster federation
 * `user` and `token` work on the configured database directly, or, with --url (and the root
 * token in FEDGATE_SYSTEM_ROOT_TOKEN or the config), through a running server's GraphQL API.
 */
import { parseArgs } from "node:util";
import { ConfigError, loadConfig, type ClusterConfig } from "./config/config";
import { startCluster } from "./cluster";
import { openDatabase } from "./db/database";
import { DataDirInUseError } from "./db/dataDirLock";
import { migrate } from "./db/migrate";
import { log } from "./log";
import { runDemo } from "./demo";
import { adminViaDatabase, adminViaHttp, type AdminApi } from "./adminClient";

const USAGE = `usage:
  fedgate serve   [--config FILE]
  fedgate migrate [--config FILE]
  fedgate user create --email EMAIL [--name NAME] [--admin] [--config FILE | --url URL]
  fedgate token create --user UUID [--scope METHOD:PATH ...] [--cluster-scope CLUSTER=METHOD:PATH ...]
                       [--expires ISO-8601] [--config FILE | --url URL]
  fedgate demo    [--base-port PORT]`;

class UsageError extends Error {}

function parseScope(text: string, flag: string): { method: string; path: string } {
  const i = text.indexOf(":");
  if (i < 1) throw new UsageError(`${flag} "${text}": expected METHOD:PATH, e.g. GET:/arvados/v1/collections/`);
  return { method: text.slice(0, i), path: text.slice(i + 1) };
}

function onSignals(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info("shutting down", { signal });
    stop().then(
      () => process.exit(0),
      (e) => {
        log.error("shutdown failed", { error: (e as Error).message });
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => handler("SIGINT"));
  process.on("SIGTERM", () => handler("SIGTERM"));
}

async function serve(config: ClusterConfig): Promise<void> {
  const cluster = await startCluster(config);
  onSignals(() => cluster.close());
  if (config.generatedRootToken)
    process.stdout.write(`system root token (generated for this run; set FEDGATE_SYSTEM_ROOT_TOKEN to keep one): ${config.systemRootToken}\n`);
  log.info("fedgate ready", { cluster: config.clusterId, url: `${cluster.url}/graphql`, database: config.databaseUrl ? "postgresql" : config.dataDir ? `pglite:${config.dataDir}` : "pglite:memory" });
}

async function adminApi(config: ClusterConfig, url: string | undefined): Promise<AdminApi> {
  if (url) return adminViaHttp(url, config.systemRootToken);
  if (!config.databaseUrl && !config.dataDir)
    throw new UsageError("the database is in memory: name a persistent database (DATABASE_URL or dataDir) or a running server (--url)");
  return adminViaDatabase(config);
}

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: "string" },
      url: { type: "string" },
      email: { type: "string" },
      name: { type: "string" },
      admin: { type: "boolean" },
      user: { type: "string" },
      scope: { type: "string", multiple: true },
      "cluster-scope": { type: "string", multiple: true },
      expires: { type: "string" },
      "base-port": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const [command, sub] = positionals;
  try {
    if (values.help || !command) {
      process.stdout.write(USAGE + "\n");
      return values.help ? 0 : 2;
    }
    if (command === "demo") {
      await runDemo({ basePort: values["base-port"] ? Number(values["base-port"]) : undefined, onSignals });
      return 0;
    }
    const config = loadConfig({ file: values.config });
    if (command === "serve") {
      await serve(config);
      return 0;
    }
    if (command === "migrate") {
      // Migrate directly (not through prepareDatabase, which applies them first and would
      // leave nothing to report but "up to date", even on a fresh database).
      const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
      try {
        const applied = await migrate(db);
        process.stdout.write(applied.length ? `applied: ${applied.join(", ")}\n` : "database is up to date\n");
      } finally {
        await db.close();
      }
      return 0;
    }
    if (command === "user" && sub === "create") {
      if (!values.email) throw new UsageError("user create needs --email");
      const api = await adminApi(config, values.url);
      try {
        const user = await api.createUser({ email: values.email, fullName: values.name ?? null, isAdmin: values.admin ?? false });
        process.stdout.write(`${user.uuid}\n`);
      } finally {
        await api.close();
      }
      return 0;
    }
    if (command === "token" && sub === "create") {
      if (!values.user) throw new UsageError("token create needs --user UUID");
      const scopes = values.scope?.map((s) => parseScope(s, "--scope")) ?? null;
      const clusterScopes = groupClusterScopes(values["cluster-scope"]);
      const expiresAt = values.expires ?? null;
      const api = await adminApi(config, values.url);
      try {
        const created = await api.createToken({ userUuid: values.user, scopes, clusterScopes, expiresAt });
        process.stdout.write(`${created.token}\n`);
      } finally {
        await api.close();
      }
      return 0;
    }
    throw new UsageError(`unknown command "${positionals.join(" ")}"`);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`fedgate: ${e.message}\n${USAGE}\n`);
      return 2;
    }
    if (e instanceof ConfigError) {
      process.stderr.write(`fedgate: ${e.message}\n`);
      return 78; // EX_CONFIG
    }
    if (e instanceof DataDirInUseError) {
      process.stderr.write(`fedgate: ${e.message}\n`);
      return 75; // EX_TEMPFAIL: try again once the other process is gone
    }
    throw e;
  }
}

function groupClusterScopes(list: string[] | undefined): { cluster: string; scopes: { method: string; path: string }[] }[] | null {
  if (!list?.length) return null;
  const byCluster = new Map<string, { method: string; path: string }[]>();
  for (const entry of list) {
    const eq = entry.indexOf("=");
    if (eq < 1) throw new UsageError(`--cluster-scope "${entry}": expected CLUSTER=METHOD:PATH (or CLUSTER= for no scopes)`);
    const cluster = entry.slice(0, eq);
    const rest = entry.slice(eq + 1);
    const scopes = byCluster.get(cluster) ?? [];
    if (rest) scopes.push(parseScope(rest, "--cluster-scope"));
    byCluster.set(cluster, scopes);
  }
  return [...byCluster].map(([cluster, scopes]) => ({ cluster, scopes }));
}
