/**
 * Shared pieces of the local backend's SQL: column lists that map rows to records, search
 * patterns and pages. Lists are ordered by uuid, so a page ends at a uuid and the next starts
 * after it, on every cluster alike (which is what lets federated lists merge).
 */
import { Prisma } from "@prisma/client";
import type { Page, PageOptions } from "../api/types";

export const USER_COLUMNS = Prisma.sql`u.uuid, u.email, u.full_name AS "fullName", u.is_active AS "isActive", u.is_admin AS "isAdmin"`;
export const GROUP_COLUMNS = Prisma.sql`g.uuid, g.name, g.group_class AS "groupClass", g.owner_uuid AS "ownerUuid", g.description, g.created_at AS "createdAt"`;
export const COLLECTION_COLUMNS = Prisma.sql`c.uuid, c.name, c.owner_uuid AS "ownerUuid", c.portable_data_hash AS "portableDataHash",
  c.manifest_text AS "manifestText", c.properties, c.created_at AS "createdAt", c.modified_at AS "modifiedAt"`;

/** A LIKE pattern matching values that start with `prefix`, wildcards in it taken literally. */
export function prefixPattern(prefix: string): string {
  return `${prefix.replace(/[\\%_]/g, (ch) => `\\${ch}`).toLowerCase()}%`;
}

/** A LIKE pattern matching values that contain `text`. */
export function containsPattern(text: string): string {
  return `%${prefixPattern(text)}`;
}

export function afterClause(alias: string, o: PageOptions): Prisma.Sql {
  return o.after ? Prisma.sql`AND ${Prisma.raw(alias)}.uuid > ${o.after}` : Prisma.empty;
}

/**
 * The LIMIT a page of `first` is read with: one row more than asked (to know whether another
 * page follows), rounded up to one of a few sizes, the common page sizes exactly. It is written
 * into the statement rather than passed as a parameter: the reader's statements run on generic
 * plans (src/db/database.ts), and a plan made for an unknown LIMIT expects a tenth of the table
 * and sorts it all instead of walking the uuid index for a page (10x slower for a page of 10).
 * The few sizes keep the prepared statements few, whatever page sizes clients ask for.
 */
const LIMITS = [11, 21, 26, 51, 101, 201, 501, 1001, 2001, 5001, 10001];

function readLimit(first: number): number {
  const wanted = first + 1;
  return LIMITS.find((l) => l >= wanted) ?? wanted;
}

/** ORDER BY uuid, and at least one row more than asked (toPage keeps `first`). */
export function pageTail(alias: string, o: PageOptions): Prisma.Sql {
  if (!Number.isSafeInteger(o.first) || o.first < 0) throw new Error(`page size ${o.first} is not a count`);
  return Prisma.sql`ORDER BY ${Prisma.raw(alias)}.uuid LIMIT ${Prisma.raw(String(readLimit(o.first)))}`;
}

export function toPage<T extends { uuid: string }>(rows: T[], first: number): Page<T> {
  const nodes = rows.slice(0, first);
  return {
    nodes,
    endCursor: nodes.length ? nodes[nodes.length - 1].uuid : null,
    hasNextPage: rows.length > first,
    failedClusters: [],
  };
}
