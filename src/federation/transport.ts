/**
 * One HTTP request to another cluster's /graphql: the caller's token salted for that cluster,
 * the header naming this cluster, a timeout, and a count in the metrics and the request stats.
 * Failures become errors with stable codes naming the cluster; nothing here logs a token.
 * The answer is read with a byte cap, so a peer cannot make this process buffer without bound.
 */
import { GraphQLError } from "graphql";
import type { Counter } from "prom-client";
import { apiError, unavailable, type ErrorCode } from "../errors";
import type { RequestStats } from "../graphql/context";
import type { RemoteCluster } from "./registry";
import { injectContext, inSpan, SpanKind } from "../telemetry/tracing";

export const FORWARDED_HEADER = "x-fedgate-forwarded-for";

export interface TransportDeps {
  selfId: string;
  remoteRequests: Counter<"cluster" | "operation">;
  /** The GraphQL request this call is made for, and how many remote calls it may make in all. */
  stats?: RequestStats;
  maxRequests?: number;
  /** Bytes read from one answer at most; a longer answer fails the call (default: unbounded). */
  maxResponseBytes?: number;
}

/**
 * A cluster's answer that was not a GraphQL response, with its HTTP status: a bare 4xx is that
 * cluster refusing the request, a 5xx is it failing. Reported as UNAVAILABLE either way; callers
 * that must tell a refusal apart (token validation) look at the status.
 */
export class RemoteHttpError extends GraphQLError {
  constructor(
    readonly status: number,
    cluster: string,
    message: string,
  ) {
    super(message, { extensions: { code: "UNAVAILABLE", cluster } });
  }
}

/** Whether `e` is a cluster answering a bare 4xx (a refusal, not a failure of that cluster). */
export const isRemoteRefusal = (e: unknown): boolean => e instanceof RemoteHttpError && e.status >= 400 && e.status < 500;

interface GraphQLResponse {
  data?: Record<string, unknown> | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

export async function callRemote<T>(
  deps: TransportDeps,
  target: RemoteCluster,
  token: string | undefined,
  operation: string,
  query: string,
  variables: Record<string, unknown>,
): Promise<T> {
  if (deps.stats) {
    const made = Object.values(deps.stats.remoteRequests).reduce((a, b) => a + b, 0);
    if (deps.maxRequests !== undefined && made >= deps.maxRequests)
      throw unavailable(`this request would make more than ${deps.maxRequests} requests to other clusters; ask for less at once`, target.id);
    deps.stats.remoteRequests[target.id] = (deps.stats.remoteRequests[target.id] ?? 0) + 1;
  }
  // Clusters reached through the pattern share one label, so client-named ids cannot add series.
  deps.remoteRequests.inc({ cluster: target.viaPattern ? "other" : target.id, operation });
  const headers: Record<string, string> = { "content-type": "application/json", [FORWARDED_HEADER]: deps.selfId };
  if (token) headers.authorization = `Bearer ${token}`;
  return inSpan(`fedgate.remote ${operation}`, SpanKind.CLIENT, { "fedgate.remote.cluster": target.id, "fedgate.remote.operation": operation }, () => {
    injectContext(headers); // the receiving cluster continues this trace
    return send(deps, target, headers, operation, query, variables);
  });
}

/** Socket errors of a kept-alive connection the other side (or a balancer in front of it) closed. */
const STALE_CONNECTION = new Set(["ECONNRESET", "EPIPE", "UND_ERR_SOCKET"]);

function isStaleConnection(e: unknown): boolean {
  const cause = (e as { cause?: { code?: string } }).cause;
  return (e as Error).name !== "TimeoutError" && STALE_CONNECTION.has(cause?.code ?? "");
}

async function send<T>(deps: TransportDeps, target: RemoteCluster, headers: Record<string, string>, operation: string, query: string, variables: Record<string, unknown>): Promise<T> {
  const post = () =>
    fetch(`${target.url}/graphql`, {
      method: "POST",
      headers,
      body: JSON.stringify({ query, variables, operationName: operation }),
      signal: AbortSignal.timeout(target.timeoutMs),
      redirect: "error", // a cluster answers itself; never follow it elsewhere with a token
    });
  let res: Response;
  try {
    // A read cut off on a pooled connection (a replica behind a balancer restarted, a peer closed
    // an idle socket as we reused it) is asked once more on a fresh one; a mutation is not, since
    // it may have been carried out.
    res = await post().catch((e: unknown) => {
      if (isStaleConnection(e) && !/^\s*mutation\b/.test(query)) return post();
      throw e;
    });
  } catch (e) {
    const timedOut = (e as Error).name === "TimeoutError";
    throw unavailable(
      timedOut ? `cluster ${target.id} did not answer within ${target.timeoutMs} ms` : `cluster ${target.id} is unreachable`,
      target.id,
    );
  }
  let body: GraphQLResponse;
  try {
    body = JSON.parse(await readCapped(res, deps.maxResponseBytes ?? Infinity, target.id)) as GraphQLResponse;
  } catch (e) {
    if (e instanceof GraphQLError) throw e;
    if (e instanceof SyntaxError)
      throw new RemoteHttpError(res.status, target.id, `cluster ${target.id} answered HTTP ${res.status} without a GraphQL response`);
    const timedOut = (e as Error).name === "TimeoutError";
    throw unavailable(timedOut ? `cluster ${target.id} did not answer within ${target.timeoutMs} ms` : `cluster ${target.id} broke off its answer`, target.id);
  }
  if (!body || typeof body !== "object")
    throw new RemoteHttpError(res.status, target.id, `cluster ${target.id} answered HTTP ${res.status} without a GraphQL response`);
  // The federation's queries are all or nothing: any error fails the call.
  const first = body.errors?.[0];
  if (first) throw remoteError(target.id, first);
  if (!body.data) throw new RemoteHttpError(res.status, target.id, `cluster ${target.id} answered HTTP ${res.status} without data`);
  return body.data as T;
}

/** The answer's body as text, read as it streams in and abandoned past `max` bytes. */
async function readCapped(res: Response, max: number, cluster: string): Promise<string> {
  const declared = Number(res.headers.get("content-length"));
  if (declared > max) {
    await res.body?.cancel().catch(() => undefined);
    throw unavailable(`cluster ${cluster} answered more than ${max} bytes`, cluster);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of res.body ?? []) {
      size += chunk.byteLength;
      if (size > max) throw unavailable(`cluster ${cluster} answered more than ${max} bytes`, cluster);
      chunks.push(chunk);
    }
  } catch (e) {
    await res.body?.cancel().catch(() => undefined);
    throw e;
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** A remote error keeps its code (a remote NOT_FOUND stays NOT_FOUND) and names the cluster. */
function remoteError(cluster: string, e: { message: string; extensions?: { code?: string } }): GraphQLError {
  const code = (e.extensions?.code ?? "UNAVAILABLE") as ErrorCode;
  const known = ["UNAUTHENTICATED", "FORBIDDEN", "BAD_USER_INPUT", "NOT_FOUND", "CONFLICT", "UNAVAILABLE"].includes(code);
  return apiError(known ? code : "UNAVAILABLE", `cluster ${cluster}: ${e.message}`, { cluster });
}
