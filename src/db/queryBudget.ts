/**
 * A database-time budget per request. Embedded PGlite runs in this process, one statement at
 * a time: a request that keeps it busy stalls every other request and /_health/ping. Each
 * request runs in a clock (AsyncLocalStorage); every Prisma query made inside it adds its time,
 * and once the budget is spent the request's further queries fail with QUERY_TOO_COMPLEX.
 * Work outside a request (migrations, background pushes) has no clock and no budget.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { performance } from "node:perf_hooks";
import type { PrismaClient } from "@prisma/client";
import { tooComplex } from "../errors";
import { inSpan, SpanKind } from "../telemetry/tracing";

interface Clock {
  budgetMs: number;
  usedMs: number;
}

const clocks = new AsyncLocalStorage<Clock>();

/** Runs `fn` (one request) with `budgetMs` of database time. */
export function withDatabaseBudget<T>(budgetMs: number, fn: () => Promise<T>): Promise<T> {
  return clocks.run({ budgetMs, usedMs: 0 }, fn);
}

/** Runs one database call in a span, charged to the current request's clock (none outside a request). */
export async function chargedQuery<T>(name: string, operation: string, run: () => Promise<T>): Promise<T> {
  const traced = () => inSpan(name, SpanKind.CLIENT, { "db.system": "postgresql", "db.operation": operation }, run);
  const clock = clocks.getStore();
  if (!clock) return traced();
  if (clock.usedMs >= clock.budgetMs)
    throw tooComplex(`this request used more than ${clock.budgetMs} ms of database time; ask for less at once`);
  const start = performance.now();
  try {
    return await traced();
  } finally {
    clock.usedMs += performance.now() - start;
  }
}

/** `prisma`, with every query (model operations and raw SQL) charged to the current request. */
export function budgetedPrisma(prisma: PrismaClient): PrismaClient {
  return prisma.$extends({
    query: {
      $allOperations: ({ model, operation, args, query }) => chargedQuery(`db ${model ? `${model}.` : ""}${operation}`, operation, () => query(args)),
    },
  }) as unknown as PrismaClient;
}

/** Database time the current request has used so far (0 outside a request). */
export function databaseMsUsed(): number {
  return clocks.getStore()?.usedMs ?? 0;
}
