/** A minimal GraphQL-over-HTTP client for fedgate's own tools (CLI, demo): data or a coded error. */
export type GraphQLRun = <T>(query: string, variables?: Record<string, unknown>) => Promise<T>;

interface Response {
  data?: unknown;
  errors?: readonly { message: string; extensions?: Record<string, unknown> }[];
}

/** A server that cannot be reached or does not answer GraphQL: says where and why. */
export class ServerUnreachableError extends Error {}

/** A result's first error: its code (e.g. CONFLICT) for callers that act on it, "CODE: message" as its message. */
export class GraphQLResponseError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

/** The data of a result, or a GraphQLResponseError for its first error. */
export function dataOf<T>(result: Response): T {
  if (result.errors?.length) {
    const e = result.errors[0];
    throw new GraphQLResponseError(String(e.extensions?.code ?? "ERROR"), e.message);
  }
  return result.data as T;
}

/**
 * A server's base URL from what a user typed: http(s) only, and the `/graphql` endpoint (the
 * URL the ready line prints) taken as its server. Undefined when it is not such a URL.
 */
export function serverBaseUrl(text: string): string | undefined {
  if (!URL.canParse(text)) return undefined;
  const u = new URL(text);
  if (u.protocol !== "http:" && u.protocol !== "https:") return undefined;
  return `${u.origin}${u.pathname.replace(/\/+$/, "").replace(/\/graphql$/, "")}`;
}

/** Why a fetch failed, in words (Node's fetch hides the cause behind "fetch failed"). */
function reason(e: unknown): { text: string; retry: boolean } {
  const code = (e as { cause?: { code?: string } }).cause?.code;
  if (code === "ECONNREFUSED") return { text: "connection refused (is fedgate running there?)", retry: true };
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return { text: "unknown host", retry: false };
  if ((e as Error).name === "TimeoutError") return { text: "no answer in time", retry: false };
  return { text: (e as { cause?: Error }).cause?.message ?? (e as Error).message, retry: code === "ECONNRESET" };
}

export interface HttpOptions {
  /** How long to keep trying while the server refuses connections (it may be starting). */
  waitMs?: number;
}

export function httpGraphQL(baseUrl: string, token: string, o: HttpOptions = {}): GraphQLRun {
  const endpoint = `${baseUrl.replace(/\/+$/, "")}/graphql`;
  return async <T>(query: string, variables: Record<string, unknown> = {}) => {
    const deadline = Date.now() + (o.waitMs ?? 0);
    for (;;) {
      let res: globalThis.Response;
      try {
        res = await fetch(endpoint, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
          body: JSON.stringify({ query, variables }),
          signal: AbortSignal.timeout(30_000),
        });
      } catch (e) {
        const why = reason(e);
        if (why.retry && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 200));
          continue;
        }
        throw new ServerUnreachableError(`cannot reach fedgate at ${endpoint}: ${why.text}`);
      }
      let body: Response;
      try {
        body = (await res.json()) as Response;
      } catch {
        throw new ServerUnreachableError(`${endpoint} answered HTTP ${res.status} without GraphQL: is it a fedgate server?`);
      }
      return dataOf<T>(body);
    }
  };
}
