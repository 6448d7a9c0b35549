/**
 * HTTP at the edge: /graphql (GET and POST, GraphQL over HTTP through Apollo Server),
 * /_health/ping and /metrics. Every error answer is GraphQL-shaped JSON with a code, never an
 * HTML page or a stack trace. Every request is bounded: its headers and body by deadlines, its
 * operation by depth and cost, its database time, and its response by a byte cap.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { ApolloServer, HeaderMap, type ApolloServerPlugin, type HTTPGraphQLResponse } from "@apollo/server";
import { ApolloServerPluginLandingPageDisabled } from "@apollo/server/plugin/disabled";
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginUsageReportingDisabled, ApolloServerPluginSchemaReportingDisabled } from "@apollo/server/plugin/disabled";
import type { GraphQLFormattedError, GraphQLSchema } from "graphql";
import { GraphQLError } from "graphql";
import { isDatabaseBusy } from "./db/busy";
import { ErrorCode, REQUEST_STATUS } from "./errors";
import { log } from "./log";
import type { Metrics } from "./metrics";
import type { RequestContext } from "./graphql/context";
import { inputTextPlugin } from "./graphql/inputText";
import type { Cors } from "./http/cors";
import type { Explorer } from "./http/explorer";
import type { ManagementRefusal } from "./http/management";
import { operationLimitsRule } from "./graphql/operationLimits";
import { queryCostPlugin, type CostBudget } from "./graphql/queryCost";
import { logRefusedRequest, requestLogPlugin } from "./graphql/requestLog";
import { incomingContext, inSpan, SpanKind } from "./telemetry/tracing";
import { tracingPlugin } from "./telemetry/graphqlTracing";
import { vaultApi } from "./vault/vaultApi";

const MAX_BODY_BYTES = 1 << 20;
/** Tokens a field selection may take (`alias: name(arg: $v, …) { … }`), for the parser's bound. */
const MAX_TOKENS_PER_FIELD = 25;
export const STATS_HEADER = "x-fedgate-stats";

export interface ServerOptions {
  schema: GraphQLSchema;
  metrics: Metrics;
  limits: RequestLimits;
  http: HttpLimits;
  /** Whether a cluster id names a cluster this one knows (metrics label only known ones). */
  isKnownCluster(id: string): boolean;
  /** Builds the request context from the request headers (authentication happens here). */
  context(headers: HeaderMap): Promise<RequestContext>;
  /** GraphiQL for browsers (config `explorer`); absent: no explorer. */
  explorer?: Explorer;
  /** CORS for the configured browser origins. */
  cors: Cors;
  /** PEM certificate chain and key: serve HTTPS. */
  tls?: { cert: Buffer; key: Buffer };
  /** Whether a request may read /metrics (undefined: yes). */
  metricsAccess(req: IncomingMessage): ManagementRefusal | undefined;
}

/** What one request may ask for and answer (config `limits`). */
export interface RequestLimits extends CostBudget {
  maxQueryDepth: number;
  maxQueryFields: number;
  maxResponseBytes: number;
  maxDatabaseMsPerRequest: number;
}

/** Deadlines and caps of the listener (config `http`). */
export interface HttpLimits {
  headersTimeoutSeconds: number;
  requestTimeoutSeconds: number;
  keepAliveTimeoutSeconds: number;
  maxConnections: number;
}

export interface HttpServer {
  server: Server;
  apollo: ApolloServer<RequestContext>;
  listen(host: string, port: number): Promise<AddressInfo>;
  close(): Promise<void>;
}

/** Appends errors reported beside the data, and request statistics when asked for. */
const reportingPlugin: ApolloServerPlugin<RequestContext> = {
  async requestDidStart() {
    return {
      async willSendResponse({ response, contextValue, request }) {
        if (response.body.kind !== "single") return;
        const result = response.body.singleResult;
        if (contextValue.reported?.length)
          result.errors = [...(result.errors ?? []), ...contextValue.reported.map((e) => ({ message: e.message, extensions: e.extensions }))];
        const asked = request.http?.headers.get(STATS_HEADER) === "1" || Boolean(request.extensions?.fedgateStats);
        if (asked && contextValue.stats) result.extensions = { ...result.extensions, fedgate: { remoteRequests: contextValue.stats.remoteRequests } };
      },
    };
  },
};

/** Unexpected errors are logged and masked: clients see a code, not internals. */
function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  // Apollo wraps every validation error and overwrites its code with GRAPHQL_VALIDATION_FAILED;
  // our own rules (the depth limit) name a code of their own, kept on the wrapped original.
  if (formatted.extensions?.code === "GRAPHQL_VALIDATION_FAILED" && error instanceof GraphQLError && error.originalError instanceof GraphQLError) {
    const own = error.originalError.extensions?.code;
    if (typeof own === "string") return { ...formatted, extensions: { ...formatted.extensions, code: own } };
  }
  // The parser's token bound is the size budget speaking, not a syntax error.
  if (formatted.extensions?.code === "GRAPHQL_PARSE_FAILED" && /Document contains more th(?:an|at) \d+ tokens/.test(formatted.message))
    return { ...formatted, extensions: { ...formatted.extensions, code: ErrorCode.QUERY_TOO_COMPLEX } };
  if (formatted.extensions?.code !== "INTERNAL_SERVER_ERROR") return formatted;
  // Apollo's own refusals of a request (a persisted-query hash that does not match…) carry a
  // 4xx status but no code: the client's mistake, not ours.
  const status = error instanceof GraphQLError ? (error.extensions?.http as { status?: number } | undefined)?.status : undefined;
  if (status !== undefined && status >= 400 && status < 500) return { ...formatted, extensions: { ...formatted.extensions, code: "BAD_REQUEST" } };
  const original = error instanceof GraphQLError ? error.originalError : error;
  if (isDatabaseBusy(original)) {
    log.warn("database busy", { code: (original as { code: string }).code, path: formatted.path?.join(".") });
    return { message: "the database is too busy to answer in time; try again", path: formatted.path, locations: formatted.locations, extensions: { code: ErrorCode.UNAVAILABLE } };
  }
  log.error("unexpected error", { error: error instanceof Error ? error.message : String(error), path: formatted.path?.join(".") });
  return { message: "internal error", path: formatted.path, locations: formatted.locations, extensions: { code: "INTERNAL_SERVER_ERROR" } };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8" });
  res.end(JSON.stringify(body));
}

function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  sendJson(res, status, { errors: [{ message, extensions: { code } }] });
}

/**
 * A request Node could not take (malformed, headers too large, too slow): answered, like every
 * other error, with JSON and a code, then the connection is closed.
 */
function answerClientError(err: Error & { code?: string }, socket: Duplex): void {
  // An answer already under way on this socket (bytes after a request): no second one on top.
  const answering = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
  if (!socket.writable || answering || err.code === "ECONNRESET") return void socket.destroy();
  const [status, reason, code] =
    err.code === "HPE_HEADER_OVERFLOW" ? [431, "Request Header Fields Too Large", "BAD_REQUEST"]
    : err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? [408, "Request Timeout", "REQUEST_TIMEOUT"]
    : [400, "Bad Request", "BAD_REQUEST"];
  const body = JSON.stringify({ errors: [{ message: reason.toLowerCase(), extensions: { code } }] });
  socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

/** The request target as a URL on this server: always a path ("//x" is a path here, not a host). */
function requestUrl(target: string | undefined): URL | undefined {
  if (!target?.startsWith("/")) return undefined;
  try {
    return new URL(`http://fedgate.invalid${target}`);
  } catch {
    return undefined;
  }
}

/** The whole response body, or undefined when it exceeds `max` bytes. */
async function responseText(body: HTTPGraphQLResponse["body"], max: number): Promise<string | undefined> {
  // UTF-8 takes at most 3 bytes per UTF-16 unit: most answers are under the cap without counting.
  if (body.kind === "complete") return body.string.length * 3 <= max || Buffer.byteLength(body.string) <= max ? body.string : undefined;
  let text = "";
  for await (const chunk of body.asyncIterator) {
    text += chunk;
    if (Buffer.byteLength(text) > max) return undefined;
  }
  return text;
}

/**
 * The request body as text; refused past MAX_BODY_BYTES (the rest is not read: the refusal
 * closes the connection) or when the client goes away first. Read with events rather than
 * `for await`, whose async iterator costs a promise and a listener set per request.
 */
function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const fail = (e: Error) => {
      req.off("data", onData);
      reject(e);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) return void chunks.push(chunk);
      req.pause();
      fail(new Error("too large"));
    };
    req.on("data", onData);
    req.once("end", () => resolve(chunks.length === 1 ? chunks[0].toString("utf8") : Buffer.concat(chunks).toString("utf8")));
    req.once("error", fail);
    req.once("close", () => req.complete || fail(new Error("the client went away")));
  });
}

/**
 * Deadlines for receiving a request (headers, then the whole body), so that clients trickling
 * bytes cannot hold connections; checked every second rather than Node's default 30 s.
 */
function listenerOptions(h: HttpLimits) {
  const headersTimeout = h.headersTimeoutSeconds * 1000;
  return {
    headersTimeout,
    requestTimeout: h.requestTimeoutSeconds * 1000,
    keepAliveTimeout: h.keepAliveTimeoutSeconds * 1000,
    connectionsCheckingInterval: Math.min(1000, headersTimeout),
  };
}

export async function createHttpServer(o: ServerOptions): Promise<HttpServer> {
  const apollo = new ApolloServer<RequestContext>({
    schema: o.schema,
    csrfPrevention: true,
    // The CLI owns SIGINT/SIGTERM and closes HTTP, Apollo and the database in order. Apollo's
    // own handlers (on by default outside NODE_ENV=test) would race it: a second stop() while
    // Apollo is stopping never resolves in 5.5, so the database was never closed on SIGTERM.
    stopOnTerminationSignals: false,
    introspection: true,
    includeStacktraceInErrorResponses: false,
    // Parsing is bounded before anything else looks at a document: a megabyte of aliased
    // __typename is refused here, not parsed and validated for seconds (the event loop is shared).
    parseOptions: { maxTokens: o.limits.maxQueryFields * MAX_TOKENS_PER_FIELD },
    validationRules: [operationLimitsRule({ maxDepth: o.limits.maxQueryDepth, maxFields: o.limits.maxQueryFields })],
    formatError,
    plugins: [
      ApolloServerPluginLandingPageDisabled(),
      ApolloServerPluginUsageReportingDisabled(),
      ApolloServerPluginSchemaReportingDisabled(),
      // No cache hints here; left on, its per-field hook makes Apollo wrap every field of every request.
      ApolloServerPluginCacheControlDisabled(),
      reportingPlugin,
      inputTextPlugin as ApolloServerPlugin<RequestContext>,
      queryCostPlugin(o.limits) as ApolloServerPlugin<RequestContext>,
      requestLogPlugin,
      tracingPlugin,
    ],
  });
  await apollo.start();
  const vault = vaultApi({ apollo, context: o.context, readBody });

  async function graphql(req: IncomingMessage, res: ServerResponse, search: string): Promise<void> {
    const headers = new HeaderMap();
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(", ") : v);
    let body: unknown = undefined;
    if (req.method === "POST") {
      let text: string;
      try {
        text = await readBody(req);
      } catch {
        res.setHeader("connection", "close"); // rather than reading the rest of an oversized body
        return sendError(res, 413, "BAD_REQUEST", `request body exceeds ${MAX_BODY_BYTES} bytes`);
      }
      body = text;
      if (/^application\/(graphql-response\+)?json\b/i.test(headers.get("content-type") ?? "")) {
        try {
          body = JSON.parse(text);
        } catch {
          return sendError(res, 400, "BAD_REQUEST", "request body is not valid JSON");
        }
      }
    }
    // The header is only an assertion: label known clusters only, so labels stay bounded.
    const forwardedFor = headers.get("x-fedgate-forwarded-for");
    o.metrics.graphqlRequests.inc({ forwarded_for: forwardedFor == null ? "" : o.isKnownCluster(forwardedFor) ? forwardedFor : "unknown" });
    const execute = () => apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: req.method ?? "GET", headers, search, body },
      context: async () => {
        try {
          return await o.context(headers);
        } catch (e) {
          if (e instanceof GraphQLError) {
            const status = REQUEST_STATUS[String(e.extensions.code)] ?? 500;
            logRefusedRequest(String(e.extensions.code), status, forwardedFor ?? undefined);
            throw new GraphQLError(e.message, { extensions: { ...e.extensions, http: { status } } });
          }
          throw e;
        }
      },
    });
    // One span per request, continuing the caller's trace (a cluster delegating to this one).
    const result = await inSpan("graphql.request", SpanKind.SERVER, {}, execute, incomingContext(headers));
    const text = await responseText(result.body, o.limits.maxResponseBytes);
    // Never a truncated JSON: an answer over the cap is replaced, whole, by an error.
    if (text === undefined)
      return sendError(res, 400, ErrorCode.QUERY_TOO_COMPLEX, `the response exceeds ${o.limits.maxResponseBytes} bytes; ask for less at once`);
    res.statusCode = result.status ?? 200;
    for (const [k, v] of result.headers) res.setHeader(k, v);
    res.end(text);
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = requestUrl(req.url);
    if (!url) return sendError(res, 400, "BAD_REQUEST", "the request target is not a path");
    if (o.explorer?.handles(req, url.pathname)) return o.explorer.serve(req, res, url.pathname);
    if (url.pathname === "/graphql" && o.cors.apply(req, res)) return;
    if (url.pathname === "/graphql") return graphql(req, res, url.search);
    if (url.pathname.startsWith("/v1/")) return vault(req, res, url);
    if (url.pathname === "/_health/ping" && (req.method === "GET" || req.method === "HEAD")) return sendJson(res, 200, { health: "OK" });
    if (url.pathname === "/metrics" && req.method === "GET") {
      const refused = o.metricsAccess(req);
      if (refused) return sendError(res, refused.status, refused.code, refused.message);
      res.writeHead(200, { "content-type": o.metrics.registry.contentType });
      return void res.end(await o.metrics.registry.metrics());
    }
    sendError(res, 404, "NOT_FOUND", `no route for ${req.method} ${url.pathname}`);
  }

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    route(req, res).catch((e) => {
      log.error("request failed", { error: (e as Error).message });
      if (!res.headersSent) sendError(res, 500, "INTERNAL_SERVER_ERROR", "internal error");
      else res.end();
    });
  };
  // TLS when the config names a certificate (or run behind a TLS-terminating proxy).
  const server = o.tls
    ? createHttpsServer({ ...listenerOptions(o.http), cert: o.tls.cert, key: o.tls.key }, handler)
    : createServer(listenerOptions(o.http), handler);
  server.maxConnections = o.http.maxConnections;
  server.on("clientError", answerClientError);

  return {
    server,
    apollo,
    listen: (host, port) =>
      new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => resolve(server.address() as AddressInfo));
      }),
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await apollo.stop();
    },
  };
}
