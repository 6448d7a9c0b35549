/**
 * The `fedgate` command as an operator runs it: `node bin/fedgate.js …` in child processes
 * (the compiled dist/, built here when missing or older than the sources), with configuration
 * from the environment only.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { codes, freePort, gql, ok } from "../helpers/federation";

const ROOT = join(__dirname, "..", "..");
const BIN = join(ROOT, "bin", "fedgate.js");
const ROOT_TOKEN = `e2e-root-${"r".repeat(40)}`;

/** Newest modification time of the TypeScript sources under `dir`. */
function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith(".ts")) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** The environment of a child: this one's, minus anything that would configure fedgate or Node. */
function baseEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith("FEDGATE_") && k !== "DATABASE_URL" && k !== "NODE_OPTIONS" && k !== "NODE_ENV") env[k] = v;
  return { ...env, FEDGATE_LOG_LEVEL: "info", ...extra };
}

interface Proc {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children = new Set<ChildProcess>();

function start(args: string[], env: NodeJS.ProcessEnv): Proc {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  let out = "";
  let err = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("close", (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    }),
  );
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Resolves when `p` exits, or rejects (after killing it) when it has not within `ms`. */
async function exitWithin(p: Proc, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      p.child.kill("SIGKILL");
      reject(new Error(`still running after ${ms} ms\nstdout: ${p.stdout()}\nstderr: ${p.stderr()}`));
    }, ms);
  });
  try {
    return await Promise.race([p.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs a command to completion. */
async function run(args: string[], env: NodeJS.ProcessEnv, ms = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = start(args, env);
  const { code } = await exitWithin(p, ms);
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

/** The structured log lines a process wrote on stderr. */
function logLines(stderr: string): Record<string, unknown>[] {
  return stderr
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Waits for the "fedgate ready" log line; returns the server's base URL. */
async function ready(p: Proc, ms = 45_000): Promise<string> {
  const deadline = Date.now() + ms;
  for (;;) {
    const line = logLines(p.stderr()).find((l) => l.msg === "fedgate ready");
    if (line) return String(line.url).replace(/\/graphql$/, "");
    if (p.child.exitCode !== null || p.child.signalCode !== null)
      throw new Error(`exited (${p.child.exitCode ?? p.child.signalCode}) before ready\nstdout: ${p.stdout()}\nstderr: ${p.stderr()}`);
    if (Date.now() > deadline) throw new Error(`not ready after ${ms} ms\nstdout: ${p.stdout()}\nstderr: ${p.stderr()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(() => {
  const built = join(ROOT, "dist", "cli.js");
  if (!existsSync(built) || statSync(built).mtimeMs < newestSource(join(ROOT, "src")))
    execFileSync("npm", ["run", "build"], { cwd: ROOT, stdio: "pipe", env: baseEnv({}) });
  expect(existsSync(built)).toBe(true);
}, 180_000);

afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
});

describe("fedgate serve with a configured root token", () => {
  let server: Proc;
  let url: string;

  beforeAll(async () => {
    const port = await freePort();
    server = start(["serve"], baseEnv({ FEDGATE_LISTEN: `127.0.0.1:${port}`, FEDGATE_CLUSTER_ID: "e2e01", FEDGATE_SYSTEM_ROOT_TOKEN: ROOT_TOKEN }));
    url = await ready(server);
    expect(url).toBe(`http://127.0.0.1:${port}`);
  }, 60_000);

  it("logs that it is ready, as JSON, naming its cluster and in-memory database", () => {
    const line = logLines(server.stderr()).find((l) => l.msg === "fedgate ready")!;
    expect(line).toMatchObject({ level: "info", cluster: "e2e01", url: `${url}/graphql`, database: "pglite:memory" });
  });

  it("answers clusterId and, for the root token, an admin viewer", async () => {
    expect(await ok(gql(url, `{ clusterId }`))).toEqual({ clusterId: "e2e01" });
    const { viewer } = await ok(gql(url, `{ viewer { uuid isAdmin } }`, {}, ROOT_TOKEN));
    expect(viewer).toEqual({ uuid: expect.stringMatching(/^e2e01-tpzed-[a-z0-9]{15}$/), isAdmin: true });
  });

  it("creates a user and a scoped token through the server; the token works only within its scope", async () => {
    const env = baseEnv({ FEDGATE_SYSTEM_ROOT_TOKEN: ROOT_TOKEN });
    const user = await run(["user", "create", "--email", "x@y.org", "--url", url], env);
    expect(user).toMatchObject({ code: 0, stderr: "" });
    expect(user.stdout).toMatch(/^e2e01-tpzed-[a-z0-9]{15}\n$/);
    const uuid = user.stdout.trim();

    const token = await run(["token", "create", "--user", uuid, "--scope", "GET:/arvados/v1/users/current", "--url", url], env);
    expect(token).toMatchObject({ code: 0, stderr: "" });
    expect(token.stdout).toMatch(/^v2\/e2e01-gj3su-[a-z0-9]{15}\/[a-z0-9]{50}\n$/);
    const v2 = token.stdout.trim();

    // The commands print what they exist to print and nothing else: never the root token.
    for (const out of [user.stdout, user.stderr, token.stdout, token.stderr]) expect(out).not.toContain(ROOT_TOKEN);

    expect(await ok(gql(url, `{ viewer { uuid } }`, {}, v2))).toEqual({ viewer: { uuid } });
    const outOfScope = await gql(url, `{ collections { nodes { uuid } } }`, {}, v2);
    expect(codes(outOfScope)).toContain("FORBIDDEN");
    expect(outOfScope.data?.collections ?? null).toBeNull();
  });

  it("refuses to create a user without --email, with a usage message and exit code 2", async () => {
    const r = await run(["user", "create", "--url", url], baseEnv({ FEDGATE_SYSTEM_ROOT_TOKEN: ROOT_TOKEN }));
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/--email/);
  });

  it("never writes a secret to its own output: not the root token, not a token it issued", async () => {
    const secret = (await ok(gql(url, `mutation { createToken(input: {}) { token } }`, {}, ROOT_TOKEN))).createToken.token.split("/")[2];
    // A refused token (right secret, wrong uuid) must not be logged either.
    const refused = await gql(url, `{ viewer { uuid } }`, {}, `v2/e2e01-gj3su-000000000000000/${secret}`);
    expect(codes(refused)).toEqual(["UNAUTHENTICATED"]);
    const all = server.stdout() + server.stderr();
    expect(server.stdout()).toContain("is ready at"); // the dev banner, without the configured root token
    expect(all).not.toContain(ROOT_TOKEN);
    expect(all).not.toContain(secret);
  });

  it("shuts down gracefully on SIGTERM with exit code 0", async () => {
    server.child.kill("SIGTERM");
    // Closing an idle server and its in-memory database takes well under a second; before the
    // fix in server.ts (Apollo's own signal handler raced the CLI's) it took about ten.
    const { code, signal } = await exitWithin(server, 5_000);
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(logLines(server.stderr()).some((l) => l.msg === "shutting down" && l.signal === "SIGTERM")).toBe(true);
    await expect(fetch(`${url}/_health/ping`)).rejects.toThrow();
  });
});

describe("fedgate serve with bad or no configuration", () => {
  it("exits non-zero at once on an invalid cluster id, naming clusterId", async () => {
    const port = await freePort();
    const r = await run(["serve"], baseEnv({ FEDGATE_LISTEN: `127.0.0.1:${port}`, FEDGATE_CLUSTER_ID: "BAD" }), 15_000);
    expect(r.code).not.toBe(0);
    expect(r.code).not.toBeNull();
    expect(r.stderr).toMatch(/clusterId/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
    expect(logLines(r.stderr).some((l) => l.msg === "fedgate ready")).toBe(false);
  });

  it("starts with nothing but FEDGATE_LISTEN and prints a generated root token that works as a bearer token", async () => {
    const port = await freePort();
    const p = start(["serve"], { FEDGATE_LISTEN: `127.0.0.1:${port}` });
    try {
      const url = await ready(p);
      expect(url).toBe(`http://127.0.0.1:${port}`);
      const match = /system root token[^:]*: (\S+)\n/.exec(p.stdout());
      expect(match).not.toBeNull();
      const generated = match![1];
      expect(generated.length).toBeGreaterThanOrEqual(32);
      expect(p.stderr()).not.toContain(generated); // printed once, on stdout only, never logged

      expect(await ok(gql(url, `{ clusterId }`))).toEqual({ clusterId: "zzzzz" });
      const { viewer } = await ok(gql(url, `{ viewer { uuid isAdmin } }`, {}, generated));
      expect(viewer).toEqual({ uuid: "zzzzz-tpzed-000000000000000", isAdmin: true });
      expect(codes(await gql(url, `{ viewer { uuid } }`, {}, generated.slice(0, -4) + "0000"))).toEqual(["UNAUTHENTICATED"]);
    } finally {
      p.child.kill("SIGTERM");
      expect((await exitWithin(p, 5_000)).code).toBe(0);
    }
  }, 60_000);
});

describe("the CLI against a running server (FEDGATE_URL, FEDGATE_TOKEN)", () => {
  let server: Proc;
  let url: string;
  let env: NodeJS.ProcessEnv;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    // The CLI is started before the server: --wait lets it find the server once it listens.
    const early = start(["user", "create", "--email", "early@example.org", "--wait", "60"], baseEnv({ FEDGATE_URL: `http://127.0.0.1:${port}`, FEDGATE_SYSTEM_ROOT_TOKEN: ROOT_TOKEN }));
    server = start(["serve"], baseEnv({ FEDGATE_LISTEN: `127.0.0.1:${port}`, FEDGATE_CLUSTER_ID: "e2e02", FEDGATE_SYSTEM_ROOT_TOKEN: ROOT_TOKEN }));
    url = await ready(server);
    const created = await exitWithin(early, 60_000);
    expect({ code: created.code, stderr: early.stderr() }).toEqual({ code: 0, stderr: "" });
    expect(early.stdout()).toMatch(/^e2e02-tpzed-[a-z0-9]{15}\n$/);
    env = baseEnv({ FEDGATE_URL: `${url}/graphql`, FEDGATE_TOKEN: ROOT_TOKEN }); // the URL the ready line prints
  }, 120_000);

  afterAll(async () => {
    server.child.kill("SIGTERM");
    await exitWithin(server, 10_000);
  });

  it("prints a dev banner on stdout (exports, explorer, in-memory warning) and logs only on stderr", () => {
    const out = server.stdout();
    expect(out).toContain(`export FEDGATE_URL='${url}'`);
    expect(out).toContain(`Explorer (GraphiQL): ${url}/`);
    expect(out).toMatch(/in memory.*lost/);
    expect(out).not.toContain(ROOT_TOKEN); // configured, so not echoed
    expect(out.split("\n").some((l) => l.startsWith("{"))).toBe(false);
    expect(logLines(server.stderr()).some((l) => l.msg === "fedgate ready")).toBe(true);
  });

  it("whoami, user list, token create, list and revoke as FEDGATE_TOKEN", async () => {
    expect((await run(["whoami"], env)).stdout).toMatch(/^e2e02-tpzed-000000000000000\troot\tadmin\ttoken e2e02-gj3su-000000000000000\n$|^e2e02-tpzed-000000000000000\troot\tadmin\n$/);
    const user = (await run(["user", "create", "--email", "cli@example.org", "--name", "Cli User"], env)).stdout.trim();
    const listed = await run(["user", "list", "--search", "cli"], env);
    expect(listed.stdout).toBe(`${user}\tcli@example.org\tCli User\tactive\n`);
    const token = (await run(["token", "create", "--user", user], env)).stdout.trim();
    const tokenUuid = token.split("/")[1];
    const asUser = { ...env, FEDGATE_TOKEN: token };
    expect((await run(["whoami"], asUser)).stdout).toBe(`${user}\tcli@example.org\ttoken ${tokenUuid}\n`);
    expect((await run(["token", "list"], asUser)).stdout).toBe(`${tokenUuid}\tno expiry\tall\n`);
    const revoked = await run(["token", "revoke", tokenUuid], asUser);
    expect(revoked.stdout).toMatch(new RegExp(`^${tokenUuid}\trevoked `));
    const refused = await run(["whoami"], asUser);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("UNAUTHENTICATED");
  }, 60_000);

  it("says which variable to set when there is no token, and names the address and the problem when it cannot connect", async () => {
    const noToken = await run(["whoami"], baseEnv({ FEDGATE_URL: url }));
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toContain("FEDGATE_TOKEN");
    const notUrl = await run(["whoami", "--url", `127.0.0.1:${port}`], env);
    expect(notUrl.code).toBe(2);
    expect(notUrl.stderr).toContain(`"127.0.0.1:${port}" is not an http:// or https:// URL`);
    const deadPort = await freePort();
    const down = await run(["whoami", "--url", `http://127.0.0.1:${deadPort}`, "--wait", "0"], env);
    expect(down.code).toBe(69);
    expect(down.stderr).toContain(`cannot reach fedgate at http://127.0.0.1:${deadPort}/graphql: connection refused`);
  }, 60_000);

  it("refuses unknown options, stray arguments and bad ports, with exit code 2", async () => {
    for (const args of [["serve", "--email", "x"], ["migrate", "extra"], ["demo", "--base-port", "abc"], ["demo", "--base-port", "65534"], ["frobnicate"]]) {
      const r = await run(args, baseEnv({}));
      expect({ args, code: r.code, stdout: r.stdout }).toEqual({ args, code: 2, stdout: "" });
      expect(r.stderr).toMatch(/unknown option|too many arguments|port number from 1 to 65533|unknown command/);
    }
  }, 60_000);

  it("has help per command naming the environment it reads, and --version", async () => {
    const help = await run(["help", "token", "create"], baseEnv({}));
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("--scope <method:path>");
    expect(help.stdout).toContain("FEDGATE_TOKEN");
    expect((await run(["--version"], baseEnv({}))).stdout).toBe(`${require("../../package.json").version}\n`);
  }, 30_000);
});

describe("fedgate config check", () => {
  it("prints the resolved configuration with secrets masked, and fails naming a bad value", async () => {
    const okRun = await run(["config", "check"], baseEnv({ FEDGATE_SYSTEM_ROOT_TOKEN: ROOT_TOKEN, DATABASE_URL: "postgresql://u:hunter2secret@db.example:5432/x", FEDGATE_REMOTE_CLUSTERS: '{"bbbbb":"http://b.example"}' }));
    expect(okRun.code).toBe(0);
    const shown = JSON.parse(okRun.stdout);
    expect(shown).toMatchObject({ systemRootToken: "********", remoteClusters: { bbbbb: { url: "http://b.example" } } });
    expect(shown.databaseUrl).toContain("db.example");
    expect(okRun.stdout).not.toContain(ROOT_TOKEN);
    expect(okRun.stdout).not.toContain("hunter2secret");
    const bad = await run(["config", "check"], baseEnv({ FEDGATE_LOG_LEVEL: "verbose" }));
    expect(bad.code).toBe(78);
    expect(bad.stderr).toContain("logLevel");
  }, 30_000);
});

describe("fedgate migrate", () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), "fedgate-e2e-"));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it("applies the migrations to a new data folder, then reports it up to date", async () => {
    const env = baseEnv({ FEDGATE_DATA_DIR: dataDir, FEDGATE_SYSTEM_ROOT_TOKEN: ROOT_TOKEN });
    const first = await run(["migrate"], env, 45_000);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^applied: \d{14}_\w+/);
    expect(readdirSync(dataDir)).toContain("PG_VERSION");

    const second = await run(["migrate"], env, 45_000);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/up to date/);
    for (const out of [first.stdout, first.stderr, second.stdout, second.stderr]) expect(out).not.toContain(ROOT_TOKEN);
  }, 100_000);
});

describe("one process per embedded data folder", () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), "fedgate-e2e-"));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it("refuses user create and migrate on a folder a running server holds, naming it and --url; works once it stops", async () => {
    // Port 0: a port probed free beforehand can be taken by another test's server before this one listens.
    const env = baseEnv({ FEDGATE_DATA_DIR: dataDir, FEDGATE_SYSTEM_ROOT_TOKEN: ROOT_TOKEN, FEDGATE_LISTEN: "127.0.0.1:0" });
    const server = start(["serve"], env);
    await ready(server);
    for (const args of [["user", "create", "--email", "lost@example.org"], ["migrate"]]) {
      const refused = await run(args, env, 45_000);
      expect(refused.code).toBe(75);
      expect(refused.stderr).toContain(`in use by process ${server.child.pid}`);
      expect(refused.stderr).toContain("--url");
      expect(refused.stdout).toBe("");
    }
    server.child.kill("SIGTERM");
    expect((await exitWithin(server, 10_000)).code).toBe(0);
    const created = await run(["user", "create", "--email", "kept@example.org"], env, 45_000);
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^[a-z0-9]{5}-tpzed-[a-z0-9]{15}\n$/);
  }, 150_000);
});

describe("fedgate demo (npm start): a local federation in one command", () => {
  it("starts three clusters, prints working tokens, and serves queries that cross clusters; stops on SIGINT", async () => {
    const base = 20_000 + ((await freePort()) % 20_000);
    const demo = start(["demo", "--base-port", String(base)], baseEnv({}));
    const deadline = Date.now() + 90_000;
    while (!demo.stdout().includes("Press Ctrl-C") && Date.now() < deadline) {
      if (demo.child.exitCode !== null) throw new Error(`demo exited\n${demo.stdout()}\n${demo.stderr()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const out = demo.stdout();
    expect(out).toContain(`login  http://127.0.0.1:${base}/graphql   (login cluster)`);
    const alice = /export ALICE='([^']+)'/.exec(out)![1];
    const bob = /export BOB='([^']+)'/.exec(out)![1];
    const login = `http://127.0.0.1:${base}`;
    const east1 = `http://127.0.0.1:${base + 1}`;
    expect((await ok(gql(east1, `{ viewer { fullName } }`, {}, alice))).viewer.fullName).toBe("Alice Andersen");
    const all = await ok(gql(login, `{ collections(clusters: ["login", "east1", "west1"]) { nodes { cluster } failedClusters { cluster } } }`, {}, alice));
    expect(new Set(all.collections.nodes.map((n: { cluster: string }) => n.cluster))).toEqual(new Set(["login", "east1", "west1"]));
    // The explorer of each cluster shows the demo's tokens above its editor.
    const explorerPage = await (await fetch(`${east1}/`)).text();
    expect(explorerPage).toContain(alice);
    expect(out).toContain(`${east1}/`);
    const shared = await ok(gql(login, `{ sharedWithMe { nodes { ... on Group { name cluster } } } }`, {}, bob));
    expect(shared.sharedWithMe.nodes).toEqual([{ name: "Genomes on east1", cluster: "east1" }]);
    demo.child.kill("SIGINT");
    expect((await exitWithin(demo, 15_000)).code).toBe(0);
  }, 150_000);
});
