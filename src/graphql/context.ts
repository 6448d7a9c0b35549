/** Per-request state handed to resolvers: who is calling, the API to call, and what to report. */
import type { GraphQLError } from "graphql";
import type { ClusterApi } from "../api/clusterApi";
import type { Caller } from "../auth/principal";
import type { DatabaseClock } from "../db/queryBudget";
import type { Limits } from "./args";

export interface RequestStats {
  /** HTTP requests this request sent to each remote cluster. */
  remoteRequests: Record<string, number>;
}

export interface RequestContext {
  clusterId: string;
  /** null for a request without a token (only `public` fields answer it). */
  caller: Caller | null;
  /** The federation router: the only API resolvers call. */
  api: ClusterApi;
  limits: Limits;
  stats: RequestStats;
  /** Errors to report beside the data (e.g. a cluster that failed its part of a list). */
  reported: GraphQLError[];
  /** Field resolutions this request may still make (limits.maxQueryCost; see countResolvedFields). */
  fieldsLeft: number;
  /** The request's database time (limits.maxDatabaseMsPerRequest; see src/db/queryBudget.ts). */
  clock: DatabaseClock;
}

/** The caller, for fields that the @rest transform has already required a token for. */
export function callerOf(ctx: RequestContext): Caller {
  if (!ctx.caller) throw new Error("resolver reached without a caller: its field lacks @rest");
  return ctx.caller;
}
