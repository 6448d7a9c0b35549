/**
 * A database-time budget per request. Embedded PGlite runs in this process, one statement at
 * a time: a request that keeps it busy stalls every other request and /_health/ping. Each
 * request has a clock (its RequestContext's `clock`); every query its resolvers make through
 * the cluster's backend adds its time, and once the budget is spent the request's further
 * queries fail with QUERY_TOO_COMPLEX. Work outside a request (migrations, background pushes,
 * token look-ups while authenticating) has no clock and no budget.
 *
 * The clock is handed down explicitly (a backend per request, src/cluster.ts) rather than found
 * through AsyncLocalStorage: on Node 20 an AsyncLocalStorage in use makes every promise of the
 * process run async hooks, ~15% of the CPU of a hot list request.
 */
import { performance } from "node:perf_hooks";
import type { PrismaClient } from "@prisma/client";
import { tooComplex } from "../errors";
import { inSpan, SpanKind } from "../telemetry/tracing";

/** One request's database time: what it may use and what it has used. */
export class DatabaseClock {
  usedMs = 0;

  constructor(readonly budgetMs: number) {}

  /** Runs one database call on this clock's account: refused once the budget is spent. */
  async charge<T>(run: () => Promise<T>): Promise<T> {
    if (this.usedMs >= this.budgetMs)
      throw tooComplex(`this request used more than ${this.budgetMs} ms of database time; ask for less at once`);
    const start = performance.now();
    try {
      return await run();
    } finally {
      this.usedMs += performance.now() - start;
    }
  }
}

/** Runs one database call in a span. */
export function tracedQuery<T>(name: string, operation: string, run: () => Promise<T>): Promise<T> {
  return inSpan(name, SpanKind.CLIENT, { "db.system": "postgresql", "db.operation": operation }, run);
}

/** `prisma`, with every query (model operations and raw SQL) in a span. */
export function tracedPrisma(prisma: PrismaClient): PrismaClient {
  return prisma.$extends({
    query: {
      $allOperations: ({ model, operation, args, query }) => tracedQuery(`db ${model ? `${model}.` : ""}${operation}`, operation, () => query(args)),
    },
  }) as unknown as PrismaClient;
}

/** `prisma`, with every query (in transactions too) charged to `clock`. */
export function budgetedPrisma(prisma: PrismaClient, clock: DatabaseClock): PrismaClient {
  return prisma.$extends({ query: { $allOperations: ({ args, query }) => clock.charge(() => query(args)) } }) as unknown as PrismaClient;
}
