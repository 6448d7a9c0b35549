/**
 * The HTTP edge of one cluster: GraphQL-over-HTTP conformance (graphql-http's server audits),
 * health and metrics endpoints, CSRF prevention, depth limit, error answers without internals,
 * and the opt-in request statistics extension.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { serverAudits } from "graphql-http";
import { codes, freePort, gql, ok, startTestCluster, type TestCluster } from "../helpers/federation";

let z: TestCluster;

beforeAll(async () => {
  // The explorer is on by default only for an in-memory database; the PostgreSQL run needs it said.
  z = await startTestCluster("zzzzz", { explorer: true });
});
afterAll(() => z?.stop());

/** Text that would betray internals: stack frames, source or dependency paths. */
function expectNoInternals(text: string): void {
  expect(text).not.toContain("/work");
  expect(text).not.toContain("node_modules");
  expect(text).not.toMatch(/\bat \S+ \(|\bat \//); // a stack frame ("    at fn (file:line)")
  expect(text).not.toMatch(/stacktrace/i);
}

describe("GraphQL over HTTP conformance (graphql-http server audits)", () => {
  // The audits are listed when the file is loaded; the URL is read lazily, once the cluster runs.
  const audits = serverAudits({ url: () => `${z.url}/graphql`, fetchFn: fetch });

  it("has audits to run", () => {
    expect(audits.length).toBeGreaterThan(20);
  });

  for (const audit of audits) {
    it(audit.name, async () => {
      const result = await audit.fn();
      // "error" is a failed MUST; "warn"/"notice" are SHOULD/MAY recommendations, accepted here.
      if (result.status === "error") {
        const body = await result.response.text().catch(() => "(unreadable body)");
        throw new Error(`${result.reason}\nstatus ${result.response.status}: ${body}`);
      }
      expect(["ok", "warn", "notice"]).toContain(result.status);
    });
  }
});

describe("health, metrics and unknown paths", () => {
  it("answers the health check with 200 and health OK", async () => {
    const res = await fetch(`${z.url}/_health/ping`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ health: "OK" });
  });

  it("serves Prometheus metrics including the remote request counter", async () => {
    const res = await fetch(`${z.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/^# HELP fedgate_remote_requests_total .+$/m);
    expect(text).toMatch(/^# TYPE fedgate_remote_requests_total counter$/m);
  });

  it("counts hot reads by what answered them: memory (the database unchanged) or the database", async () => {
    const count = async (by: string) => {
      const text = await (await fetch(`${z.url}/metrics`)).text();
      return Number(new RegExp(`^fedgate_reads_total\\{answered_by="${by}"[^}]*\\} (\\d+)$`, "m").exec(text)?.[1]);
    };
    const before = { memory: await count("memory"), database: await count("database") };
    // The same list until one comes from memory (another test file writing to the same
    // PostgreSQL server between two reads makes the second one a database read).
    let reads = 0;
    do {
      await z.root(`{ collections(first: 3) { nodes { uuid } } }`);
      reads++;
    } while ((await count("memory")) === before.memory && reads < 100);
    const after = { memory: await count("memory"), database: await count("database") };
    expect(after.memory).toBeGreaterThan(before.memory);
    expect(after.memory + after.database - before.memory - before.database).toBeGreaterThanOrEqual(reads);
  });

  it("labels requests by forwarding cluster only for clusters it knows, so junk headers add no series", async () => {
    for (const junk of ["qqqqq", "rrrrr", "not a cluster"])
      await fetch(`${z.url}/graphql`, { method: "POST", headers: { "content-type": "application/json", "x-fedgate-forwarded-for": junk }, body: JSON.stringify({ query: "{ clusterId }" }) });
    const text = await (await fetch(`${z.url}/metrics`)).text();
    expect(text).toMatch(/fedgate_graphql_requests_total\{forwarded_for="unknown"[^}]*\} 3/);
    expect(text).not.toContain("qqqqq");
  });

  it("answers an unknown path with 404 and a JSON error carrying a code", async () => {
    const res = await fetch(`${z.url}/no/such/path`);
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const body = (await res.json()) as { errors: { message: string; extensions: { code: string } }[] };
    expect(body.errors[0].extensions.code).toBe("NOT_FOUND");
    expect(body.errors[0].message).toContain("/no/such/path");
  });
});

describe("malformed and refused requests", () => {
  it("refuses a body over 1 MiB with 413 BAD_REQUEST and closes the connection, and goes on serving", async () => {
    const answer = await new Promise<{ status: number; connection?: string; body: string }>((resolve, reject) => {
      const req = httpRequest(`${z.url}/graphql`, { method: "POST", headers: { "content-type": "application/json" } }, (res) => {
        let body = "";
        res.on("data", (c) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode!, connection: res.headers.connection, body }));
      });
      req.on("error", (e) => (e as NodeJS.ErrnoException).code === "EPIPE" || (e as NodeJS.ErrnoException).code === "ECONNRESET" || reject(e));
      req.end(JSON.stringify({ query: `{ clusterId }`, variables: { pad: "x".repeat(1.5 * 2 ** 20) } }));
    });
    expect(answer.status).toBe(413);
    expect(answer.connection).toBe("close");
    expect(JSON.parse(answer.body).errors[0].extensions.code).toBe("BAD_REQUEST");
    expect((await ok(gql(z.url, `{ clusterId }`))).clusterId).toBe(z.id);
  });

  it("answers a body that is not valid JSON with 400 and a JSON error, without a stack trace or file paths", async () => {
    const res = await fetch(`${z.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"query": "{ clusterId }",',
    });
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toMatch(/json/);
    const text = await res.text();
    const body = JSON.parse(text) as { errors: { message: string; extensions?: { code?: string } }[] };
    expect(body.errors.length).toBeGreaterThan(0);
    expect(body.errors[0].extensions?.code).toBe("BAD_REQUEST");
    expectNoInternals(text);
  });

  it("blocks a GET query without a content type or preflight header as a possible CSRF", async () => {
    const res = await fetch(`${z.url}/graphql?query=${encodeURIComponent("{ clusterId }")}`);
    expect(res.status).toBe(400);
    const text = await res.text();
    expect(text).toMatch(/Cross-Site Request Forgery/);
    expect(text).not.toContain('"clusterId":"zzzzz"');
    expectNoInternals(text);
  });

  it("runs a GET query that carries apollo-require-preflight or a JSON content type", async () => {
    const allowed: Record<string, string>[] = [{ "apollo-require-preflight": "true" }, { "content-type": "application/json" }];
    for (const headers of allowed) {
      const res = await fetch(`${z.url}/graphql?query=${encodeURIComponent("{ clusterId }")}`, { headers });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ data: { clusterId: "zzzzz" } });
    }
  });

  it("refuses a mutation sent over GET with 405", async () => {
    const query = encodeURIComponent(`mutation { dropCachedToken(uuid: "zzzzz-gj3su-000000000000000") }`);
    const res = await fetch(`${z.url}/graphql?query=${query}`, { headers: { "apollo-require-preflight": "true" } });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toMatch(/POST/);
    const body = (await res.json()) as { data?: unknown; errors: { message: string }[] };
    expect(body.data).toBeUndefined();
    expect(body.errors[0].message).toMatch(/mutation/i);
  });

  it("refuses a query nested deeper than the limit (12) with 400 BAD_USER_INPUT naming the limit", async () => {
    // project, contents, nodes, then (contents, nodes) per nested project, then uuid:
    // five nested projects is 1 + 2 + 2×5 + 1 = 14 levels.
    let inner = "... on Group { uuid }";
    for (let i = 0; i < 5; i++) inner = `... on Group { contents { nodes { ${inner} } } }`;
    const query = `{ project(uuid: "zzzzz-j7d0g-000000000000000") { contents { nodes { ${inner} } } } }`;
    const r = await gql(z.url, query, {}, z.rootToken);
    expect(r.status).toBe(400);
    expect(r.data).toBeUndefined();
    expect(codes(r)).toEqual(["BAD_USER_INPUT"]);
    expect(r.errors![0].message).toMatch(/limit is 12\b/);
  });

  it("accepts a query exactly at the depth limit", async () => {
    // 1 + 2 + 2×4 + 1 = 12 levels.
    let inner = "... on Group { uuid }";
    for (let i = 0; i < 4; i++) inner = `... on Group { contents { nodes { ${inner} } } }`;
    const query = `{ project(uuid: "zzzzz-j7d0g-000000000000000") { contents { nodes { ${inner} } } } }`;
    const r = await gql(z.url, query, {}, z.rootToken);
    expect(r.status).toBe(200);
    expect(codes(r)).not.toContain("BAD_USER_INPUT");
    expect(r.data).toHaveProperty("project");
  });

  it("serves a browser a page that loads nothing from a CDN: its scripts and styles are its own, under a CSP of 'self'", async () => {
    const res = await fetch(`${z.url}/graphql`, { headers: { accept: "text/html" } });
    const text = await res.text();
    expect(text).not.toMatch(/cdn/i);
    const sources = [...text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) expect(source).toMatch(/^\/_explorer\//);
    expect(res.headers.get("content-security-policy")).toContain("script-src 'self'");
  });
});

describe("request statistics extension", () => {
  it("adds extensions.fedgate.remoteRequests when x-fedgate-stats: 1 is sent", async () => {
    const r = await gql(z.url, `{ viewer { uuid } }`, {}, z.rootToken, { "x-fedgate-stats": "1" });
    expect(r.errors).toBeUndefined();
    expect(r.data.viewer.uuid).toMatch(/^zzzzz-tpzed-/);
    const remote = r.extensions?.fedgate?.remoteRequests;
    expect(remote).toEqual(expect.any(Object));
    expect(Array.isArray(remote)).toBe(false);
    expect(remote).toEqual({}); // one cluster alone asks nobody
  });

  it("adds no fedgate extension without the header", async () => {
    const r = await gql(z.url, `{ viewer { uuid } }`, {}, z.rootToken);
    expect(r.errors).toBeUndefined();
    expect(r.extensions?.fedgate).toBeUndefined();
    // and the plain path still answers
    expect((await ok(gql(z.url, `{ clusterId }`))).clusterId).toBe("zzzzz");
  });
});

describe("authentication at the HTTP level", () => {
  it("answers a request without a token with 200: public fields resolve, the others are UNAUTHENTICATED field errors", async () => {
    const r = await gql(z.url, `{ clusterId viewer { uuid } }`);
    expect(r.status).toBe(200);
    expect(r.data).toEqual({ clusterId: "zzzzz", viewer: null });
    expect(codes(r)).toEqual(["UNAUTHENTICATED"]);
  });

  it("refuses a request with a bad token as a whole, before execution: 401 UNAUTHENTICATED, no data", async () => {
    for (const token of ["not-a-token", `v2/zzzzz-gj3su-${"0".repeat(15)}/${"s".repeat(50)}`]) {
      const r = await gql(z.url, `{ clusterId }`, {}, token);
      expect({ status: r.status, data: r.data, codes: codes(r) }).toEqual({ status: 401, data: undefined, codes: ["UNAUTHENTICATED"] });
    }
  });
});

describe("/metrics access (managementToken)", () => {
  /** A non-loopback address of this machine, to reach a server listening on every interface. */
  function externalAddress(): string {
    const found = Object.values(networkInterfaces()).flat().find((a) => a && a.family === "IPv4" && !a.internal);
    if (!found) throw new Error("this machine has no non-loopback IPv4 address to test from");
    return found.address;
  }

  it("without a management token, serves loopback only", async () => {
    const port = await freePort();
    const open = await startTestCluster("mtr01", { listen: `0.0.0.0:${port}` });
    try {
      expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(200);
      const outside = await fetch(`http://${externalAddress()}:${port}/metrics`);
      expect(outside.status).toBe(403);
      expect(((await outside.json()) as { errors: { extensions: { code: string } }[] }).errors[0].extensions.code).toBe("FORBIDDEN");
    } finally {
      await open.stop();
    }
  });

  it("with a management token, serves only requests bearing it (from anywhere)", async () => {
    const token = "m".repeat(40);
    const guarded = await startTestCluster("mtr02", { managementToken: token });
    try {
      expect((await fetch(`${guarded.url}/metrics`)).status).toBe(401);
      expect((await fetch(`${guarded.url}/metrics`, { headers: { authorization: `Bearer ${"x".repeat(40)}` } })).status).toBe(401);
      const allowed = await fetch(`${guarded.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
      expect(allowed.status).toBe(200);
      expect(await allowed.text()).toContain("fedgate_remote_requests_total");
    } finally {
      await guarded.stop();
    }
  });
});

describe("TLS (tls.certFile, tls.keyFile)", () => {
  it("serves HTTPS with a configured certificate; a client trusting it gets GraphQL answers", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fedgate-tls-"));
    const certFile = join(dir, "cert.pem");
    const keyFile = join(dir, "key.pem");
    // A self-signed certificate for 127.0.0.1, made here (openssl is on every machine of this kind).
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", keyFile, "-out", certFile], { stdio: "pipe" });
    const secure = await startTestCluster("tls01", { tls: { certFile, keyFile } });
    try {
      expect(secure.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const body = await new Promise<string>((resolve, reject) => {
        const req = httpsRequest(`${secure.url}/graphql`, { method: "POST", ca: readFileSync(certFile), headers: { "content-type": "application/json" } }, (res) => {
          let text = "";
          res.on("data", (d: Buffer) => (text += d.toString()));
          res.on("end", () => resolve(text));
        });
        req.on("error", reject);
        req.end(JSON.stringify({ query: "{ clusterId }" }));
      });
      expect(JSON.parse(body)).toEqual({ data: { clusterId: "tls01" } });
      // Plain HTTP on the TLS port is not served.
      await expect(fetch(`${secure.url.replace("https:", "http:")}/_health/ping`)).rejects.toThrow();
    } finally {
      await secure.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
