-- CreateTable
CREATE TABLE "revocation_outbox" (
    "cluster_id" TEXT NOT NULL,
    "token_uuid" TEXT NOT NULL,
    "drop_after" TIMESTAMPTZ(3) NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "revocation_outbox_pkey" PRIMARY KEY ("cluster_id","token_uuid")
);

-- CreateIndex
CREATE INDEX "revocation_outbox_next_attempt_at_idx" ON "revocation_outbox"("next_attempt_at");

-- CreateIndex
CREATE INDEX "api_tokens_parent_uuid_idx" ON "api_tokens"("parent_uuid");

