-- A container's end cancels the committed requests it submitted (src/containers/lifecycle.ts
-- cancelChildren): found by this index, not by a scan of every request.

-- CreateIndex
CREATE INDEX "container_requests_requesting_container_uuid_state_idx" ON "container_requests"("requesting_container_uuid", "state");
