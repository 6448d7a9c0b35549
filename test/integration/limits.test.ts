/**
 * Bounded work per request, over HTTP against a real cluster: the cost budget refuses the
 * aliasing attacks before they run (and /_health/ping answers meanwhile), the response cap
 * replaces an oversized answer by a coded error, the database-time budget stops a request's
 * further queries, and slow clients are disconnected by the header and body deadlines.
 */
import { connect, type Socket } from "node:net";
import { getIntrospectionQuery } from "graphql";
import { openDatabase } from "../../src/db/database";
import { DatabaseClock, budgetedPrisma } from "../../src/db/queryBudget";
import { createTestDatabase } from "../helpers/database";
import { aliases, typenameFlood } from "../helpers/attacks";
import { codes, createUserWithToken, gql, ok, startTestCluster, type TestCluster } from "../helpers/federation";

let z: TestCluster;
let alice: { uuid: string; token: string };
let big: string;


beforeAll(async () => {
  z = await startTestCluster("zzzzz", { http: { headersTimeoutSeconds: 1, requestTimeoutSeconds: 2, keepAliveTimeoutSeconds: 1, maxConnections: 100 } });
  alice = await createUserWithToken(z, "alice@example.org");
  const manifest = ". d41d8cd98f00b204e9800998ecf8427e+0 0:0:x\n".repeat(20_000); // ~900 KB
  const { createCollection } = await ok(gql(z.url, `mutation($m:String){ createCollection(input:{name:"big", manifestText:$m}) { uuid } }`, { m: manifest }, alice.token));
  big = createCollection.uuid;
});
afterAll(() => z?.stop());

async function ping(): Promise<number> {
  return (await fetch(`${z.url}/_health/ping`)).status;
}

describe("query cost", () => {
  it("lets one collections(first: 1000) through", async () => {
    const r = await gql(z.url, "{ collections(first: 1000) { nodes { uuid } } }", {}, alice.token);
    expect(r.errors).toBeUndefined();
  });

  it("refuses 666 aliased pages of 1000 before running them, with the cost and the budget, and ping still answers", async () => {
    const attack = gql(z.url, `{ ${aliases(666, "collections(first: 1000) { nodes { uuid } }")} }`, {}, alice.token);
    const [r, pinged] = await Promise.all([attack, ping()]);
    expect(pinged).toBe(200);
    expect(r.status).toBe(400);
    expect(codes(r)).toEqual(["QUERY_TOO_COMPLEX"]);
    expect(r.errors![0].message).toMatch(/would cost 1332666; the budget is 50000/);
    expect(r.data).toBeUndefined();
    // Again: an operation without variables has its cost computed once, and it still counts.
    const again = await gql(z.url, `{ ${aliases(666, "collections(first: 1000) { nodes { uuid } }")} }`, {}, alice.token);
    expect(again.errors![0].message).toMatch(/would cost 1332666; the budget is 50000/);
  });

  it("takes the page size from the variables", async () => {
    const q = `query($f:Int){ ${aliases(30, "collections(first: $f) { nodes { uuid } }")} }`;
    expect((await gql(z.url, q, { f: 10 }, alice.token)).errors).toBeUndefined();
    expect(codes(await gql(z.url, q, { f: 1000 }, alice.token))).toEqual(["QUERY_TOO_COMPLEX"]);
  });

  it("refuses 450 aliases of one large manifest, again with other variables (its cost reads none, and is computed once)", async () => {
    const q = `query($u:ID!){ ${aliases(450, "collection(uuid: $u) { manifestText }")} }`;
    for (const u of [big, "zzzzz-4zz18-000000000000000"]) {
      const r = await gql(z.url, q, { u }, alice.token);
      expect(r.status).toBe(400);
      expect(codes(r)).toEqual(["QUERY_TOO_COMPLEX"]);
    }
  });

  it("refuses 0.9 MB of aliased __typename without a token, and ping still answers", async () => {
    const [r, pinged] = await Promise.all([gql(z.url, `{ ${typenameFlood(0.9 * 2 ** 20)} }`), ping()]);
    expect(pinged).toBe(200);
    expect(r.status).toBe(400);
    expect(codes(r)).toEqual(["QUERY_TOO_COMPLEX"]);
  });

  it("refuses 300 aliases of introspection without a token (each the same tens of KB), and lets one full introspection through", async () => {
    const r = await gql(z.url, `{ ${aliases(300, "__schema { types { name fields { name } } }")} }`);
    expect(r.status).toBe(400);
    expect(codes(r)).toEqual(["QUERY_TOO_COMPLEX"]);
    expect(codes(await gql(z.url, `{ ${aliases(390, '__type(name: "Query") { fields { name args { name } } }')} }`))).toEqual(["QUERY_TOO_COMPLEX"]);
    expect((await gql(z.url, getIntrospectionQuery())).errors).toBeUndefined();
  });

  it("refuses 1,990 aliases of a 1000-uuid revocation hint without a token (work per uuid)", async () => {
    const tokens = Array.from({ length: 1000 }, (_, i) => `aaaaa-gj3su-${String(i).padStart(15, "0")}`);
    const r = await gql(z.url, `mutation($u: [ID!]!) { ${aliases(1990, "dropCachedTokens(uuids: $u)")} }`, { u: tokens });
    expect(r.status).toBe(400);
    expect(codes(r)).toEqual(["QUERY_TOO_COMPLEX"]);
    expect((await ok(gql(z.url, `mutation($u: [ID!]!) { dropCachedTokens(uuids: $u) }`, { u: tokens }))).dropCachedTokens).toBe(1000);
  });
});

describe("fields resolved", () => {
  it("counts the fields a request really resolves, and fails the rest past the budget", async () => {
    // Default pages nested in a default page count once before execution; what they resolve counts as it runs.
    const c = await startTestCluster("nestd", { limits: { defaultPageSize: 10, maxQueryCost: 60 } });
    try {
      const u = await createUserWithToken(c, "nest@example.org");
      const call = (q: string, v: Record<string, unknown> = {}) => ok(gql(c.url, q, v, u.token));
      const { createGroup: top } = await call(`mutation { createGroup(input: { name: "top", groupClass: "project" }) { uuid } }`);
      for (let i = 0; i < 10; i++) {
        const { createGroup: sub } = await call(`mutation($o:ID){ createGroup(input: { name: "s${i}", groupClass: "project", ownerUuid: $o }) { uuid } }`, { o: top.uuid });
        for (let j = 0; j < 5; j++) await call(`mutation($o:ID){ createCollection(input: { name: "c${j}", ownerUuid: $o }) { uuid } }`, { o: sub.uuid });
      }
      const q = `query($u:ID!){ project(uuid: $u) { contents { nodes { ... on Group { contents { nodes { ... on Collection { name } } } } } } } }`;
      const r = await gql(c.url, q, { u: top.uuid }, u.token);
      expect(r.status).toBe(200);
      expect(codes(r)).toContain("QUERY_TOO_COMPLEX");
      expect(r.errors![0].message).toMatch(/resolved more than 60 fields/);
    } finally {
      await c.stop();
    }
  });
});

describe("response cap", () => {
  let small: TestCluster;
  beforeAll(async () => {
    small = await startTestCluster("smal1", { limits: { maxResponseBytes: 100_000 } });
  });
  afterAll(() => small?.stop());

  it("replaces an answer over the cap by a coded error, whole JSON, never truncated", async () => {
    const bob = await createUserWithToken(small, "bob@example.org");
    const m = "x".repeat(60_000);
    const { createCollection } = await ok(gql(small.url, `mutation($m:String){ createCollection(input:{name:"m", manifestText:$m}) { uuid } }`, { m }, bob.token));
    const one = await gql(small.url, `query($u:ID!){ collection(uuid:$u) { manifestText } }`, { u: createCollection.uuid }, bob.token);
    expect(one.data.collection.manifestText).toBe(m);
    const two = await gql(small.url, `query($u:ID!){ a: collection(uuid:$u) { manifestText } b: collection(uuid:$u) { manifestText } }`, { u: createCollection.uuid }, bob.token);
    expect(two.status).toBe(400);
    expect(codes(two)).toEqual(["QUERY_TOO_COMPLEX"]);
    expect(two.errors![0].message).toMatch(/exceeds 100000 bytes/);
  });
});

describe("database-time budget", () => {
  it("fails a request's further queries once its database time is spent, and leaves others alone", async () => {
    const target = await createTestDatabase();
    const db = await openDatabase({ databaseUrl: target.databaseUrl });
    try {
      const clock = new DatabaseClock(5);
      const prisma = budgetedPrisma(db.prisma, clock);
      const seen: string[] = [];
      for (let i = 0; i < 3; i++) {
        try {
          await prisma.$queryRawUnsafe("SELECT pg_sleep(0.02)::text AS slept");
          seen.push("ok");
        } catch (e) {
          seen.push((e as { extensions?: { code?: string } }).extensions?.code ?? String(e));
        }
      }
      expect(seen).toEqual(["ok", "QUERY_TOO_COMPLEX", "QUERY_TOO_COMPLEX"]);
      expect(clock.usedMs).toBeGreaterThanOrEqual(20);
      // Without a clock, and on another request's clock, queries run.
      await db.prisma.$queryRawUnsafe("SELECT 1");
      await budgetedPrisma(db.prisma, new DatabaseClock(5)).$queryRawUnsafe("SELECT 1");
    } finally {
      await db.close();
      await target.dispose();
    }
  });
});

describe("database-time budget of a request", () => {
  let tight: TestCluster;
  beforeAll(async () => {
    tight = await startTestCluster("tight", { limits: { ...z.config.limits, maxDatabaseMsPerRequest: 20 } });
  }, 60_000);
  afterAll(() => tight.stop());

  it("refuses what a request asks of the database once its own time is spent; the next request has its own", async () => {
    // Mutation fields run one after another, each a transaction of several statements: well over 20 ms in all.
    const creates = Array.from({ length: 100 }, (_, i) => `c${i}: createCollection(input: { name: "budget ${i}" }) { uuid }`).join(" ");
    const r = await gql(tight.url, `mutation { ${creates} }`, {}, tight.rootToken);
    const made = Object.values(r.data ?? {}).filter(Boolean);
    expect(made.length).toBeGreaterThanOrEqual(1);
    expect(made.length).toBeLessThan(100);
    expect(new Set(codes(r))).toEqual(new Set(["QUERY_TOO_COMPLEX"]));
    expect((await ok(gql(tight.url, `mutation { createCollection(input: { name: "next" }) { uuid } }`, {}, tight.rootToken))).createCollection.uuid).toBeTruthy();
  }, 60_000);
});

describe("slow clients", () => {
  /** Resolves when the server closes the socket; meanwhile one byte is sent every 200 ms. */
  function trickle(first: string, next: string): Promise<string> {
    return new Promise((resolve) => {
      const s: Socket = connect(z.port, "127.0.0.1");
      let answer = "";
      const timer = setInterval(() => s.writable && s.write(next), 200);
      s.on("data", (d) => (answer += d.toString()));
      s.on("error", () => undefined);
      s.on("close", () => {
        clearInterval(timer);
        resolve(answer);
      });
      s.write(first);
    });
  }

  it("closes a socket trickling its headers", async () => {
    await trickle("POST /graphql HTTP/1.1\r\nHost: x\r\n", "X");
    expect(await ping()).toBe(200);
  });

  it("closes a socket trickling its body", async () => {
    await trickle("POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{", " ");
    expect(await ping()).toBe(200);
  });

  it("refuses connections past maxConnections, and serves again once they close", async () => {
    const capped = await startTestCluster("capd1", { http: { headersTimeoutSeconds: 10, requestTimeoutSeconds: 30, keepAliveTimeoutSeconds: 5, maxConnections: 2 } });
    const open = (): Promise<Socket> => new Promise((resolve) => { const s = connect(capped.port, "127.0.0.1", () => resolve(s)); s.on("error", () => undefined); });
    try {
      const held = [await open(), await open()];
      const third = await open();
      await new Promise((r) => third.on("close", r)); // dropped by the server at once
      held.forEach((s) => s.destroy());
      await new Promise((r) => setTimeout(r, 100)); // the server sees them closed
      expect((await fetch(`${capped.url}/_health/ping`)).status).toBe(200);
    } finally {
      await capped.stop();
    }
  });
});
