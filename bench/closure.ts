/**
 * The visibility closure at scale: one cluster seeded with users × role groups × project
 * trees × collections × permission links, then per-check and per-page latencies over HTTP
 * with a real (non-admin) user token, and the cost of one grant whose closure maintenance
 * touches every member of a large role group.
 *
 * Seeding bypasses the API for speed: bulk INSERT … SELECT FROM generate_series straight into
 * users, groups, links and collections, then ONE call of `recomputeUsers` (the closure code the
 * API itself runs on every change) for every user. Only the probe user ("viewer") and its
 * token go through the API (createUser, createToken as the system root), so the measured
 * requests authenticate exactly as a client's would.
 *
 *   npx tsx bench/closure.ts
 *   BENCH_USERS=5000 BENCH_COLLECTIONS=50000 npx tsx bench/closure.ts
 *
 * Knobs (defaults): BENCH_USERS (2000), BENCH_ROLES (500), BENCH_PROJECTS (2000, in trees of
 * 10: a root owned by a user, a binary tree of 9 subprojects under it), BENCH_COLLECTIONS
 * (20000, spread over the projects), BENCH_MEMBERSHIPS (3 role groups per user),
 * BENCH_ROLE_GRANTS (8 project grants per role group), BENCH_BIG_ROLE (500 members of the
 * role group used for the grant measurement), BENCH_CHECKS (200 sequential requests per
 * latency row), BENCH_PAGES (40 requests per page row), BENCH_GRANTS (3 grants per row),
 * BENCH_ROW_SECONDS (4: a row stops early after this long), BENCH_CONCURRENCY (20),
 * BENCH_SECONDS (3, throughput run), BENCH_DATABASE_URL (PostgreSQL server instead of
 * embedded PGlite).
 *
 * Every measurement runs twice: as seeded, when the tables have no planner statistics
 * (nothing in fedgate runs ANALYZE, and PGlite, a single-user PostgreSQL, has no autovacuum,
 * so an embedded cluster stays in this state), and again after one ANALYZE.
 */
import type { PrismaClient } from "@prisma/client";
import { encodeCursor } from "../src/graphql/args";
import { recomputeUsers } from "../src/permissions/closure";
import {
  createUserWithToken, databaseLabel, envInt, envNum, fmt, gql, heading, ok, runIfMain,
  seededUuidSql, sequential, staleSocketRetries, startBenchCluster, summarize, table, throughput, timed, type BenchCluster, type Summary,
} from "./lib";

const CLUSTER = "bench";
const ROOT = `${CLUSTER}-tpzed-000000000000000`;

export interface Shape {
  users: number;
  roles: number;
  projects: number;
  collections: number;
  memberships: number;
  roleGrants: number;
  bigRole: number;
}

const u = (seed: string) => seededUuidSql(CLUSTER, "user", seed);
const g = (seed: string) => seededUuidSql(CLUSTER, "group", seed);
const col = (seed: string) => seededUuidSql(CLUSTER, "collection", seed);
const link = (seed: string) => seededUuidSql(CLUSTER, "link", seed);
const LEVEL3 = (expr: string) => `CASE (${expr}) % 3 WHEN 0 THEN 'can_read' WHEN 1 THEN 'can_write' ELSE 'can_manage' END`;

/** Bulk seed straight into the tables (bypassing the API); the closure is computed afterwards. */
export async function seed(prisma: PrismaClient, s: Shape, viewer: string, grantTargets: number): Promise<void> {
  const run = (sql: string) => prisma.$executeRawUnsafe(sql);
  // Users.
  await run(`INSERT INTO users (uuid, email, full_name, is_active, is_admin)
    SELECT ${u("'u' || i")}, 'user' || i || '@bench.example', 'Bench User ' || i, true, false
    FROM generate_series(0, ${s.users - 1}) AS i`);
  // Role groups (owned by the system user) and the big role.
  await run(`INSERT INTO groups (uuid, name, group_class, owner_uuid)
    SELECT ${g("'r' || i")}, 'role ' || i, 'role', '${ROOT}' FROM generate_series(0, ${s.roles - 1}) AS i
    UNION ALL SELECT ${g("'bigrole'")}, 'big role', 'role', '${ROOT}'`);
  // Project trees of 10: k = 0 is the root, owned by a user; k = 1..9 hang under (k-1)/2.
  await run(`INSERT INTO groups (uuid, name, group_class, owner_uuid)
    SELECT ${g("'p' || i")}, 'project ' || i, 'project',
      CASE WHEN i % 10 = 0 THEN ${u(`'u' || ((i / 10) % ${s.users})`)}
           ELSE ${g("'p' || ((i / 10) * 10 + ((i % 10) - 1) / 2)")} END
    FROM generate_series(0, ${s.projects - 1}) AS i`);
  // Collections, spread over the projects.
  await run(`INSERT INTO collections (uuid, name, owner_uuid, portable_data_hash, manifest_text)
    SELECT ${col("'c' || i")}, 'collection ' || i, ${g(`'p' || (i % ${s.projects})`)}, md5('c' || i) || '+' || (i % 1000), ''
    FROM generate_series(0, ${s.collections - 1}) AS i`);
  // Membership: each user in `memberships` role groups (the first one can_write, then can_read).
  await run(`INSERT INTO links (uuid, link_class, name, tail_uuid, head_uuid, owner_uuid)
    SELECT ${link("'m' || i || '-' || j")}, 'permission', CASE WHEN j = 0 THEN 'can_write' ELSE 'can_read' END,
      ${u("'u' || i")}, ${g(`'r' || ((i * 7 + j * 131) % ${s.roles})`)}, '${ROOT}'
    FROM generate_series(0, ${s.users - 1}) AS i, generate_series(0, ${s.memberships - 1}) AS j
    ON CONFLICT DO NOTHING`);
  // Each role group holds read/write/manage on `roleGrants` projects (and so on their subtrees).
  await run(`INSERT INTO links (uuid, link_class, name, tail_uuid, head_uuid, owner_uuid)
    SELECT ${link("'g' || r || '-' || j")}, 'permission', ${LEVEL3("j")},
      ${g("'r' || r")}, ${g(`'p' || ((r * 37 + j * 251) % ${s.projects})`)}, '${ROOT}'
    FROM generate_series(0, ${s.roles - 1}) AS r, generate_series(0, ${s.roleGrants - 1}) AS j
    ON CONFLICT DO NOTHING`);
  // The big role: its members are users 0..bigRole-1.
  await run(`INSERT INTO links (uuid, link_class, name, tail_uuid, head_uuid, owner_uuid)
    SELECT ${link("'b' || i")}, 'permission', 'can_read', ${u("'u' || i")}, ${g("'bigrole'")}, '${ROOT}'
    FROM generate_series(0, ${Math.min(s.bigRole, s.users) - 1}) AS i`);
  // The viewer (created through the API): like any user, `memberships` role groups, plus the big role.
  await run(`INSERT INTO links (uuid, link_class, name, tail_uuid, head_uuid, owner_uuid)
    SELECT ${link("'vm' || j")}, 'permission', CASE WHEN j = 0 THEN 'can_write' ELSE 'can_read' END,
      '${viewer}', ${g(`'r' || ((${s.users} * 7 + j * 131) % ${s.roles})`)}, '${ROOT}'
    FROM generate_series(0, ${s.memberships - 1}) AS j
    UNION ALL SELECT ${link("'vbig'")}, 'permission', 'can_read', '${viewer}', ${g("'bigrole'")}, '${ROOT}'
    ON CONFLICT DO NOTHING`);
  // Projects the viewer owns (grant targets), each with two subprojects and ten collections.
  await run(`INSERT INTO groups (uuid, name, group_class, owner_uuid)
    SELECT ${g("'gt' || i")}, 'grant target ' || i, 'project', '${viewer}' FROM generate_series(0, ${grantTargets - 1}) AS i
    UNION ALL
    SELECT ${g("'gts' || i || '-' || j")}, 'grant target ' || i || ' sub ' || j, 'project', ${g("'gt' || i")}
    FROM generate_series(0, ${grantTargets - 1}) AS i, generate_series(0, 1) AS j`);
  await run(`INSERT INTO collections (uuid, name, owner_uuid)
    SELECT ${col("'gtc' || i || '-' || j")}, 'grant target collection ' || i || '-' || j, ${g("'gt' || i")}
    FROM generate_series(0, ${grantTargets - 1}) AS i, generate_series(0, 9) AS j`);
}

async function count(prisma: PrismaClient, sql: string): Promise<number> {
  const rows = await prisma.$queryRawUnsafe<{ n: bigint | number }[]>(sql);
  return Number(rows[0].n);
}

async function uuids(prisma: PrismaClient, sql: string, ...params: unknown[]): Promise<string[]> {
  return (await prisma.$queryRawUnsafe<{ uuid: string }[]>(sql, ...params)).map((r) => r.uuid);
}

export async function main(): Promise<void> {
  const retries0 = staleSocketRetries();
  const shape: Shape = {
    users: envInt("BENCH_USERS", 2000),
    roles: envInt("BENCH_ROLES", 500),
    projects: Math.max(10, Math.ceil(envInt("BENCH_PROJECTS", 2000) / 10) * 10),
    collections: envInt("BENCH_COLLECTIONS", 20000),
    memberships: envInt("BENCH_MEMBERSHIPS", 3),
    roleGrants: envInt("BENCH_ROLE_GRANTS", 8),
    bigRole: envInt("BENCH_BIG_ROLE", 500),
  };
  const checks = envInt("BENCH_CHECKS", 200);
  const pages = envInt("BENCH_PAGES", 40);
  const grants = Math.max(1, envInt("BENCH_GRANTS", 3));
  const rowSeconds = envNum("BENCH_ROW_SECONDS", 4);
  const concurrency = envInt("BENCH_CONCURRENCY", 20);
  const seconds = envNum("BENCH_SECONDS", 3);

  heading("closure: visibility closure at scale (one cluster)");
  console.log(`database: ${databaseLabel()}`);
  console.log(
    `shape: ${shape.users} users, ${shape.roles} role groups (+1 big role of ${shape.bigRole} members), ${shape.projects} projects in trees of 10, ` +
      `${shape.collections} collections, ${shape.memberships} memberships/user, ${shape.roleGrants} project grants/role`,
  );
  console.log("seeding bypasses the API (bulk SQL), then recomputeUsers() once for every user; measurements go over HTTP with a user token");

  const start = await timed(() => startBenchCluster(CLUSTER));
  const c: BenchCluster = start.value;
  const prisma = c.db.prisma;
  try {
    console.log(`cluster started in ${fmt.ms(start.ms)} ms`);
    const viewer = await createUserWithToken(c, "viewer@bench.example");

    const seeding = await timed(() => seed(prisma, shape, viewer.uuid, grants * 4 + 2));
    const allUsers = await uuids(prisma, `SELECT uuid FROM users ORDER BY uuid`);
    const build = await timed(() => recomputeUsers(prisma, allUsers));

    const rows: [string, number][] = [
      ["users", await count(prisma, `SELECT count(*) AS n FROM users`)],
      ["groups (role)", await count(prisma, `SELECT count(*) AS n FROM groups WHERE group_class = 'role'`)],
      ["groups (project)", await count(prisma, `SELECT count(*) AS n FROM groups WHERE group_class = 'project'`)],
      ["collections", await count(prisma, `SELECT count(*) AS n FROM collections`)],
      ["links (permission)", await count(prisma, `SELECT count(*) AS n FROM links WHERE link_class = 'permission'`)],
      ["permission_closure", await count(prisma, `SELECT count(*) AS n FROM permission_closure`)],
    ];
    console.log("\n" + table(["table", "rows"], rows.map(([t, n]) => [t, fmt.int(n)])));
    const perUser = await prisma.$queryRawUnsafe<{ avg: number; max: number }[]>(
      `SELECT avg(n)::float8 AS avg, max(n)::int AS max FROM (SELECT count(*) AS n FROM permission_closure GROUP BY user_uuid) x`,
    );
    const viewerRows = await count(prisma, `SELECT count(*) AS n FROM permission_closure WHERE user_uuid = '${viewer.uuid}'`);
    console.log(
      `\nseed (bulk SQL): ${fmt.ms(seeding.ms)} ms; closure build, recomputeUsers(${allUsers.length} users) in one call: ${fmt.ms(build.ms)} ms` +
        ` (${fmt.ms(build.ms / allUsers.length)} ms/user); closure rows per user: avg ${perUser[0].avg.toFixed(1)}, max ${perUser[0].max}; viewer: ${viewerRows}`,
    );

    // ---- probe sets, from the database (what the rules say the viewer may and may not see)
    const readable = `(c.owner_uuid = $1 OR EXISTS (SELECT 1 FROM permission_closure pc WHERE pc.user_uuid = $1 AND pc.target_uuid IN (c.uuid, c.owner_uuid)))`;
    const allowedCols = await uuids(prisma, `SELECT c.uuid FROM collections c WHERE ${readable} ORDER BY md5(c.uuid) LIMIT ${checks}`, viewer.uuid);
    const deniedCols = await uuids(prisma, `SELECT c.uuid FROM collections c WHERE NOT ${readable} ORDER BY md5(c.uuid) LIMIT ${checks}`, viewer.uuid);
    const visibleCount = await count(prisma, `SELECT count(*) AS n FROM collections c WHERE ${readable.replace(/\$1/g, `'${viewer.uuid}'`)}`);
    const fellows = `SELECT theirs.user_uuid FROM permission_closure mine
        JOIN groups r ON r.uuid = mine.target_uuid AND r.group_class = 'role'
        JOIN permission_closure theirs ON theirs.target_uuid = r.uuid WHERE mine.user_uuid = $1`;
    const allowedUsers = await uuids(prisma, `SELECT uuid FROM users WHERE uuid IN (${fellows}) AND uuid <> $1 ORDER BY md5(uuid) LIMIT ${checks}`, viewer.uuid);
    const deniedUsers = await uuids(
      prisma,
      `SELECT uuid FROM users WHERE uuid NOT IN (${fellows}) AND uuid <> $1 AND uuid <> '${ROOT}'
         AND NOT EXISTS (SELECT 1 FROM permission_closure pc WHERE pc.user_uuid = $1 AND pc.target_uuid = users.uuid)
       ORDER BY md5(uuid) LIMIT ${checks}`,
      viewer.uuid,
    );
    const fellowCount = await count(prisma, `SELECT count(DISTINCT user_uuid) AS n FROM (${fellows.replace(/\$1/g, `'${viewer.uuid}'`)}) f WHERE user_uuid <> '${viewer.uuid}'`);
    console.log(
      `viewer can read ${fmt.int(visibleCount)} of ${fmt.int(shape.collections + (grants * 4 + 2) * 10)} collections and see ${fmt.int(fellowCount)} other users (fellow role members)`,
    );

    const ask = (query: string, variables: Record<string, unknown> = {}) => gql(c.url, query, variables, viewer.token);
    const Q_COLLECTION = `query($u:ID!){ collection(uuid:$u){ uuid name } }`;
    const Q_COLLECTIONS = `query($a:String){ collections(first:50, after:$a){ nodes { uuid name } pageInfo { endCursor hasNextPage } } }`;
    const Q_VISIBLE = `query($u:[ID!]!){ visibleSubjects(uuids:$u) }`;
    const Q_SHAREABLE = `query($a:String){ shareableSubjects(first:50, after:$a){ nodes { uuid kind name } pageInfo { endCursor hasNextPage } } }`;
    const Q_SHAREABLE_ALL = `{ shareableSubjects(first:1000){ nodes { uuid } } }`;
    const Q_GRANT = `mutation($h:ID!,$t:ID!){ grantPermission(headUuid:$h, tailUuid:$t, level:"can_read"){ uuid } }`;
    type Conn = { nodes: unknown[]; pageInfo: { endCursor: string | null; hasNextPage: boolean } };

    /** Every page of a list once: the cursors (to pick a deep page), the item count and the time. */
    async function walkPages(query: string, field: string): Promise<{ cursors: (string | null)[]; items: number; ms: number }> {
      const cursors: (string | null)[] = [];
      let after: string | null = null;
      let items = 0;
      const t = await timed(async () => {
        for (;;) {
          const page: Conn = (await ok(ask(query, { a: after })))[field];
          cursors.push(after);
          items += page.nodes.length;
          if (!page.pageInfo.hasNextPage) break;
          after = page.pageInfo.endCursor;
        }
      });
      return { cursors, items, ms: t.ms };
    }

    // Warm up (Apollo, Prisma, the token cache).
    for (let i = 0; i < 20; i++) await ask(Q_COLLECTION, { u: allowedCols[i % allowedCols.length] });

    const targets = await uuids(prisma, `SELECT uuid FROM groups WHERE owner_uuid = $1 AND group_class = 'project' ORDER BY uuid`, viewer.uuid);
    const bigRole = (await uuids(prisma, `SELECT uuid FROM groups WHERE name = 'big role'`))[0];
    const reachingBigRole = await count(prisma, `SELECT count(*) AS n FROM permission_closure WHERE target_uuid = '${bigRole}'`);
    const oneUser = allowedUsers[0];
    const mixed = [...allowedUsers.slice(0, 25), ...deniedUsers.slice(0, 25)];
    const sanity: string[] = [];
    let grantErrors = 0;

    /** One pass over every measurement; `state` 0 = as seeded (no planner statistics), 1 = after ANALYZE. */
    async function pass(state: number): Promise<{ rows: Map<string, Summary>; tp: Awaited<ReturnType<typeof throughput>>; walk: string; stall: string }> {
      const rows = new Map<string, Summary>();
      const row = async (label: string, n: number, fn: (i: number) => Promise<unknown>) =>
        rows.set(label, summarize(await sequential(n, fn, rowSeconds)));
      const note = (s: string) => state === 0 && sanity.push(s);
      let hits = 0;
      await row("collection(uuid), allowed", allowedCols.length, async (i) => {
        if ((await ask(Q_COLLECTION, { u: allowedCols[i] })).data?.collection?.uuid === allowedCols[i]) hits++;
      });
      note(`collection allowed: ${hits}/${rows.get("collection(uuid), allowed")!.n} returned`);
      hits = 0;
      await row("collection(uuid), denied", deniedCols.length, async (i) => {
        if (!(await ask(Q_COLLECTION, { u: deniedCols[i] })).data?.collection) hits++;
      });
      note(`collection denied: ${hits}/${rows.get("collection(uuid), denied")!.n} hidden`);

      const cols = await walkPages(Q_COLLECTIONS, "collections");
      note(`collections listed by paging: ${cols.items} (database says ${visibleCount})`);
      const deepCol = Math.floor((cols.cursors.length - 1) * 0.8);
      await row("collections(first:50), first page", pages, () => ok(ask(Q_COLLECTIONS)));
      await row(`collections(first:50), deep page (cursor)`, pages, () => ok(ask(Q_COLLECTIONS, { a: cols.cursors[deepCol] })));

      hits = 0;
      await row("visibleSubjects([1 uuid]), allowed", allowedUsers.length, async (i) => {
        if ((await ok(ask(Q_VISIBLE, { u: [allowedUsers[i]] }))).visibleSubjects.length === 1) hits++;
      });
      note(`visibleSubjects allowed: ${hits}/${rows.get("visibleSubjects([1 uuid]), allowed")!.n} visible`);
      hits = 0;
      await row("visibleSubjects([1 uuid]), denied", deniedUsers.length, async (i) => {
        if ((await ok(ask(Q_VISIBLE, { u: [deniedUsers[i]] }))).visibleSubjects.length === 0) hits++;
      });
      note(`visibleSubjects denied: ${hits}/${rows.get("visibleSubjects([1 uuid]), denied")!.n} hidden`);
      await row(`visibleSubjects([${mixed.length} uuids]), half allowed`, pages, () => ok(ask(Q_VISIBLE, { u: mixed })));

      await row("shareableSubjects(first:50), first page", pages, () => ok(ask(Q_SHAREABLE)));
      // The whole list in one page of 1000 (walking it page by page without statistics takes
      // tens of seconds); a deep page's cursor is the one the API hands out after item 50·k.
      let everyone: { uuid: string }[] = [];
      await row("shareableSubjects(first:1000), whole list", pages, async () => {
        everyone = (await ok(ask(Q_SHAREABLE_ALL))).shareableSubjects.nodes;
      });
      const pageCount = Math.ceil(everyone.length / 50);
      const deepShare = Math.floor((pageCount - 1) * 0.8);
      const deepShareCursor = deepShare > 0 ? encodeCursor(everyone[deepShare * 50 - 1].uuid) : null;
      await row(`shareableSubjects(first:50), deep page (cursor)`, pages, () => ok(ask(Q_SHAREABLE, { a: deepShareCursor })));
      let shareWalk = "";
      if (state === 1) {
        const share = await walkPages(Q_SHAREABLE, "shareableSubjects");
        sanity.push(`shareable subjects: ${everyone.length} in one page, ${share.items} by paging`);
        shareWalk = `; shareableSubjects (after ANALYZE): ${share.cursors.length} pages (deep = page ${deepShare + 1}) walked in ${fmt.ms(share.ms)} ms`;
      }

      // Grants: to the big role (closure maintenance recomputes every user that reaches it) and to one user.
      const grantOnce = async (head: string, tail: string) => {
        const r = await ask(Q_GRANT, { h: head, t: tail });
        if (r.errors?.length || !r.data?.grantPermission) grantErrors++;
      };
      const base = state * grants * 2;
      await row(`grantPermission → big role (${reachingBigRole} users reach it)`, grants, (i) => grantOnce(targets[base + i], bigRole));
      await row("grantPermission → one user", grants, (i) => grantOnce(targets[base + grants + i], oneUser));

      // What else waits while a big grant runs: a health probe and a reader, each back to back.
      let done = false;
      const pings: number[] = [];
      const reads: number[] = [];
      const grant = timed(() => grantOnce(targets[grants * 4 + state], bigRole)).finally(() => (done = true));
      await Promise.all([
        grant,
        (async () => {
          while (!done) pings.push((await timed(() => fetch(`${c.url}/_health/ping`).then((r) => r.text()))).ms);
        })(),
        (async () => {
          for (let i = 0; !done; i++) reads.push((await timed(() => ask(Q_COLLECTION, { u: allowedCols[i % allowedCols.length] }))).ms);
        })(),
      ]);
      rows.set("  /_health/ping, during such a grant", summarize(pings));
      rows.set("  collection(uuid), during such a grant", summarize(reads));
      const stall = `one big-role grant took ${fmt.ms((await grant).ms)} ms; meanwhile the longest /_health/ping took ${fmt.ms(summarize(pings).max)} ms and the longest collection(uuid) ${fmt.ms(summarize(reads).max)} ms`;

      let k = 0;
      const tp = await throughput(concurrency, seconds, async () => {
        const x = k++ % allowedCols.length;
        return (await ask(Q_COLLECTION, { u: allowedCols[x] })).data?.collection?.uuid === allowedCols[x];
      });
      const walk = `collections: ${cols.cursors.length} pages (deep = page ${deepCol + 1}) walked in ${fmt.ms(cols.ms)} ms${shareWalk}`;
      return { rows, tp, walk, stall };
    }

    const before = await pass(0);
    const analyze = await timed(() => prisma.$executeRawUnsafe("ANALYZE"));
    const after = await pass(1);

    console.log(`\nlatency over HTTP, sequential requests, one non-admin user token (each row: up to its n, at most ~${rowSeconds} s)`);
    console.log(
      `left: as seeded, no planner statistics for the bulk-loaded rows yet (fedgate analyzes at start and, on PGlite, which has no ` +
        `autovacuum, every 10 minutes; PostgreSQL's autovacuum would analyze later); right (*): after one ANALYZE (${fmt.ms(analyze.ms)} ms)`,
    );
    console.log(
      table(
        ["operation", "n", "p50 ms", "p95 ms", "mean ms", "n*", "p50* ms", "p95* ms", "mean* ms"],
        [...before.rows.keys()].map((label) => {
          const a = before.rows.get(label)!;
          const b = after.rows.get(label)!;
          return [label, a.n, fmt.ms(a.p50), fmt.ms(a.p95), fmt.ms(a.mean), b.n, fmt.ms(b.p50), fmt.ms(b.p95), fmt.ms(b.mean)];
        }),
      ),
    );
    console.log(`stall, as seeded: ${before.stall}`);
    console.log(`stall, after ANALYZE: ${after.stall}`);
    console.log(`pages, as seeded: ${before.walk}`);
    console.log(`pages, after ANALYZE: ${after.walk}`);
    const bigUsers = await uuids(prisma, `SELECT user_uuid AS uuid FROM permission_closure WHERE target_uuid = $1`, bigRole);
    const direct = await timed(() => recomputeUsers(prisma, bigUsers));
    console.log(`for comparison, recomputeUsers() for the ${bigUsers.length} users reaching the big role, SQL only: ${fmt.ms(direct.ms)} ms (${fmt.ms(direct.ms / bigUsers.length)} ms/user)`);

    console.log(`\nthroughput: collection(uuid) allowed, ${concurrency} concurrent clients, ~${seconds} s each`);
    console.log(
      table(
        ["planner state", "requests", "failed", "req/s", "p50 ms", "p95 ms", "max ms"],
        [
          ["as seeded", fmt.int(before.tp.requests), String(before.tp.failed), fmt.rate(before.tp.perSecond), fmt.ms(before.tp.latency.p50), fmt.ms(before.tp.latency.p95), fmt.ms(before.tp.latency.max)],
          ["after ANALYZE", fmt.int(after.tp.requests), String(after.tp.failed), fmt.rate(after.tp.perSecond), fmt.ms(after.tp.latency.p50), fmt.ms(after.tp.latency.p95), fmt.ms(after.tp.latency.max)],
        ],
      ),
    );
    const closureAfter = await count(prisma, `SELECT count(*) AS n FROM permission_closure`);
    sanity.push(`grants: ${grants * 4 + 2 - grantErrors}/${grants * 4 + 2} succeeded; closure rows now ${fmt.int(closureAfter)}`);
    console.log(`\nsanity (not asserted): ${sanity.join("; ")}`);
    if (staleSocketRetries() > retries0) console.log(`(requests re-sent after a stale keep-alive socket: ${staleSocketRetries() - retries0})`);
  } finally {
    await c.stop();
  }
}

runIfMain(module, main);
