-- The primary key's index carries owner_uuid (INCLUDE), so a permission-filtered list walks the
-- key index-only: it tests each collection's owner against the viewer's closure without visiting
-- the table, and fetches only the rows of the page (src/localdb/collections.ts collectionList).
-- collections(first: 10) on the overhead seed (bench/overhead.ts; PostgreSQL, pgbench, generic
-- plan): 0.38-0.40 -> 0.27 ms per statement, 425 -> 64 buffers. It is the primary key itself, not
-- a second index: next to the plain key the planner ranks both walks alike and takes the key.
-- Prisma's schema cannot say INCLUDE; a schema diff would want it back to a plain key.
ALTER TABLE "collections" DROP CONSTRAINT "collections_pkey", ADD CONSTRAINT "collections_pkey" PRIMARY KEY ("uuid") INCLUDE ("owner_uuid");
