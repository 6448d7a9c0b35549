-- Containers and container requests (issue 8). Runtime tokens and container tokens are stored
-- only sealed (src/auth/secretBox.ts, the row's uuid as associated data).

-- CreateTable
CREATE TABLE "container_requests" (
    "uuid" TEXT NOT NULL,
    "owner_uuid" TEXT NOT NULL,
    "name" TEXT,
    "description" TEXT,
    "properties" JSONB NOT NULL DEFAULT '{}',
    "state" TEXT NOT NULL,
    "priority" INTEGER NOT NULL DEFAULT 0,
    "command" JSONB NOT NULL,
    "cwd" TEXT NOT NULL,
    "environment" JSONB NOT NULL DEFAULT '{}',
    "container_image" TEXT NOT NULL,
    "mounts" JSONB NOT NULL DEFAULT '{}',
    "output_path" TEXT NOT NULL,
    "runtime_constraints" JSONB NOT NULL DEFAULT '{}',
    "scheduling_parameters" JSONB NOT NULL DEFAULT '{}',
    "use_existing" BOOLEAN NOT NULL DEFAULT true,
    "container_count" INTEGER NOT NULL DEFAULT 0,
    "container_count_max" INTEGER NOT NULL DEFAULT 3,
    "container_uuid" TEXT,
    "requesting_container_uuid" TEXT,
    "output_uuid" TEXT,
    "log_uuid" TEXT,
    "runtime_token_sealed" TEXT,
    "runtime_token_uuid" TEXT,
    "runtime_user_uuid" TEXT NOT NULL,
    "runtime_auth_scopes" JSONB,
    "runtime_cluster_scopes" JSONB,
    "created_by_uuid" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "modified_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "container_requests_pkey" PRIMARY KEY ("uuid")
);

-- CreateTable
CREATE TABLE "containers" (
    "uuid" TEXT NOT NULL,
    "state" TEXT NOT NULL,
    "priority" INTEGER NOT NULL DEFAULT 0,
    "command" JSONB NOT NULL,
    "cwd" TEXT NOT NULL,
    "environment" JSONB NOT NULL,
    "container_image" TEXT NOT NULL,
    "mounts" JSONB NOT NULL,
    "output_path" TEXT NOT NULL,
    "runtime_constraints" JSONB NOT NULL,
    "scheduling_parameters" JSONB NOT NULL,
    "reuse_hash" TEXT NOT NULL,
    "exit_code" INTEGER,
    "output" TEXT,
    "log" TEXT,
    "progress" DOUBLE PRECISION,
    "runtime_status" JSONB,
    "locked_by_uuid" TEXT,
    "auth_uuid" TEXT,
    "auth_token_sealed" TEXT,
    "auth_info" JSONB,
    "lock_count" INTEGER NOT NULL DEFAULT 0,
    "runtime_user_uuid" TEXT NOT NULL,
    "runtime_auth_scopes" JSONB,
    "runtime_cluster_scopes" JSONB,
    "runtime_token_sealed" TEXT,
    "runtime_token_uuid" TEXT,
    "started_at" TIMESTAMPTZ(3),
    "finished_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "modified_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "containers_pkey" PRIMARY KEY ("uuid")
);

-- CreateIndex
CREATE INDEX "container_requests_owner_uuid_idx" ON "container_requests"("owner_uuid");
CREATE INDEX "container_requests_container_uuid_idx" ON "container_requests"("container_uuid");
-- The reuse look-up: one hash, the states that may be reused (src/containers/reuse.ts).
CREATE INDEX "containers_reuse_hash_state_idx" ON "containers"("reuse_hash", "state");
-- Dispatchers list by state.
CREATE INDEX "containers_state_uuid_idx" ON "containers"("state", "uuid");
-- Reuse of a Complete container needs an output (a portable data hash) the requester can read.
CREATE INDEX "collections_portable_data_hash_idx" ON "collections"("portable_data_hash");
-- A container's tokens are revoked when it leaves Locked/Running.
CREATE INDEX "api_tokens_container_uuid_idx" ON "api_tokens"("container_uuid");
