/**
 * The dispatcher's queue: `containers(order: PRIORITY)` lists highest priority first (then
 * uuid), its cursors page through that order, and a dispatcher reading the queue a page at a
 * time locks the most wanted container first even when it is not on the first page in uuid
 * order (a small page size stands in for a long queue).
 */
import { Dispatcher } from "../../src/dispatch/dispatcher";
import { codes, gql, ok, startTestCluster, type TestCluster } from "../helpers/federation";

let cl: TestCluster;
type Queued = { uuid: string; priority: number; request: string };
let queued: Queued[];

const CREATE = `mutation($i: CreateContainerRequestInput!) { createContainerRequest(input: $i) { uuid containerUuid } }`;
const LIST = `query($first: Int, $after: String, $c: [String!]) {
  containers(state: "Queued", order: PRIORITY, first: $first, after: $after, clusters: $c) { nodes { uuid priority } pageInfo { hasNextPage endCursor } } }`;

/** The whole queue through `containers(order: PRIORITY)`, `first` at a time. */
async function pagedQueue(first: number): Promise<{ uuid: string; priority: number }[]> {
  const all: { uuid: string; priority: number }[] = [];
  let after: string | null = null;
  do {
    const { containers }: { containers: { nodes: { uuid: string; priority: number }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } } = await ok(gql(cl.url, LIST, { first, after }, cl.rootToken));
    all.push(...containers.nodes);
    after = containers.pageInfo.hasNextPage ? containers.pageInfo.endCursor : null;
  } while (after);
  return all;
}

beforeAll(async () => {
  cl = await startTestCluster("zzzzz");
  const made: { uuid: string; containerUuid: string }[] = [];
  for (let n = 0; n < 6; n++) {
    const i = {
      command: [process.execPath, "-e", `// ${n}`], containerImage: "img", outputPath: "/out", mounts: { "/out": { kind: "tmp" } },
      runtimeConstraints: { vcpus: 1, ram: 1024 }, state: "Committed", priority: 1,
    };
    made.push((await ok(gql(cl.url, CREATE, { i }, cl.rootToken))).createContainerRequest);
  }
  // The most wanted is the container with the largest uuid: last in uuid order, on no first page.
  made.sort((x, y) => (x.containerUuid < y.containerUuid ? -1 : 1));
  const priorities = [7, 1, 7, 3, 1, 900];
  for (const [n, r] of made.entries())
    await ok(gql(cl.url, `mutation($u: ID!, $p: Int!) { updateContainerRequest(uuid: $u, input: { priority: $p }) { uuid } }`, { u: r.uuid, p: priorities[n] }, cl.rootToken));
  queued = made.map((r, n) => ({ uuid: r.containerUuid, priority: priorities[n], request: r.uuid }));
});
afterAll(() => cl?.stop());

it("lists the queue highest priority first, then by uuid, and its cursors page through that order", async () => {
  const expected = [...queued].sort((x, y) => y.priority - x.priority || (x.uuid < y.uuid ? -1 : 1)).map(({ uuid, priority }) => ({ uuid, priority }));
  for (const first of [1, 2, 4, 100]) expect(await pagedQueue(first)).toEqual(expected);
});

it("refuses a uuid cursor in priority order, and another cluster's queue", async () => {
  const byUuid = (await ok(gql(cl.url, `{ containers(state: "Queued", first: 1) { pageInfo { endCursor } } }`, {}, cl.rootToken))).containers.pageInfo.endCursor;
  expect(codes(await gql(cl.url, LIST, { first: 1, after: byUuid }, cl.rootToken))).toEqual(["BAD_USER_INPUT"]);
  expect(codes(await gql(cl.url, LIST, { first: 1, c: ["zzzzz", "qqqqq"] }, cl.rootToken))).toEqual(["BAD_USER_INPUT"]);
  expect((await ok(gql(cl.url, LIST, { first: 1, c: ["zzzzz"] }, cl.rootToken))).containers.nodes).toHaveLength(1);
});

it("a dispatcher reading the queue in pages smaller than it locks the highest-priority container first", async () => {
  const top = queued.find((q) => q.priority === 900)!;
  const d = new Dispatcher({ url: cl.url, token: cl.rootToken, pollIntervalMs: 50, concurrency: 1, maxContainers: 1, stopGraceMs: 1000, waitMs: 5000, queuePageSize: 2 });
  expect((await d.run()).locked).toBe(1);
  const states = await cl.db.prisma.container.findMany({ where: { uuid: { in: queued.map((q) => q.uuid) } }, select: { uuid: true, state: true } });
  expect(states.filter((s) => s.state !== "Queued")).toEqual([{ uuid: top.uuid, state: "Complete" }]);
});
