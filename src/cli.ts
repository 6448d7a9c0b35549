/**
 * fedgate's command line (commander: per-command help, unknown options and stray arguments
 * refused, `--version`). Commands that talk to a cluster go through a running server's GraphQL
 * API (`--url`/FEDGATE_URL, acting as FEDGATE_TOKEN) or, without a URL, straight to the
 * configured persistent database as the system root. `fedgate help [command]` lists them all.
 */
import { availableParallelism } from "node:os";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { ConfigError, loadConfig, type ClusterConfig } from "./config/config";
import { maskedConfig } from "./config/masked";
import { prepareDatabase, startCluster } from "./cluster";
import { openDatabase } from "./db/database";
import { DataDirInUseError } from "./db/dataDirLock";
import { migrate } from "./db/migrate";
import { log } from "./log";
import { runDemo } from "./demo";
import { adminViaDatabase, adminViaHttp, type AdminApi } from "./adminClient";
import { serverBaseUrl, ServerUnreachableError } from "./graphqlClient";
import { devBanner } from "./banner";
import { stopTracing } from "./telemetry/tracing";
import { secretStoreOptions } from "./localdb/secrets";
import { rotateSecretKeys } from "./secrets/rotation";
import { Dispatcher } from "./dispatch/dispatcher";

class UsageError extends Error {}

const DEFAULT_WAIT_SECONDS = 30;

/** The environment each kind of command reads, for its help text. */
const ENV = {
  config: [
    "FEDGATE_CLUSTER_ID, FEDGATE_LISTEN, FEDGATE_SYSTEM_ROOT_TOKEN, DATABASE_URL, FEDGATE_DATA_DIR,",
    "FEDGATE_REMOTE_CLUSTERS, FEDGATE_LOGIN_CLUSTER, FEDGATE_TOKEN_KEY, FEDGATE_LOG_LEVEL,",
    "FEDGATE_SECRETS_KEYS (JSON: key id → base64 key), FEDGATE_SECRETS_ACTIVE_KEY (override --config)",
  ],
  client: [
    "FEDGATE_URL      the server (instead of --url)",
    "FEDGATE_TOKEN    the token to act as (default: FEDGATE_SYSTEM_ROOT_TOKEN)",
  ],
  dispatch: [
    "FEDGATE_URL               the server (instead of --url)",
    "FEDGATE_DISPATCHER_TOKEN  the dispatcher's token (an admin's; each lock records its uuid)",
    "FEDGATE_LOG_LEVEL         debug | info | warn | error",
  ],
};

function envHelp(...kinds: (keyof typeof ENV)[]): string {
  return `\nEnvironment:\n${kinds.flatMap((k) => ENV[k]).map((l) => `  ${l}`).join("\n")}\n`;
}

function parseScope(text: string, flag: string): { method: string; path: string } {
  const i = text.indexOf(":");
  if (i < 1) throw new UsageError(`${flag} "${text}": expected METHOD:PATH, e.g. GET:/arvados/v1/collections/`);
  return { method: text.slice(0, i), path: text.slice(i + 1) };
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

const collect = (value: string, previous: string[] = []) => [...previous, value];

function seconds(value: string): number {
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || n > 600) throw new InvalidArgumentError("must be a number of seconds between 0 and 600");
  return n;
}

/** A period that must not be zero (a poll every 0 s would spin against the server). */
function pollSeconds(value: string): number {
  const n = seconds(value);
  if (n < 0.01) throw new InvalidArgumentError("must be at least 0.01 seconds");
  return n;
}

function positiveCount(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 1_000_000) throw new InvalidArgumentError("must be a whole number from 1 to 1000000");
  return n;
}

/** The demo takes three consecutive ports from this one. */
function basePort(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 65533) throw new InvalidArgumentError("must be a port number from 1 to 65533 (the demo uses it and the next two)");
  return n;
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

function configFrom(opts: { config?: string }): ClusterConfig {
  const config = loadConfig({ file: opts.config });
  log.configure({ level: config.logLevel });
  return config;
}

async function serve(opts: { config?: string }): Promise<void> {
  const config = configFrom(opts);
  const cluster = await startCluster(config);
  onSignals(async () => {
    await cluster.close();
    await stopTracing(); // send the spans still buffered
  });
  const inMemory = !config.databaseUrl && !config.dataDir;
  if (inMemory) process.stdout.write(devBanner(config, cluster.url));
  else if (config.generatedRootToken)
    process.stdout.write(`system root token (generated for this run; set FEDGATE_SYSTEM_ROOT_TOKEN to keep one): ${config.systemRootToken}\n`);
  log.info("fedgate ready", { cluster: config.clusterId, url: `${cluster.url}/graphql`, database: config.databaseUrl ? "postgresql" : config.dataDir ? `pglite:${config.dataDir}` : "pglite:memory" });
}

interface ClientOptions {
  config?: string;
  url?: string;
  wait: number;
}

/** The API the command acts through: a running server (with a token), or the database directly. */
async function connect(opts: ClientOptions): Promise<AdminApi> {
  const url = opts.url ?? process.env.FEDGATE_URL;
  if (url) {
    const base = serverBaseUrl(url);
    if (!base) throw new UsageError(`--url "${url}" is not an http:// or https:// URL (e.g. http://127.0.0.1:8000)`);
    const token = process.env.FEDGATE_TOKEN || process.env.FEDGATE_SYSTEM_ROOT_TOKEN;
    if (!token)
      throw new UsageError(`talking to ${base} needs a token: set FEDGATE_TOKEN (the token to act as) or FEDGATE_SYSTEM_ROOT_TOKEN (the server's system root token)`);
    return adminViaHttp(base, token, opts.wait * 1000);
  }
  const config = configFrom(opts);
  if (!config.databaseUrl && !config.dataDir)
    throw new UsageError("no server and no persistent database: give a running server (--url or FEDGATE_URL) or a database (DATABASE_URL or dataDir in --config)");
  return adminViaDatabase(config);
}

/** Runs `fn` with the command's API, closing it afterwards. */
async function withApi<T>(opts: ClientOptions, fn: (api: AdminApi) => Promise<T>): Promise<T> {
  const api = await connect(opts);
  try {
    return await fn(api);
  } finally {
    await api.close();
  }
}

const print = (text: string) => void process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);

/** The options every command that talks to a cluster takes. */
function clientCommand(parent: Command, name: string, description: string): Command {
  return parent
    .command(name)
    .description(description)
    .option("--config <file>", "the cluster's config file (used when there is no --url)")
    .option("--url <url>", "a running server, e.g. http://127.0.0.1:8000 (default: FEDGATE_URL)")
    .addOption(new Option("--wait <seconds>", "how long to wait for a starting server").argParser(seconds).default(DEFAULT_WAIT_SECONDS))
    .addHelpText("after", envHelp("client", "config"));
}

function userCommands(program: Command): void {
  const user = program.command("user").description("users of this cluster");
  clientCommand(user, "create", "create a user (needs an admin token, or the database)")
    .requiredOption("--email <email>", "the user's email")
    .option("--name <name>", "the user's full name")
    .option("--admin", "make the user an admin", false)
    .action(async (o: ClientOptions & { email: string; name?: string; admin: boolean }) => {
      const { createUser } = await withApi(o, (api) =>
        api.run<{ createUser: { uuid: string } }>(`mutation($i: CreateUserInput!) { createUser(input: $i) { uuid } }`, {
          i: { email: o.email, fullName: o.name ?? null, isAdmin: o.admin },
        }),
      );
      print(createUser.uuid);
    });
  clientCommand(user, "list", "list the users the token can see")
    .option("--search <prefix>", "a name or email prefix")
    .action(async (o: ClientOptions & { search?: string }) => {
      type U = { uuid: string; email: string | null; fullName: string | null; isActive: boolean; isAdmin: boolean };
      const users = await withApi(o, (api) => pages<U>(api, "users", "uuid email fullName isActive isAdmin", { search: o.search ?? null }));
      for (const u of users) print([u.uuid, u.email ?? "", u.fullName ?? "", u.isActive ? "active" : "inactive", u.isAdmin ? "admin" : ""].join("\t").trimEnd());
    });
}

/** Every page of a list field (its nodes), following the cursors. */
async function pages<T>(api: AdminApi, field: string, selection: string, args: Record<string, unknown>): Promise<T[]> {
  const out: T[] = [];
  let after: string | null = null;
  const params = Object.keys(args).map((k) => `$${k}: ${k === "userUuid" ? "ID" : "String"}`);
  const query = `query(${[...params, "$after: String"].join(", ")}) { r: ${field}(${[...Object.keys(args).map((k) => `${k}: $${k}`), "after: $after"].join(", ")}) { nodes { ${selection} } pageInfo { endCursor hasNextPage } } }`;
  type Page = { r: { nodes: T[]; pageInfo: { endCursor: string | null; hasNextPage: boolean } } };
  for (;;) {
    const { r }: Page = await api.run<Page>(query, { ...args, after });
    out.push(...r.nodes);
    if (!r.pageInfo.hasNextPage) return out;
    after = r.pageInfo.endCursor;
  }
}

function tokenCommands(program: Command): void {
  const token = program.command("token").description("API tokens");
  clientCommand(token, "create", "create a token and print it (shown once)")
    .option("--user <uuid>", "admins only: for another user (default: the acting user)")
    .option("--scope <method:path>", "allow only this (repeatable); none: every request", collect)
    .option("--cluster-scope <cluster=method:path>", "per-cluster scope (repeatable); CLUSTER= allows nothing there", collect)
    .option("--expires <iso-8601>", "expiry time")
    .action(async (o: ClientOptions & { user?: string; scope?: string[]; clusterScope?: string[]; expires?: string }) => {
      const input = {
        userUuid: o.user ?? null,
        scopes: o.scope?.map((s) => parseScope(s, "--scope")) ?? null,
        clusterScopes: groupClusterScopes(o.clusterScope),
        expiresAt: o.expires ?? null,
      };
      const { createToken } = await withApi(o, (api) =>
        api.run<{ createToken: { token: string } }>(`mutation($i: CreateTokenInput!) { createToken(input: $i) { token } }`, { i: input }),
      );
      print(createToken.token);
    });
  clientCommand(token, "list", "list a user's tokens (never their secrets)")
    .option("--user <uuid>", "admins only: another user's (default: the acting user's)")
    .action(async (o: ClientOptions & { user?: string }) => {
      type T = { uuid: string; expiresAt: string | null; revokedAt: string | null; scopes: { method: string; path: string }[] | null };
      const tokens = await withApi(o, (api) => pages<T>(api, "tokens", "uuid expiresAt revokedAt scopes { method path }", { userUuid: o.user ?? null }));
      for (const t of tokens) {
        const state = t.revokedAt ? `revoked ${t.revokedAt}` : t.expiresAt ? `expires ${t.expiresAt}` : "no expiry";
        const scopes = t.scopes === null ? "all" : t.scopes.map((s) => `${s.method}:${s.path}`).join(",") || "(none)";
        print([t.uuid, state, scopes].join("\t"));
      }
    });
  clientCommand(token, "revoke", "revoke a token and every token made with it")
    .argument("<uuid>", "the token's uuid")
    .action(async (uuid: string, o: ClientOptions) => {
      const { revokeToken } = await withApi(o, (api) =>
        api.run<{ revokeToken: { uuid: string; revokedAt: string } }>(`mutation($u: ID!) { revokeToken(uuid: $u) { uuid revokedAt } }`, { u: uuid }),
      );
      print(`${revokeToken.uuid}\trevoked ${revokeToken.revokedAt}`);
    });
}

function serverCommands(program: Command): void {
  program
    .command("serve")
    .description("serve this cluster's API (an in-memory dev cluster when nothing is configured)")
    .option("--config <file>", "YAML or JSON config file")
    .addHelpText("after", envHelp("config"))
    .action(serve);
  program
    .command("migrate")
    .description("apply pending database migrations")
    .option("--config <file>", "YAML or JSON config file")
    .addHelpText("after", envHelp("config"))
    .action(async (o: { config?: string }) => {
      const config = configFrom(o);
      // Migrate directly (not through prepareDatabase, which applies them first and would
      // leave nothing to report but "up to date", even on a fresh database).
      const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
      try {
        const applied = await migrate(db);
        print(applied.length ? `applied: ${applied.join(", ")}` : "database is up to date");
      } finally {
        await db.close();
      }
    });
  const config = program.command("config").description("configuration");
  config
    .command("check")
    .description("validate the config file and the environment; print the result with secrets masked")
    .option("--config <file>", "YAML or JSON config file")
    .addHelpText("after", envHelp("config"))
    .action((o: { config?: string }) => print(JSON.stringify(maskedConfig(loadConfig({ file: o.config })), null, 2)));
  program
    .command("demo")
    .description("a local federation of three clusters on embedded databases (npm start)")
    .addOption(new Option("--base-port <port>", "the first of three consecutive ports").argParser(basePort))
    .action((o: { basePort?: number }) => runDemo({ basePort: o.basePort, onSignals }));
}

function secretCommands(program: Command): void {
  const secrets = program.command("secrets").description("the secret store");
  secrets
    .command("rotate-key")
    .description("re-seal every stored secret value under secrets.activeKey, in batches (safe to interrupt: run it again to finish)")
    .option("--config <file>", "YAML or JSON config file (secrets.keys must still hold the old keys)")
    .addOption(new Option("--batch-size <n>", "values re-sealed per transaction").argParser(positiveCount).default(100))
    .addOption(new Option("--max-values <n>", "stop after re-sealing this many").argParser(positiveCount))
    .addHelpText("after", envHelp("config"))
    .action(async (o: { config?: string; batchSize: number; maxValues?: number }) => {
      const config = configFrom(o);
      if (!config.databaseUrl && !config.dataDir) throw new UsageError("rotate-key works on the persistent database: set DATABASE_URL or dataDir in --config");
      if (!config.secrets.activeKey) throw new ConfigError("secrets.activeKey: is required to rotate (the key id values are re-sealed under)");
      const db = await prepareDatabase(config);
      try {
        const r = await rotateSecretKeys(db.prisma, secretStoreOptions(config).keyring, {
          batchSize: o.batchSize,
          maxValues: o.maxValues,
          onBatch: (n) => log.info("secret values re-sealed", { count: n, keyId: config.secrets.activeKey }),
        });
        print(`re-sealed ${r.rewritten} values under key "${r.activeKey}"; ${r.remaining} remain under other keys`);
      } finally {
        await db.close();
      }
    });
}

interface DispatchOptions {
  url?: string;
  wait: number;
  pollInterval: number;
  concurrency: number;
  maxContainers?: number;
  stopGrace: number;
  workDir?: string;
}

/** Runs until SIGTERM/SIGINT (then stops its containers and unlocks what has not started) or --max-containers. */
async function dispatch(o: DispatchOptions): Promise<void> {
  const url = o.url ?? process.env.FEDGATE_URL;
  if (!url) throw new UsageError("dispatch needs the cluster's server: --url or FEDGATE_URL");
  const base = serverBaseUrl(url);
  if (!base) throw new UsageError(`--url "${url}" is not an http:// or https:// URL (e.g. http://127.0.0.1:8000)`);
  const token = process.env.FEDGATE_DISPATCHER_TOKEN;
  if (!token) throw new UsageError("dispatch needs a dispatcher's token (an admin's) in FEDGATE_DISPATCHER_TOKEN");
  const dispatcher = new Dispatcher({
    url: base, token, pollIntervalMs: o.pollInterval * 1000, concurrency: o.concurrency, maxContainers: o.maxContainers,
    stopGraceMs: o.stopGrace * 1000, workDirBase: o.workDir, waitMs: o.wait * 1000,
  });
  const finished = dispatcher.run();
  onSignals(async () => {
    dispatcher.stop();
    await finished;
  });
  await finished;
}

function dispatchCommand(program: Command): void {
  program
    .command("dispatch")
    .description("run this cluster's queued containers as local processes (no container runtime), as a dispatcher")
    .option("--url <url>", "the cluster's server, e.g. http://127.0.0.1:8000 (default: FEDGATE_URL)")
    .addOption(new Option("--poll-interval <seconds>", "how often to look at the queue and at running containers").argParser(pollSeconds).default(2))
    .addOption(new Option("--concurrency <n>", "containers run at once").argParser(positiveCount).default(availableParallelism()))
    .addOption(new Option("--max-containers <n>", "take this many containers, finish them, then exit").argParser(positiveCount))
    .addOption(new Option("--stop-grace <seconds>", "SIGTERM to SIGKILL when a container is stopped").argParser(seconds).default(10))
    .option("--work-dir <dir>", "where each run gets its fresh working directory (default: the system's temporary directory)")
    .addOption(new Option("--wait <seconds>", "how long to wait for a server that refuses connections").argParser(seconds).default(DEFAULT_WAIT_SECONDS))
    .addHelpText("after", envHelp("dispatch"))
    .action(dispatch);
}

function buildProgram(): Command {
  const program = new Command("fedgate")
    .description("GraphQL federation gateway for Arvados-style research-computing clusters")
    .version(require("../package.json").version as string, "--version")
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => process.stderr.write(s) })
    .exitOverride();
  serverCommands(program);
  userCommands(program);
  tokenCommands(program);
  secretCommands(program);
  dispatchCommand(program);
  clientCommand(program, "whoami", "the acting user and token").action(async (o: ClientOptions) => {
    const { viewer, token } = await withApi(o, async (api) => ({
      viewer: (await api.run<{ viewer: { uuid: string; email: string | null; isAdmin: boolean } }>(`{ viewer { uuid email isAdmin } }`)).viewer,
      // Asked apart: a token without a record of its own (the system root's) has no answer here.
      token: await api.run<{ currentToken: { uuid: string } }>(`{ currentToken { uuid } }`).then((r) => r.currentToken, () => null),
    }));
    print([viewer.uuid, viewer.email ?? "", viewer.isAdmin ? "admin" : "", token ? `token ${token.uuid}` : ""].filter(Boolean).join("\t"));
  });
  // Every command refuses arguments it does not take, and its own errors exit like the rest.
  for (const c of allCommands(program)) c.allowExcessArguments(false).exitOverride();
  return program;
}

function allCommands(c: Command): Command[] {
  return c.commands.flatMap((sub) => [sub, ...allCommands(sub)]);
}

/** Exit codes: 0 ok, 1 refused by the server, 2 usage, 69 server unreachable, 75 data folder busy, 78 config. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    if (argv.length === 0) {
      program.outputHelp();
      return 2;
    }
    // `fedgate help token create` is `fedgate token create --help` (commander's own help command stops at one level).
    const args = argv[0] === "help" && argv.length > 1 ? [...argv.slice(1), "--help"] : argv;
    await program.parseAsync(args, { from: "user" });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return ["commander.helpDisplayed", "commander.help", "commander.version"].includes(e.code) ? 0 : 2;
    const [code, text] =
      e instanceof UsageError ? [2, `${e.message}\n(run with --help for usage)`]
      : e instanceof ConfigError ? [78, e.message]
      : e instanceof DataDirInUseError ? [75, e.message]
      : e instanceof ServerUnreachableError ? [69, e.message]
      : [1, (e as Error).message];
    process.stderr.write(`fedgate: ${text}\n`);
    return code;
  }
}
