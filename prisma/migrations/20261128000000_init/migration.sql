-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateTable
CREATE TABLE "users" (
    "uuid" TEXT NOT NULL,
    "email" TEXT,
    "full_name" TEXT,
    "is_active" BOOLEAN NOT NULL DEFAULT false,
    "is_admin" BOOLEAN NOT NULL DEFAULT false,
    "validated_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "modified_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "users_pkey" PRIMARY KEY ("uuid")
);

-- CreateTable
CREATE TABLE "groups" (
    "uuid" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "group_class" TEXT NOT NULL,
    "owner_uuid" TEXT NOT NULL,
    "description" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "modified_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "groups_pkey" PRIMARY KEY ("uuid")
);

-- CreateTable
CREATE TABLE "links" (
    "uuid" TEXT NOT NULL,
    "link_class" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "tail_uuid" TEXT NOT NULL,
    "head_uuid" TEXT NOT NULL,
    "owner_uuid" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "modified_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "links_pkey" PRIMARY KEY ("uuid")
);

-- CreateTable
CREATE TABLE "permission_closure" (
    "user_uuid" TEXT NOT NULL,
    "target_uuid" TEXT NOT NULL,
    "level" SMALLINT NOT NULL,

    CONSTRAINT "permission_closure_pkey" PRIMARY KEY ("user_uuid","target_uuid")
);

-- CreateTable
CREATE TABLE "api_tokens" (
    "uuid" TEXT NOT NULL,
    "user_uuid" TEXT NOT NULL,
    "secret_sealed" TEXT NOT NULL,
    "scopes" JSONB,
    "cluster_scopes" JSONB,
    "expires_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),
    "parent_uuid" TEXT,
    "container_uuid" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "api_tokens_pkey" PRIMARY KEY ("uuid")
);

-- CreateTable
CREATE TABLE "token_remote_validations" (
    "token_uuid" TEXT NOT NULL,
    "cluster_id" TEXT NOT NULL,
    "validated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "token_remote_validations_pkey" PRIMARY KEY ("token_uuid","cluster_id")
);

-- CreateTable
CREATE TABLE "collections" (
    "uuid" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "owner_uuid" TEXT NOT NULL,
    "portable_data_hash" TEXT,
    "manifest_text" TEXT,
    "properties" JSONB NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "modified_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "collections_pkey" PRIMARY KEY ("uuid")
);

-- CreateTable
CREATE TABLE "logs" (
    "uuid" TEXT NOT NULL,
    "event_type" TEXT NOT NULL,
    "object_uuid" TEXT,
    "actor_uuid" TEXT,
    "properties" JSONB NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "logs_pkey" PRIMARY KEY ("uuid")
);

-- CreateIndex
CREATE INDEX "users_email_idx" ON "users"("email");

-- CreateIndex
CREATE INDEX "users_full_name_idx" ON "users"("full_name");

-- CreateIndex
CREATE INDEX "groups_owner_uuid_idx" ON "groups"("owner_uuid");

-- CreateIndex
CREATE INDEX "groups_name_idx" ON "groups"("name");

-- CreateIndex
CREATE INDEX "links_head_uuid_idx" ON "links"("head_uuid");

-- CreateIndex
CREATE UNIQUE INDEX "links_link_class_tail_uuid_head_uuid_key" ON "links"("link_class", "tail_uuid", "head_uuid");

-- CreateIndex
CREATE INDEX "permission_closure_target_uuid_idx" ON "permission_closure"("target_uuid");

-- CreateIndex
CREATE INDEX "api_tokens_user_uuid_created_at_idx" ON "api_tokens"("user_uuid", "created_at");

-- CreateIndex
CREATE INDEX "collections_owner_uuid_idx" ON "collections"("owner_uuid");

-- CreateIndex
CREATE INDEX "collections_name_idx" ON "collections"("name");

-- CreateIndex
CREATE INDEX "logs_object_uuid_idx" ON "logs"("object_uuid");

-- CreateIndex
CREATE INDEX "logs_created_at_idx" ON "logs"("created_at");

