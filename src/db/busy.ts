/**
 * Prisma's answers when the database could not serve a request in time: no connection free
 * in the pool (P2024), an interactive transaction that could not start or outlived its
 * timeout (P2028), a write conflict or deadlock (P2034). Each rolled back and left nothing
 * behind, and asking again later may work: the client is told UNAVAILABLE, not an internal error.
 */
import { Prisma } from "@prisma/client";

const BUSY_CODES = new Set(["P2024", "P2028", "P2034"]);

export function isDatabaseBusy(e: unknown): boolean {
  return e instanceof Prisma.PrismaClientKnownRequestError && BUSY_CODES.has(e.code);
}
