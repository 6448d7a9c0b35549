/**
 * The explorer in a real browser (Debian's chromium, driven by playwright-core): the page and
 * every asset come from fedgate itself with the network closed, a token pasted into the
 * Authorization header runs a query, and the rendered result is the viewer. A screenshot is
 * kept under test/artifacts/ (git-ignored).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { launchBrowser } from "../helpers/browser";
import { createUserWithToken, startTestCluster, type TestCluster } from "../helpers/federation";

const ARTIFACTS = join(__dirname, "..", "artifacts");

let cluster: TestCluster;
let browser: Browser;

beforeAll(async () => {
  cluster = await startTestCluster("explr", { explorer: true });
  browser = await launchBrowser();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await cluster?.stop();
});

/** The value of the first CodeMirror editor inside `selector` (GraphiQL 3 uses CodeMirror 5). */
const EDITOR_VALUE = (selector: string) =>
  `Array.from(document.querySelectorAll(${JSON.stringify(selector)})).map((e) => e.CodeMirror && e.CodeMirror.getValue()).join("\\n")`;

it("serves GraphiQL from fedgate alone, runs a query with a pasted token and renders the result", async () => {
  const alice = await createUserWithToken(cluster, "alice@explorer.example");
  const page = await browser.newPage();
  const outside: string[] = [];
  page.on("request", (r) => {
    if (!r.url().startsWith(cluster.url)) outside.push(r.url());
  });
  const failures: string[] = [];
  page.on("pageerror", (e) => failures.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error") failures.push(m.text());
  });

  await page.goto(`${cluster.url}/`);
  await page.waitForSelector(".graphiql-query-editor .CodeMirror");
  // The header editor starts with the placeholder; paste the token over it.
  // (A string, run in the page: this file is compiled without the DOM's types.)
  await page.evaluate(`(() => {
    const editors = Array.from(document.querySelectorAll(".CodeMirror"));
    const headers = editors.find((e) => e.CodeMirror.getValue().includes("<paste a token>"));
    if (!headers) throw new Error("no header editor with the placeholder");
    headers.CodeMirror.setValue(${JSON.stringify(JSON.stringify({ Authorization: `Bearer ${alice.token}` }))});
    document.querySelector(".graphiql-query-editor .CodeMirror").CodeMirror.setValue("{ viewer { uuid email } }");
  })()`);
  await page.click(".graphiql-execute-button");
  await page.waitForFunction(`${EDITOR_VALUE(".graphiql-response .CodeMirror")}.includes("alice@explorer.example")`, undefined, { timeout: 20_000 });
  const shown = JSON.parse((await page.evaluate(EDITOR_VALUE(".graphiql-response .CodeMirror"))) as string);
  expect(shown).toEqual({ data: { viewer: { uuid: alice.uuid, email: "alice@explorer.example" } } });

  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, "explorer.png"), fullPage: true });
  expect(outside).toEqual([]);
  expect(failures).toEqual([]);
}, 60_000);

it("answers browsers at /graphql with the explorer, and API clients with GraphQL", async () => {
  const html = await fetch(`${cluster.url}/graphql`, { headers: { accept: "text/html" } });
  expect(html.status).toBe(200);
  expect(html.headers.get("content-security-policy")).toContain("default-src 'none'");
  expect(await html.text()).toContain("fedgate explorer");
  const api = await fetch(`${cluster.url}/graphql?query=${encodeURIComponent("{ clusterId }")}`, {
    headers: { accept: "application/json", "apollo-require-preflight": "true" },
  });
  expect(await api.json()).toEqual({ data: { clusterId: "explr" } });
});

it("is off unless configured for a persistent cluster", async () => {
  const off = await startTestCluster("noexp", { explorer: false });
  try {
    expect((await fetch(`${off.url}/`)).status).toBe(404);
    expect((await fetch(`${off.url}/_explorer/graphiql.js`)).status).toBe(404);
  } finally {
    await off.stop();
  }
});
