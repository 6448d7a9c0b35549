/**
 * Cluster configuration: one YAML or JSON file per cluster, overridden by environment
 * variables, validated once here. Everything downstream trusts `ClusterConfig`.
 */
import { accessSync, constants, readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { CLUSTER_ID_RE } from "../ids";
import { isValidTokenKey } from "../auth/secretBox";
import { isValidSecretKey, MAX_WRAP_TTL_SECONDS } from "../secrets/keyring";

export class ConfigError extends Error {}

function readable(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

const clusterId = z.string().regex(CLUSTER_ID_RE, "must be 5 characters [a-z0-9]");
const httpUrl = z
  .string()
  .refine((u) => /^https?:\/\/[^/?#\s]+/.test(u) && URL.canParse(u), "must be an http:// or https:// URL")
  .transform((u) => u.replace(/\/+$/, ""));

const remoteClusterEntry = z.strictObject({
  url: httpUrl,
  /** Users from this cluster are active here as soon as their home cluster vouches for them. */
  activateUsers: z.boolean().default(false),
  /** Per-request timeout for calls to this cluster. */
  timeoutMs: z.number().int().positive().max(600_000).default(10_000),
});
/** A remote cluster: a full entry, or just its base URL (in the file as in FEDGATE_REMOTE_CLUSTERS). */
const remoteCluster = z.preprocess((v) => (typeof v === "string" ? { url: v } : v), remoteClusterEntry);

const listen = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/, "must be host:port")
  .refine((s) => !/:\d+$/.test(s) || Number(s.slice(s.lastIndexOf(":") + 1)) <= 65535, "port must be at most 65535");

const schema = z
  .strictObject({
    clusterId: clusterId.default("zzzzz"),
    listen: listen.default("127.0.0.1:8000"),
    /** postgresql://… selects a PostgreSQL server; absent: embedded PGlite. */
    databaseUrl: z
      .string()
      .regex(/^postgres(ql)?:\/\//, "must be a postgresql:// URL")
      .optional(),
    /** Folder for the embedded database; absent (and no databaseUrl): in memory. */
    dataDir: z.string().min(1).optional(),
    /**
     * Memory for the answers of hot reads kept while the database is unchanged
     * (src/db/snapshotCache.ts), in MiB; 0: every read runs.
     */
    readCacheMegabytes: z.number().int().min(0).max(4096).default(32),
    /** A request bearing this token acts as the system administrator. */
    systemRootToken: z.string().min(32, "must be at least 32 characters").optional(),
    /** Serve HTTPS with this PEM certificate (chain) and key; absent: HTTP (e.g. behind a TLS proxy). */
    tls: z
      .strictObject({
        certFile: z.string().min(1).refine(readable, "cannot read this file"),
        keyFile: z.string().min(1).refine(readable, "cannot read this file"),
      })
      .optional(),
    telemetry: z
      .strictObject({
        /** OTLP/HTTP collector (e.g. http://otel-collector:4318): traces are sent there; absent: no tracing. */
        otlpEndpoint: httpUrl.optional(),
      })
      .default({}),
    /** Needed (as a bearer token) to read /metrics; unset: /metrics answers loopback only. */
    managementToken: z.string().min(32, "must be at least 32 characters").optional(),
    tokens: z
      .strictObject({
        /** 32 bytes, base64 or hex: seals token secrets at rest. Derived from systemRootToken if absent. */
        encryptionKey: z
          .string()
          .refine((k) => k === "" || isValidTokenKey(k), "must be 32 bytes, as base64 or 64 hex characters")
          .optional(),
        /** How long a remote cluster's answer about a token is trusted. */
        remoteCacheSeconds: z.number().int().min(0).max(86_400).default(300),
        /** How long a refused token is remembered, so floods of bad tokens stay local. */
        negativeCacheSeconds: z.number().int().min(0).max(3_600).default(10),
        /** How long a validated local token is kept in memory (revocation clears it at once). */
        localCacheSeconds: z.number().int().min(0).max(3_600).default(60),
      })
      .default({ remoteCacheSeconds: 300, negativeCacheSeconds: 10, localCacheSeconds: 60 }),
    /** The secret store (src/secrets): keys that seal values at rest, and response wrapping. */
    secrets: z
      .strictObject({
        /** Key id → 32 bytes as base64. Values keep the id of the key that sealed them; keep old keys until `fedgate secrets rotate-key` ran. */
        keys: z.record(z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, "must be 1-32 characters [A-Za-z0-9_-]"), z.string().refine(isValidSecretKey, "must be 32 bytes as base64")).default({}),
        /** The key id new values are sealed under. */
        activeKey: z.string().min(1).optional(),
        /** Longest lifetime of a wrapping token. */
        maxWrapTtlSeconds: z.number().int().positive().max(MAX_WRAP_TTL_SECONDS).default(86_400),
      })
      .default({ keys: {}, maxWrapTtlSeconds: 86_400 }),
    /** Containers and their dispatch (src/containers). */
    containers: z
      .strictObject({
        /** Locks a container may take; an unlock at this count cancels it (as Arvados' MaxDispatchAttempts). */
        maxDispatchAttempts: z.number().int().positive().max(1_000).default(10),
        /** Seconds a container's child of its runtime token lives at most (it is revoked when the container ends anyway). */
        runtimeTokenTTL: z.number().int().positive().max(366 * 86_400).default(7 * 86_400),
      })
      .default({ maxDispatchAttempts: 10, runtimeTokenTTL: 7 * 86_400 }),
    /** Revocation hints to other clusters (queued, retried until delivered or moot). */
    federation: z
      .strictObject({
        /** How often undelivered hints are retried, and the first retry's delay (doubled after each failure). */
        hintRetrySeconds: z.number().positive().max(3_600).default(5),
        /** Longest delay between two attempts to deliver a hint. */
        hintMaxBackoffSeconds: z.number().positive().max(86_400).default(600),
      })
      .default({ hintRetrySeconds: 5, hintMaxBackoffSeconds: 600 }),
    remoteClusters: z.record(clusterId, remoteCluster).default({}),
    /** Base URL pattern for clusters not in the table, e.g. "https://{id}.example.org". */
    remoteClusterPattern: z
      .string()
      .refine((p) => p.includes("{id}"), "must contain {id}")
      .optional(),
    /** When true, only the remoteClusters table is used (the pattern is ignored). */
    strictRemoteClusters: z.boolean().default(false),
    /** GraphiQL at / and for browsers at /graphql. Default: on for an in-memory cluster, off otherwise. */
    explorer: z.boolean().optional(),
    logLevel: z.enum(["debug", "info", "warn", "error"]).default("info"),
    cors: z
      .strictObject({
        /** Browser origins (scheme://host[:port]) whose pages may call the API with a token. */
        allowedOrigins: z
          .array(z.string().refine((o) => URL.canParse(o) && /^https?:$/.test(new URL(o).protocol) && new URL(o).origin === o, "must be an origin such as https://workbench.example.org (no path, no trailing slash)"))
          .default([]),
      })
      .default({ allowedOrigins: [] }),
    loginCluster: clusterId.optional(),
    limits: z
      .strictObject({
        defaultPageSize: z.number().int().positive().default(100),
        maxPageSize: z.number().int().positive().max(10_000).default(1000),
        maxQueryDepth: z.number().int().positive().max(100).default(12),
        /** Field selections one operation may make (aliases, fragments and __typename counted). */
        maxQueryFields: z.number().int().positive().max(100_000).default(2000),
        /** What one operation may cost, computed before it runs (src/graphql/queryCost.ts says how). */
        maxQueryCost: z.number().int().positive().default(50_000),
        /** Bytes of one response at most; a larger answer is replaced by a QUERY_TOO_COMPLEX error. */
        maxResponseBytes: z.number().int().positive().default(32 << 20),
        /** Bytes read from one answer of another cluster at most; more fails that call (UNAVAILABLE). */
        maxRemoteResponseBytes: z.number().int().positive().default(64 << 20),
        /** Database time one request may use (PGlite shares the event loop); later queries of it fail. */
        maxDatabaseMsPerRequest: z.number().int().positive().default(10_000),
        /** HTTP requests one GraphQL request may cause to other clusters. */
        maxRemoteRequests: z.number().int().positive().max(10_000).default(64),
        /** Validations of one token one caller cluster may ask for per minute (cache misses). */
        remoteValidationsPerMinute: z.number().int().positive().default(60),
      })
      .default({
        defaultPageSize: 100, maxPageSize: 1000, maxQueryDepth: 12, maxQueryFields: 2000, maxQueryCost: 50_000, maxResponseBytes: 32 << 20,
        maxRemoteResponseBytes: 64 << 20, maxDatabaseMsPerRequest: 10_000, maxRemoteRequests: 64, remoteValidationsPerMinute: 60,
      }),
    /** Deadlines and caps of the HTTP listener, against clients that hold connections open. */
    http: z
      .strictObject({
        /** Time to receive a request's headers. */
        headersTimeoutSeconds: z.number().positive().max(600).default(10),
        /** Time to receive a whole request, headers and body. */
        requestTimeoutSeconds: z.number().positive().max(3_600).default(30),
        /** How long an idle keep-alive connection is kept. */
        keepAliveTimeoutSeconds: z.number().positive().max(600).default(5),
        /** Connections open at once; more are refused (closed) at once. */
        maxConnections: z.number().int().positive().default(1_000),
      })
      .default({ headersTimeoutSeconds: 10, requestTimeoutSeconds: 30, keepAliveTimeoutSeconds: 5, maxConnections: 1_000 }),
  })
  .superRefine((c, ctx) => {
    if (c.limits.defaultPageSize > c.limits.maxPageSize)
      ctx.addIssue({ code: "custom", path: ["limits", "defaultPageSize"], message: "must not exceed limits.maxPageSize" });
    if (c.http.headersTimeoutSeconds > c.http.requestTimeoutSeconds)
      ctx.addIssue({ code: "custom", path: ["http", "headersTimeoutSeconds"], message: "must not exceed http.requestTimeoutSeconds" });
    if (c.remoteClusters[c.clusterId])
      ctx.addIssue({ code: "custom", path: ["remoteClusters", c.clusterId], message: "is this cluster's own id" });
    if (c.databaseUrl && c.dataDir)
      ctx.addIssue({ code: "custom", path: ["dataDir"], message: "cannot be combined with databaseUrl" });
    const persistent = Boolean(c.databaseUrl || c.dataDir);
    if (c.secrets.activeKey !== undefined && !(c.secrets.activeKey in c.secrets.keys))
      ctx.addIssue({ code: "custom", path: ["secrets", "activeKey"], message: `names no key in secrets.keys (${Object.keys(c.secrets.keys).join(", ") || "none"})` });
    if (c.secrets.activeKey === undefined && Object.keys(c.secrets.keys).length)
      ctx.addIssue({ code: "custom", path: ["secrets", "activeKey"], message: "is required with secrets.keys: the id of the key new values are sealed under" });
    if (persistent && !c.tokens.encryptionKey && !c.systemRootToken)
      ctx.addIssue({
        code: "custom",
        path: ["tokens", "encryptionKey"],
        message: "is required (or systemRootToken) when the database persists, or tokens would not survive a restart",
      });
  });

export type ConfigInput = z.input<typeof schema>;
type ParsedConfig = z.output<typeof schema>;
export type RemoteClusterConfig = z.output<typeof remoteCluster>;

export interface ClusterConfig extends ParsedConfig {
  systemRootToken: string;
  explorer: boolean;
  /** True when systemRootToken was generated at start (it is printed once). */
  generatedRootToken: boolean;
  tokens: ParsedConfig["tokens"] & { encryptionKey?: string };
}

/** Environment variables that override the file (names fixed by the API contract). */
function environmentOverrides(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (env.FEDGATE_CLUSTER_ID) o.clusterId = env.FEDGATE_CLUSTER_ID;
  if (env.FEDGATE_LISTEN) o.listen = env.FEDGATE_LISTEN;
  if (env.FEDGATE_SYSTEM_ROOT_TOKEN) o.systemRootToken = env.FEDGATE_SYSTEM_ROOT_TOKEN;
  if (env.DATABASE_URL) o.databaseUrl = env.DATABASE_URL;
  if (env.FEDGATE_DATA_DIR) o.dataDir = env.FEDGATE_DATA_DIR;
  if (env.FEDGATE_LOGIN_CLUSTER) o.loginCluster = env.FEDGATE_LOGIN_CLUSTER;
  if (env.FEDGATE_LOG_LEVEL) o.logLevel = env.FEDGATE_LOG_LEVEL;
  if (env.FEDGATE_MANAGEMENT_TOKEN) o.managementToken = env.FEDGATE_MANAGEMENT_TOKEN;
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT) o.telemetry = { otlpEndpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT };
  if (env.FEDGATE_REMOTE_CLUSTERS) o.remoteClusters = parseRemoteClustersEnv(env.FEDGATE_REMOTE_CLUSTERS);
  if (env.FEDGATE_TOKEN_KEY) o.tokens = { encryptionKey: env.FEDGATE_TOKEN_KEY };
  const secrets = {
    ...(env.FEDGATE_SECRETS_KEYS ? { keys: parseJsonObjectEnv("FEDGATE_SECRETS_KEYS", env.FEDGATE_SECRETS_KEYS, "key id → base64 key") } : {}),
    ...(env.FEDGATE_SECRETS_ACTIVE_KEY ? { activeKey: env.FEDGATE_SECRETS_ACTIVE_KEY } : {}),
  };
  if (Object.keys(secrets).length) o.secrets = secrets;
  return o;
}

/** FEDGATE_REMOTE_CLUSTERS is a JSON object: cluster id → base URL (or a full entry). */
function parseRemoteClustersEnv(text: string): Record<string, unknown> {
  return parseJsonObjectEnv("FEDGATE_REMOTE_CLUSTERS", text, "cluster id → base URL");
}

/** An environment variable holding a JSON object (`what` describes its entries in the error). */
function parseJsonObjectEnv(name: string, text: string, what: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ConfigError(`${name}: must be a JSON object of ${what}`);
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new ConfigError(`${name}: must be a JSON object of ${what}`);
  return parsed as Record<string, unknown>;
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(`${path}: cannot read config file (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  let parsed: unknown;
  try {
    parsed = path.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new ConfigError(`${path}: not valid ${path.endsWith(".json") ? "JSON" : "YAML"}: ${(e as Error).message}`);
  }
  if (parsed == null) return {};
  if (typeof parsed !== "object" || Array.isArray(parsed)) throw new ConfigError(`${path}: must be a mapping of keys`);
  return parsed as Record<string, unknown>;
}

function mergeSection(base: unknown, over: unknown): unknown {
  if (base && over && typeof base === "object" && typeof over === "object" && !Array.isArray(over))
    return { ...(base as object), ...(over as object) };
  return over ?? base;
}

/** Turns the first validation problems into one message naming each key. */
function describeIssues(error: z.ZodError, source: string): string {
  const lines = error.issues.slice(0, 5).map((issue) => {
    const key = issue.path.join(".") || "(top level)";
    if (issue.code === "unrecognized_keys") {
      const where = issue.path.length ? `${issue.path.join(".")}.` : "";
      return `${issue.keys.map((k) => where + k).join(", ")}: unknown key`;
    }
    if (issue.code === "invalid_key") return `${key}: not a valid key (${issue.issues[0]?.message ?? issue.message})`;
    return `${key}: ${issue.message}`;
  });
  return `invalid configuration (${source}):\n  ${lines.join("\n  ")}`;
}

/** Validates raw settings (file contents already merged with overrides). */
export function parseConfig(raw: Record<string, unknown>, source = "config"): ClusterConfig {
  const result = schema.safeParse(raw, { error: (issue) => (issue.input === undefined ? "is required" : undefined) });
  if (!result.success) throw new ConfigError(describeIssues(result.error, source));
  const c = result.data;
  const generatedRootToken = !c.systemRootToken;
  return {
    ...c,
    systemRootToken: c.systemRootToken ?? randomBytes(32).toString("hex"),
    generatedRootToken,
    // A throwaway in-memory cluster is for trying things; a persistent one opts in.
    explorer: c.explorer ?? !(c.databaseUrl || c.dataDir),
  };
}

/** Loads the config file (if any) and applies environment overrides. */
export function loadConfig(opts: { file?: string; env?: NodeJS.ProcessEnv } = {}): ClusterConfig {
  const env = opts.env ?? process.env;
  const file = opts.file ? readConfigFile(opts.file) : {};
  const overrides = environmentOverrides(env);
  const merged: Record<string, unknown> = { ...file, ...overrides };
  if (overrides.tokens) merged.tokens = mergeSection(file.tokens, overrides.tokens);
  if (overrides.secrets) merged.secrets = mergeSection(file.secrets, overrides.secrets);
  const source = [opts.file, Object.keys(overrides).length ? "environment" : undefined].filter(Boolean).join(" + ");
  return parseConfig(merged, source || "defaults");
}
