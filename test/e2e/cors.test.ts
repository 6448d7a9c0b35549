/**
 * Browser front ends on another origin: a page served from a listed origin calls /graphql with
 * `Authorization` and a JSON body in real Chromium (so the browser's own preflight runs), and
 * gets the answer; the same page from an unlisted origin is refused by the browser, and a
 * cross-site "simple" request is still blocked by CSRF prevention.
 */
import { createServer, type Server } from "node:http";
import type { Browser } from "playwright-core";
import { launchBrowser } from "../helpers/browser";
import { createUserWithToken, freePort, startTestCluster, type TestCluster } from "../helpers/federation";


let cluster: TestCluster;
let browser: Browser;
let app: Server;
let listedOrigin: string;
let unlistedOrigin: string;
let token: string;

/** One blank page; the tests run their fetches in it, so they come from this origin. */
function startAppServer(port: number): Promise<Server> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/html" });
    res.end("<!doctype html><title>workbench</title>");
  });
  return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server)));
}

beforeAll(async () => {
  const port = await freePort();
  app = await startAppServer(port);
  // One server, two origins: 127.0.0.1 is listed, localhost is not.
  listedOrigin = `http://127.0.0.1:${port}`;
  unlistedOrigin = `http://localhost:${port}`;
  cluster = await startTestCluster("corsx", { cors: { allowedOrigins: [listedOrigin] } });
  token = (await createUserWithToken(cluster, "spa@cors.example")).token;
  browser = await launchBrowser();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await cluster?.stop();
  await new Promise((r) => app?.close(r));
});

/** Runs a fetch to fedgate from a page of `origin`; the outcome as the page sees it. */
async function fetchFrom(origin: string, init: { headers: Record<string, string>; body: string }): Promise<{ ok: true; status: number; body: unknown } | { ok: false; error: string }> {
  const page = await browser.newPage();
  try {
    await page.goto(`${origin}/`);
    return await page.evaluate(
      async ({ url, init }) => {
        try {
          const res = await fetch(url, { method: "POST", ...init });
          return { ok: true as const, status: res.status, body: await res.json() };
        } catch (e) {
          return { ok: false as const, error: String(e) };
        }
      },
      { url: `${cluster.url}/graphql`, init },
    );
  } finally {
    await page.close();
  }
}

const VIEWER = JSON.stringify({ query: "{ viewer { email } }" });

it("lets a listed origin call the API with Authorization and JSON (the browser's preflight succeeds)", async () => {
  const r = await fetchFrom(listedOrigin, { headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: VIEWER });
  expect(r).toEqual({ ok: true, status: 200, body: { data: { viewer: { email: "spa@cors.example" } } } });
}, 30_000);

it("gives an unlisted origin nothing: the browser refuses the preflight", async () => {
  const r = await fetchFrom(unlistedOrigin, { headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: VIEWER });
  expect(r.ok).toBe(false);
}, 30_000);

it("answers preflights with the allowed methods and headers only for listed origins", async () => {
  const preflight = (origin: string) =>
    fetch(`${cluster.url}/graphql`, {
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" },
    });
  const listed = await preflight(listedOrigin);
  expect(listed.status).toBe(204);
  expect(listed.headers.get("access-control-allow-origin")).toBe(listedOrigin);
  expect(listed.headers.get("access-control-allow-headers")).toContain("authorization");
  expect(listed.headers.get("access-control-allow-methods")).toContain("POST");
  const unlisted = await preflight(unlistedOrigin);
  expect(unlisted.headers.get("access-control-allow-origin")).toBeNull();
});

it("keeps CSRF prevention on: a simple cross-site form post is refused before it runs", async () => {
  const res = await fetch(`${cluster.url}/graphql`, {
    method: "POST",
    headers: { origin: listedOrigin, "content-type": "text/plain", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: 'mutation { createCollection(input: {name: "csrf"}) { uuid } }' }),
  });
  expect(res.status).toBe(400);
  expect(JSON.stringify(await res.json())).toContain("Cross-Site Request Forgery");
});
