/** What the local backend's resource modules share. */
import type { PrismaClient } from "@prisma/client";
import type { LocalTokens } from "../auth/localTokens";
import type { ContainerDeps } from "../containers/deps";
import { budgetedPrisma, type DatabaseClock } from "../db/queryBudget";
import { budgetedReader, type Reader } from "../db/reader";
import type { SecretStoreOptions } from "./secrets";

export interface LocalContext {
  prisma: PrismaClient;
  /** The hot reads (lists and look-ups by uuid), outside Prisma. */
  reader: Reader;
  clusterId: string;
  tokens: LocalTokens;
  secrets: SecretStoreOptions;
  containers: ContainerDeps;
}

/**
 * `ctx` for one request: its queries charged to the request's `clock`. Prisma's extended
 * client costs ~75 µs to make, so it is made only when the request first uses Prisma (hot reads
 * go through the reader).
 */
export function budgetedContext(ctx: LocalContext, clock: DatabaseClock): LocalContext {
  let prisma: PrismaClient | undefined;
  return {
    ...ctx,
    reader: budgetedReader(ctx.reader, clock),
    get prisma() {
      return (prisma ??= budgetedPrisma(ctx.prisma, clock));
    },
  };
}
