-- Who holds a level on a group (a role's members, a sharing dialog's fellow members, the users
-- whose closure a change touches) is read by target: with user_uuid in the index that read is an
-- index-only scan instead of one heap fetch per member (shareableSubjects: 2.67 -> 2.40 ms for
-- the statement on the benchmark's seed, bench/overhead.ts).

-- DropIndex
DROP INDEX "permission_closure_target_uuid_idx";

-- CreateIndex
CREATE INDEX "permission_closure_target_uuid_user_uuid_idx" ON "permission_closure"("target_uuid", "user_uuid");
