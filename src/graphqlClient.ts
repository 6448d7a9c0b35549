/** A minimal GraphQL-over-HTTP client for fedgate's own tools (CLI, demo): data or a coded error. */
export type GraphQLRun = <T>(query: string, variables?: Record<string, unknown>) => Promise<T>;

interface Response {
  data?: unknown;
  errors?: readonly { message: string; extensions?: Record<string, unknown> }[];
}

/** The data of a result, or an Error "CODE: message" for its first error. */
export function dataOf<T>(result: Response): T {
  if (result.errors?.length) {
    const e = result.errors[0];
    throw new Error(`${e.extensions?.code ?? "ERROR"}: ${e.message}`);
  }
  return result.data as T;
}

export function httpGraphQL(baseUrl: string, token: string): GraphQLRun {
  return async <T>(query: string, variables: Record<string, unknown> = {}) => {
    const res = await fetch(`${baseUrl.replace(/\/+$/, "")}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    return dataOf<T>((await res.json()) as Response);
  };
}
