/**
 * The demo's compute side: one dispatcher per cluster (in this process, over HTTP like any
 * other, acting with that cluster's system root token as Arvados' local dispatcher does), and a
 * container request alice submits on the login cluster to run on east1, whose command reads
 * her input collection on login with the container's own token.
 */
import { Dispatcher } from "./dispatch/dispatcher";
import type { GraphQLRun } from "./graphqlClient";
import { log } from "./log";

export interface DemoDispatchers {
  stop(): Promise<void>;
}

export function startDemoDispatchers(clusters: readonly { url: string; config: { systemRootToken: string } }[]): DemoDispatchers {
  const running = clusters.map((c) => {
    const d = new Dispatcher({ url: c.url, token: c.config.systemRootToken, pollIntervalMs: 1000, concurrency: 2, stopGraceMs: 5000, waitMs: 10_000 });
    const done = d.run().catch((e) => log.error("demo dispatcher failed", { url: c.url, error: (e as Error).message }));
    return { d, done };
  });
  return {
    async stop() {
      for (const r of running) r.d.stop();
      await Promise.all(running.map((r) => r.done));
    },
  };
}

/**
 * What the container runs (node, no shell): reads its input through the API of the cluster it
 * runs on (FEDGATE_URL) with its token (ARVADOS_API_TOKEN), which sends the read on to the
 * collection's own cluster; then tries a collection that is not among its inputs, which its
 * token's cluster scopes refuse there.
 */
const READ_INPUT = `
const [input, other] = process.argv.slice(1);
const ask = (query, variables) => fetch(process.env.FEDGATE_URL + "/graphql", {
  method: "POST",
  headers: { "content-type": "application/json", authorization: "Bearer " + process.env.ARVADOS_API_TOKEN },
  body: JSON.stringify({ query, variables }),
}).then((r) => r.json());
(async () => {
  const r = await ask("query($u: ID!) { collection(uuid: $u) { name cluster } currentContainer { uuid cluster } }", { u: input });
  if (r.errors) { console.error(JSON.stringify(r.errors)); process.exit(1); }
  const refused = await ask("query($u: ID!) { collection(uuid: $u) { name } }", { u: other });
  console.log("container " + r.data.currentContainer.uuid + " on " + r.data.currentContainer.cluster + " read its input '" + r.data.collection.name +
    "' on " + r.data.collection.cluster + "; another collection there: " + (refused.errors ? refused.errors[0].extensions.code : "READ (unexpected)"));
})();
`;

export interface DemoContainer {
  requestUuid: string;
  inputUuid: string;
}

/**
 * alice's request, made where `asAlice` asks, to run on `runsOn`, reading `inputName` in her
 * project `projectUuid` and trying `otherName` there (not an input).
 */
export async function submitDemoContainer(asAlice: GraphQLRun, runsOn: string, projectUuid: string, inputName: string, otherName: string): Promise<DemoContainer> {
  const { collections } = await asAlice<{ collections: { nodes: { uuid: string; name: string }[] } }>(
    `query($o: ID) { collections(ownerUuid: $o) { nodes { uuid name } } }`,
    { o: projectUuid },
  );
  const [input, other] = [inputName, otherName].map((name) => collections.nodes.find((n) => n.name === name));
  if (!input || !other) throw new Error(`demo: no collections "${inputName}" and "${otherName}" in ${projectUuid}`);
  const { createContainerRequest } = await asAlice<{ createContainerRequest: { uuid: string } }>(
    `mutation($i: CreateContainerRequestInput!, $c: String) { createContainerRequest(input: $i, cluster: $c) { uuid } }`,
    {
      c: runsOn,
      i: {
        name: `read ${inputName} from ${runsOn}`,
        state: "Committed",
        priority: 500,
        command: [process.execPath, "-e", READ_INPUT, input.uuid, other.uuid],
        containerImage: "none (the dispatcher runs local processes)",
        mounts: { "/in": { kind: "collection", uuid: input.uuid }, "/out": { kind: "tmp" } },
        outputPath: "/out",
        runtimeConstraints: { vcpus: 1, ram: 256 << 20 },
      },
    },
  );
  return { requestUuid: createContainerRequest.uuid, inputUuid: input.uuid };
}

export interface DemoOutcome {
  state: string;
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

/** Waits (up to `ms`) for the request to be Final; its container's end and log text. */
export async function demoOutcome(asAlice: GraphQLRun, requestUuid: string, ms: number): Promise<DemoOutcome | undefined> {
  type View = { containerRequest: { state: string; logUuid: string | null; container: { state: string; exitCode: number | null } | null } };
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const { containerRequest: cr } = await asAlice<View>(
      `query($u: ID!) { containerRequest(uuid: $u) { state logUuid container { state exitCode } } }`,
      { u: requestUuid },
    );
    if (cr.state === "Final" && cr.container) {
      const files = cr.logUuid
        ? (await asAlice<{ collection: { properties: { files?: Record<string, string> } } }>(`query($u: ID!) { collection(uuid: $u) { properties } }`, { u: cr.logUuid }))
            .collection.properties.files ?? {}
        : {};
      return { state: cr.container.state, exitCode: cr.container.exitCode, stdout: files["stdout.txt"] ?? "", stderr: files["stderr.txt"] ?? "" };
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return undefined;
}
