-- Secrets (src/secrets): metadata, sealed versions, response-wrapping tokens (hashed).

-- CreateTable
CREATE TABLE "secrets" (
    "uuid" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "owner_uuid" TEXT NOT NULL,
    "description" TEXT,
    "current_version" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "modified_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "secrets_pkey" PRIMARY KEY ("uuid")
);

-- CreateTable
CREATE TABLE "secret_versions" (
    "secret_uuid" TEXT NOT NULL,
    "version" INTEGER NOT NULL,
    "key_id" TEXT NOT NULL,
    "value_sealed" TEXT NOT NULL,
    "created_by_uuid" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "secret_versions_pkey" PRIMARY KEY ("secret_uuid","version")
);

-- CreateTable
CREATE TABLE "secret_wraps" (
    "token_hash" TEXT NOT NULL,
    "secret_uuid" TEXT NOT NULL,
    "version" INTEGER NOT NULL,
    "creator_uuid" TEXT NOT NULL,
    "creator_token_uuid" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "unwrapped_at" TIMESTAMPTZ(3),

    CONSTRAINT "secret_wraps_pkey" PRIMARY KEY ("token_hash")
);

-- CreateIndex
CREATE INDEX "secrets_owner_uuid_idx" ON "secrets"("owner_uuid");

-- CreateIndex
CREATE INDEX "secrets_name_idx" ON "secrets"("name");

-- CreateIndex
CREATE INDEX "secret_versions_key_id_idx" ON "secret_versions"("key_id");

-- CreateIndex
CREATE INDEX "secret_wraps_secret_uuid_idx" ON "secret_wraps"("secret_uuid");

-- AddForeignKey
ALTER TABLE "secret_versions" ADD CONSTRAINT "secret_versions_secret_uuid_fkey" FOREIGN KEY ("secret_uuid") REFERENCES "secrets"("uuid") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "secret_wraps" ADD CONSTRAINT "secret_wraps_secret_uuid_fkey" FOREIGN KEY ("secret_uuid") REFERENCES "secrets"("uuid") ON DELETE CASCADE ON UPDATE CASCADE;
