-- The dispatcher's queue (containers(state: "Queued", order: PRIORITY)): highest priority
-- first, then uuid, read a page at a time without sorting the whole queue.

-- CreateIndex
CREATE INDEX "containers_state_priority_uuid_idx" ON "containers"("state", "priority" DESC, "uuid");
