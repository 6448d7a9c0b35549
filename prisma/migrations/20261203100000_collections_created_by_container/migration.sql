-- The container whose token created a collection (src/localdb/collections.ts): a container's
-- token may change only the collections its own container created (its log and output), and
-- a container's log must be one of them. NULL for collections created by any other token.

-- AlterTable
ALTER TABLE "collections" ADD COLUMN     "created_by_container_uuid" TEXT;
