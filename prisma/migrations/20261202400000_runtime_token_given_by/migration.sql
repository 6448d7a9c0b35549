-- Who gave a container request's stored runtime token (src/localdb/containerRequests.ts): any
-- other user who changes what the request runs, or commits it, must give a runtime token of
-- their own in that update. NULL with a stored token (rows from before): nobody may, without one.

-- AlterTable
ALTER TABLE "container_requests" ADD COLUMN     "runtime_token_given_by_uuid" TEXT;
