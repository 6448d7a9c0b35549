-- The cluster a runtime token was minted here for (src/containers/federatedTokens.ts): a request
-- delegated to that cluster without a runtime token gets one, and that cluster, presenting it
-- salted for itself, may revoke it once the request is final. NULL for every other token (a
-- runtime token a user gave is never revoked that way).

-- AlterTable
ALTER TABLE "api_tokens" ADD COLUMN     "minted_for_cluster" TEXT;

-- Which containers still hold a runtime token (src/containers/lifecycle.ts), asked when a
-- request or container lets go of one homed elsewhere.
-- CreateIndex
CREATE INDEX "containers_runtime_token_uuid_idx" ON "containers"("runtime_token_uuid");
