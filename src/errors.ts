/**
 * Errors with stable codes (extensions.code). Every layer throws these; GraphQL reports them
 * as they are. Messages name the thing that failed and never contain a secret.
 */
import { GraphQLError } from "graphql";

export const ErrorCode = {
  UNAUTHENTICATED: "UNAUTHENTICATED",
  FORBIDDEN: "FORBIDDEN",
  BAD_USER_INPUT: "BAD_USER_INPUT",
  NOT_FOUND: "NOT_FOUND",
  CONFLICT: "CONFLICT",
  UNAVAILABLE: "UNAVAILABLE",
  /** The request would cost more than the per-request budget (query cost, database time, response bytes). */
  QUERY_TOO_COMPLEX: "QUERY_TOO_COMPLEX",
  INTERNAL: "INTERNAL_SERVER_ERROR",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** HTTP status for a request refused as a whole (before any field runs). */
export const REQUEST_STATUS: Partial<Record<string, number>> = { UNAUTHENTICATED: 401, FORBIDDEN: 403, UNAVAILABLE: 503, BAD_USER_INPUT: 400, QUERY_TOO_COMPLEX: 400 };

export function apiError(code: ErrorCode, message: string, extra: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { code, ...extra } });
}

export const unauthenticated = (message: string) => apiError(ErrorCode.UNAUTHENTICATED, message);
export const forbidden = (message: string) => apiError(ErrorCode.FORBIDDEN, message);
export const badInput = (message: string) => apiError(ErrorCode.BAD_USER_INPUT, message);
export const conflict = (message: string) => apiError(ErrorCode.CONFLICT, message);
export const unavailable = (message: string, cluster?: string) =>
  apiError(ErrorCode.UNAVAILABLE, message, cluster ? { cluster } : {});
export const tooComplex = (message: string) => apiError(ErrorCode.QUERY_TOO_COMPLEX, message);
export const notFound = (what: string, uuid: string) => apiError(ErrorCode.NOT_FOUND, `${what} "${uuid}" not found`);

export function codeOf(e: unknown): string | undefined {
  return e instanceof GraphQLError ? (e.extensions?.code as string | undefined) : undefined;
}
