-- Secret mounts (src/containers/secretMounts.ts): [{path, secretUuid, version}] sorted by path,
-- names and versions only (never a value); a request's versions are pinned when it commits.

-- AlterTable
ALTER TABLE "container_requests" ADD COLUMN     "secret_mounts" JSONB NOT NULL DEFAULT '[]';

-- AlterTable
ALTER TABLE "containers" ADD COLUMN     "secret_mounts" JSONB NOT NULL DEFAULT '[]';
