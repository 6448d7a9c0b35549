/**
 * `fedgate demo` (what `npm start` runs): a local federation of three clusters in one process,
 * each on its own embedded database, seeded through the public API, with ready-to-paste
 * tokens and queries that cross clusters. `login` is the login cluster.
 */
import { randomBytes } from "node:crypto";
import { parseConfig } from "./config/config";
import { startCluster, type RunningCluster } from "./cluster";
import { httpGraphQL, type GraphQLRun } from "./graphqlClient";
import { demoOutcome, startDemoDispatchers, submitDemoContainer } from "./demoContainers";

const CLUSTERS = ["login", "east1", "west1"] as const;

const DEMO_QUERY = `# Put a demo token (shown above) in the Authorization header below, then run this.
{
  viewer { uuid fullName }
  collections(clusters: ["login", "east1", "west1"], first: 10) {
    nodes { uuid name cluster }
    failedClusters { cluster message }
  }
}
`;
type DemoCluster = (typeof CLUSTERS)[number];

export interface DemoOptions {
  basePort?: number;
  onSignals(stop: () => Promise<void>): void;
}

interface Person {
  uuid: string;
  token: string;
}

/** What the explorer shows above its editor: the demo's tokens, once they exist. */
const explorerBanner = { text: "The demo is still seeding; reload in a moment for its tokens." };

async function startClusters(basePort: number): Promise<Record<DemoCluster, RunningCluster>> {
  const port = (id: DemoCluster) => basePort + CLUSTERS.indexOf(id);
  const started = await Promise.all(
    CLUSTERS.map((id) =>
      startCluster(
        parseConfig({
          clusterId: id,
          listen: `127.0.0.1:${port(id)}`,
          systemRootToken: randomBytes(32).toString("hex"),
          loginCluster: "login",
          remoteClusters: Object.fromEntries(
            CLUSTERS.filter((o) => o !== id).map((o) => [o, { url: `http://127.0.0.1:${port(o)}`, activateUsers: true }]),
          ),
          explorer: true,
        }),
        { explorer: { banner: () => explorerBanner.text, defaultQuery: DEMO_QUERY } },
      ),
    ),
  );
  return Object.fromEntries(started.map((c) => [c.config.clusterId, c])) as Record<DemoCluster, RunningCluster>;
}

async function createPerson(root: GraphQLRun, email: string, fullName: string): Promise<Person> {
  const { createUser } = await root<{ createUser: { uuid: string } }>(
    `mutation($e: String!, $n: String) { createUser(input: { email: $e, fullName: $n }) { uuid } }`,
    { e: email, n: fullName },
  );
  const { createToken } = await root<{ createToken: { token: string } }>(
    `mutation($u: ID) { createToken(input: { userUuid: $u }) { token } }`,
    { u: createUser.uuid },
  );
  return { uuid: createUser.uuid, token: createToken.token };
}

/** A project with two collections, created by `person` through that cluster's own API. */
async function seedProject(run: GraphQLRun, cluster: string): Promise<string> {
  const { createGroup } = await run<{ createGroup: { uuid: string } }>(
    `mutation($n: String!) { createGroup(input: { name: $n, groupClass: "project" }) { uuid } }`,
    { n: `Genomes on ${cluster}` },
  );
  for (const name of [`${cluster} reads`, `${cluster} reference`])
    await run(`mutation($n: String!, $o: ID) { createCollection(input: { name: $n, ownerUuid: $o, properties: { demo: true } }) { uuid } }`, {
      n: name,
      o: createGroup.uuid,
    });
  return createGroup.uuid;
}

/**
 * alice and bob share a role group on the login cluster (so each can see the other), and
 * alice shares her east1 project with bob, asked on login: the link is stored on east1,
 * which asks login whether alice can see bob.
 */
async function shareEastProject(root: GraphQLRun, asAlice: GraphQLRun, members: Person[], project: string): Promise<void> {
  const { createGroup } = await root<{ createGroup: { uuid: string } }>(`mutation { createGroup(input: { name: "Genomics lab", groupClass: "role" }) { uuid } }`);
  const grant = `mutation($h: ID!, $t: ID!, $l: String!) { grantPermission(headUuid: $h, tailUuid: $t, level: $l) { uuid } }`;
  for (const m of members) await root(grant, { h: createGroup.uuid, t: m.uuid, l: "can_read" });
  await asAlice(grant, { h: project, t: members[1].uuid, l: "can_read" });
}

function curl(url: string, tokenVar: string, query: string): string {
  const body = JSON.stringify({ query }).replace(/'/g, "'\\''");
  return `curl -s ${url}/graphql -H "Authorization: Bearer $${tokenVar}" -H 'content-type: application/json' -d '${body}'`;
}

export async function runDemo(o: DemoOptions): Promise<void> {
  const basePort = o.basePort ?? Number(process.env.FEDGATE_DEMO_BASE_PORT ?? 8001);
  const clusters = await startClusters(basePort);
  const dispatchers = startDemoDispatchers(Object.values(clusters));
  o.onSignals(async () => {
    await dispatchers.stop(); // what they run is cancelled while the clusters can still record it
    await Promise.all(Object.values(clusters).map((c) => c.close()));
  });
  const loginRoot = httpGraphQL(clusters.login.url, clusters.login.config.systemRootToken);
  const alice = await createPerson(loginRoot, "alice@example.org", "Alice Andersen");
  const bob = await createPerson(loginRoot, "bob@example.org", "Bob Bauer");
  const projects: Record<string, string> = {};
  for (const id of CLUSTERS) projects[id] = await seedProject(httpGraphQL(clusters[id].url, alice.token), id);
  await shareEastProject(loginRoot, httpGraphQL(clusters.login.url, alice.token), [alice, bob], projects.east1);
  const scoped = await httpGraphQL(clusters.login.url, alice.token)<{ createToken: { token: string } }>(
    `mutation { createToken(input: { scopes: [{ method: "GET", path: "/arvados/v1/collections" }] }) { token } }`,
  );
  // The container part must not keep the rest of the demo from starting.
  const job = await submitDemoContainer(httpGraphQL(clusters.login.url, alice.token), "east1", projects.login, "login reads", "login reference").catch((e: Error) => e);

  explorerBanner.text = [
    "Demo tokens, issued by the login cluster and valid on every cluster (paste one as \"Authorization: Bearer <token>\"):",
    `  alice  ${alice.token}`,
    `  bob    ${bob.token}`,
    `  alice, may only list collections  ${scoped.createToken.token}`,
  ].join("\n");
  const login = clusters.login.url;
  const lines = [
    "",
    "fedgate demo: a local federation of three clusters (embedded databases, in memory)",
    ...CLUSTERS.map((id) => `  ${id.padEnd(6)} ${clusters[id].url}/graphql${id === "login" ? "   (login cluster)" : ""}`),
    "WARNING: every database is in memory; everything is lost when the demo stops.",
    "",
    "Explorer (GraphiQL, the tokens below are shown in it):",
    ...CLUSTERS.map((id) => `  ${id.padEnd(6)} ${clusters[id].url}/`),
    "System root tokens (each cluster's administrator):",
    ...CLUSTERS.map((id) => `  export ${id.toUpperCase()}_ROOT='${clusters[id].config.systemRootToken}'`),
    "",
    "Tokens (issued by the login cluster, valid on every cluster):",
    `  export ALICE='${alice.token}'`,
    `  export BOB='${bob.token}'`,
    `  export SCOPED='${scoped.createToken.token}'   # alice, may only list collections`,
    "",
    "Try:",
    "  # who am I, asked on east1 (east1 validates the token at the login cluster)",
    `  ${curl(clusters.east1.url, "ALICE", "{ viewer { uuid fullName } }")}`,
    "  # alice's collections on all three clusters, merged and paged, asked on login",
    `  ${curl(login, "ALICE", '{ collections(clusters: ["login", "east1", "west1"], first: 10) { nodes { uuid name cluster } pageInfo { hasNextPage endCursor } failedClusters { cluster message } } }')}`,
    "  # a project on west1, opened from login: delegated with a token salted for west1",
    `  ${curl(login, "ALICE", `{ project(uuid: "${projects.west1}") { name cluster contents { nodes { ... on Collection { uuid name } } } } }`)}`,
    "  # create a collection in alice's east1 project, through login",
    `  ${curl(login, "ALICE", `mutation { createCollection(input: { name: "made from login", ownerUuid: "${projects.east1}" }) { uuid cluster } }`)}`,
    "  # alice shared her east1 project with bob: what bob finds shared with him, on every cluster",
    `  ${curl(login, "BOB", "{ sharedWithMe { nodes { ... on Group { uuid name cluster } } } }")}`,
    "  # ...but not her west1 project (NOT_FOUND, its name is not revealed)",
    `  ${curl(login, "BOB", `{ project(uuid: "${projects.west1}") { name } }`)}`,
    "  # the sharing dialog: whom alice can share with, on every cluster, by name prefix",
    `  ${curl(login, "ALICE", '{ shareableSubjects(search: "b") { nodes { uuid kind name cluster } failedClusters { cluster } } }')}`,
    "  # who has access to alice's east1 project (the link lives on east1)",
    `  ${curl(login, "ALICE", `{ permissions(objectUuid: "${projects.east1}") { uuid tailUuid level cluster } }`)}`,
    "  # the scoped token may list collections, but not read the viewer (FORBIDDEN)",
    `  ${curl(login, "SCOPED", "{ collections { nodes { name } } viewer { uuid } }")}`,
    "  # remote requests a query caused (response extension) and per cluster (metrics)",
    `  ${curl(login, "ALICE", `{ a: project(uuid: "${projects.east1}") { name } b: project(uuid: "${projects.west1}") { name } }`)} -H 'x-fedgate-stats: 1'`,
    `  curl -s ${login}/metrics | grep fedgate_remote_requests_total`,
    "",
    "Containers (one dispatcher per cluster runs them as local processes):",
    ...(job instanceof Error
      ? [`  the demo container could not be submitted: ${job.message}`]
      : [
          `  alice asked login for a container on east1 that reads her collection ${job.inputUuid} on login: request ${job.requestUuid}`,
          "  (its token may read that input on login, and nothing else there)",
          "  # follow it (asked on login, answered by east1): the request, its container, its log collection",
          `  ${curl(login, "ALICE", `{ containerRequest(uuid: "${job.requestUuid}") { state logUuid container { state exitCode runtimeStatus } } }`)}`,
          "  # its stdout and stderr (put the logUuid from above in place of LOG_UUID)",
          `  ${curl(login, "ALICE", '{ collection(uuid: "LOG_UUID") { manifestText properties } }')}`,
        ]),
    "",
    "Press Ctrl-C to stop.",
    "",
  ];
  process.stdout.write(lines.join("\n"));
  if (!(job instanceof Error)) await reportDemoContainer(httpGraphQL(clusters.login.url, alice.token), job.requestUuid);
}

/** One line once the demo container has ended (its log's text), after the banner. */
async function reportDemoContainer(asAlice: GraphQLRun, requestUuid: string): Promise<void> {
  const outcome = await demoOutcome(asAlice, requestUuid, 60_000).catch(() => undefined);
  process.stdout.write(
    outcome
      ? `\nDemo container ${outcome.state} (exit code ${outcome.exitCode}): ${(outcome.stdout || outcome.stderr).trim()}\n`
      : "\nDemo container: no end seen within 60 s (follow it with the query above).\n",
  );
}
