/**
 * A connection to another cluster cut under a request (a replica behind a balancer killed, a
 * peer closing an idle kept-alive socket as it is reused): a read is asked once more on a fresh
 * connection, a mutation is not (it may have been carried out) and fails UNAVAILABLE.
 */
import { connect, createServer, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { codes, createUserWithToken, gql, ok, startTestCluster, type TestCluster } from "../helpers/federation";

/**
 * A TCP relay to `to`. While `cut` > 0, the next request to arrive (on a new or a kept-alive
 * connection) has its connection reset instead of being passed on; `forwarded` counts the
 * chunks that were passed on.
 */
async function cuttingRelay(to: number): Promise<{ port: number; cut: number; forwarded: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const state = {
    port: 0,
    cut: 0,
    forwarded: 0,
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
  const server: Server = createServer((client) => {
    const upstream = connect(to, "127.0.0.1");
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => undefined);
      s.on("close", () => { sockets.delete(s); client.destroy(); upstream.destroy(); });
    }
    client.on("data", (chunk) => {
      if (state.cut > 0) {
        state.cut--;
        client.resetAndDestroy();
        return;
      }
      state.forwarded++;
      upstream.write(chunk);
    });
    upstream.pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  state.port = (server.address() as AddressInfo).port;
  return state;
}

let a: TestCluster, b: TestCluster;
let relay: Awaited<ReturnType<typeof cuttingRelay>>;
let alice: { uuid: string; token: string };
let atB: string;

beforeAll(async () => {
  b = await startTestCluster("bbbbb", { loginCluster: "aaaaa" });
  relay = await cuttingRelay(Number(new URL(b.url).port));
  a = await startTestCluster("aaaaa", { remoteClusters: { bbbbb: { url: `http://127.0.0.1:${relay.port}` } } });
  b.config.remoteClusters.aaaaa = { ...a.config.remoteClusters.bbbbb, url: a.url };
  alice = await createUserWithToken(a, "alice@example.org");
  atB = (await ok(gql(b.url, `mutation { createCollection(input: { name: "at b" }) { uuid } }`, {}, alice.token))).createCollection.uuid;
});
afterAll(async () => {
  await a?.stop();
  await relay?.close();
  await b?.stop();
});

it("asks a read once more on a fresh connection when its connection is reset", async () => {
  await ok(gql(a.url, `query($u: ID!) { collection(uuid: $u) { uuid } }`, { u: atB }, alice.token)); // a kept-alive connection
  relay.cut = 1;
  const r = await ok(gql(a.url, `query($u: ID!) { collection(uuid: $u) { uuid name } }`, { u: atB }, alice.token));
  expect(r.collection).toEqual({ uuid: atB, name: "at b" });
  expect(relay.cut).toBe(0);
});

it("does not repeat a mutation whose connection was reset: UNAVAILABLE naming the cluster, and nothing done", async () => {
  relay.cut = 1;
  const before = relay.forwarded;
  const r = await gql(a.url, `mutation($u: ID!) { updateCollection(uuid: $u, input: { name: "renamed" }) { uuid name } }`, { u: atB }, alice.token);
  expect(codes(r)).toEqual(["UNAVAILABLE"]);
  expect(r.errors?.[0].extensions?.cluster).toBe("bbbbb");
  expect(relay.forwarded).toBe(before);
  const atHome = await ok(gql(b.url, `query($u: ID!) { collection(uuid: $u) { name } }`, { u: atB }, alice.token));
  expect(atHome.collection.name).toBe("at b");
});
