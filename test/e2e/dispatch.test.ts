/**
 * `fedgate dispatch` as an operator runs it (a child process, configured by its environment)
 * against a real cluster over HTTP (PostgreSQL when DATABASE_URL is set): real commands run
 * end to end, a failing one, one stopped by cancelling its request, one killed from outside,
 * shutdown on SIGTERM, two dispatchers sharing one queue without running anything twice, and
 * no token in any argv or dispatcher log line.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createUserWithToken, gql, ok, startTestCluster, type TestCluster } from "../helpers/federation";

const ROOT = join(__dirname, "..", "..");
const CLI = `require(${JSON.stringify(join(ROOT, "src", "cli.ts"))}).main(process.argv.slice(1)).then((c) => { process.exitCode = c; })`;

interface Dispatch {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}

const dispatchers = new Set<ChildProcess>();

/** `fedgate dispatch` in its own process, with nothing of this one's fedgate configuration. */
function startDispatcher(url: string, token: string, args: string[] = []): Dispatch {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("FEDGATE_") && k !== "DATABASE_URL" && k !== "NODE_OPTIONS") env[k] = v;
  const child = spawn(process.execPath, ["--import", "tsx", "-e", CLI, "dispatch", "--url", url, "--poll-interval", "0.1", ...args], {
    cwd: ROOT,
    env: { ...env, FEDGATE_DISPATCHER_TOKEN: token, FEDGATE_LOG_LEVEL: "debug" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  dispatchers.add(child);
  let err = "";
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => (dispatchers.delete(child), resolve(code))));
  return { child, stderr: () => err, exited };
}

/** Polls `probe` until it returns something (bounded, so a broken dispatcher fails the test instead of hanging it). */
async function eventually<T>(what: string, probe: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let z: TestCluster;
let alice: { uuid: string; token: string };
let dispatcherToken: string;
let otherDispatcherToken: string;
let work: string;

async function adminToken(email: string): Promise<string> {
  const { createUser } = await z.root(`mutation($e: String!) { createUser(input: { email: $e, isAdmin: true }) { uuid } }`, { e: email });
  return (await z.root(`mutation($u: ID) { createToken(input: { userUuid: $u }) { token } }`, { u: createUser.uuid })).createToken.token;
}

beforeAll(async () => {
  z = await startTestCluster("zzzzz");
  alice = await createUserWithToken(z, "alice@example.org");
  dispatcherToken = await adminToken("dispatcher1@example.org");
  otherDispatcherToken = await adminToken("dispatcher2@example.org");
  work = mkdtempSync(join(tmpdir(), "d-e2e-"));
});

afterAll(async () => {
  for (const c of dispatchers) c.kill("SIGKILL");
  await z?.stop();
  rmSync(work, { recursive: true, force: true });
});

/** A script file the container runs with node (no shell anywhere). */
function script(name: string, text: string): string {
  const path = join(work, name);
  writeFileSync(path, text);
  return path;
}

/** A committed request for `command` (never reused: each test's run is its own); its uuid and its container's. */
async function submit(command: string[], extra: Record<string, unknown> = {}): Promise<{ request: string; container: string }> {
  const { createContainerRequest: cr } = await ok(
    gql(z.url, `mutation($i: CreateContainerRequestInput!) { createContainerRequest(input: $i) { uuid containerUuid } }`, {
      i: {
        state: "Committed", priority: 1, useExisting: false, command, containerImage: "none", outputPath: "/out", mounts: { "/out": { kind: "tmp" } },
        runtimeConstraints: { vcpus: 1, ram: 1 << 20 }, ...extra,
      },
    }, alice.token),
  );
  return { request: cr.uuid, container: cr.containerUuid };
}

type ContainerView = { state: string; exitCode: number | null; runtimeStatus: { error?: string } | null; lockCount: number };

async function container(uuid: string): Promise<ContainerView> {
  return (await z.root(`query($u: ID!) { container(uuid: $u) { state exitCode runtimeStatus lockCount } }`, { u: uuid })).container;
}

const finalState = (uuid: string) => eventually(`container ${uuid} to end`, async () => {
  const c = await container(uuid);
  return c.state === "Complete" || c.state === "Cancelled" ? c : undefined;
});

type LogView = { uuid: string; manifestText: string; portableDataHash: string; properties: { files: Record<string, string>; container_uuid: string } };

/** The log collection of a finished request (its logUuid, the container's log), as its requester reads it. */
async function logOf(request: string): Promise<LogView> {
  const { containerRequest: cr } = await ok(gql(z.url, `query($u: ID!) { containerRequest(uuid: $u) { logUuid container { uuid log } } }`, { u: request }, alice.token));
  expect(cr.logUuid).toBe(cr.container.log);
  const { collection } = await ok(gql(z.url, `query($u: ID!) { collection(uuid: $u) { uuid manifestText portableDataHash properties } }`, { u: cr.logUuid }, alice.token));
  expect(collection.properties.container_uuid).toBe(cr.container.uuid);
  return collection;
}

/** The output collection of a Complete container: the one (readable by its requester) whose hash is its output. */
async function outputOf(containerUuid: string): Promise<LogView> {
  const { container: c } = await z.root(`query($u: ID!) { container(uuid: $u) { output } }`, { u: containerUuid });
  const { collections } = await ok(gql(z.url, `{ collections(first: 1000) { nodes { uuid manifestText portableDataHash properties } } }`, {}, alice.token));
  const found = collections.nodes.filter((n: LogView) => n.portableDataHash === c.output && n.properties.container_uuid === containerUuid);
  expect(found).toHaveLength(1);
  return found[0];
}

const PROBE = `
const fs = require("node:fs");
(async () => {
  const res = await fetch(process.env.FEDGATE_URL + "/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer " + process.env.ARVADOS_API_TOKEN },
    body: JSON.stringify({ query: "{ currentContainer { uuid state } }" }),
  });
  fs.writeFileSync(process.env.PROBE_OUT, JSON.stringify({
    env: process.env, cwd: process.cwd(), current: await res.json(),
    argv: fs.readFileSync("/proc/self/cmdline", "utf8"), parentArgv: fs.readFileSync("/proc/" + process.ppid + "/cmdline", "utf8"),
  }));
  fs.mkdirSync("sub");
  fs.writeFileSync("sub/result.txt", "42\\n");
  console.log("hello on stdout");
  console.error("hello on stderr");
})();
`;

describe("fedgate dispatch", () => {
  it("runs a command end to end: cwd and environment applied, its token usable and in no argv or log line, stdout and stderr in its log collection, exit code, Complete", async () => {
    const probeOut = join(work, "probe.json");
    const { request, container: uuid } = await submit([process.execPath, script("probe.js", PROBE), "an argument"], {
      cwd: "/var/spool/cwl", outputPath: "/var/spool/cwl", mounts: { "/var/spool/cwl": { kind: "tmp" } }, environment: { PROBE_OUT: probeOut, GREETING: "hi" },
    });
    const d = startDispatcher(z.url, dispatcherToken, ["--max-containers", "1"]);
    expect(await d.exited).toBe(0);

    expect(await container(uuid)).toMatchObject({ state: "Complete", exitCode: 0, lockCount: 1 });
    expect((await z.root(`query($u: ID!) { containerRequest(uuid: $u) { state } }`, { u: request })).containerRequest.state).toBe("Final");
    const probe = JSON.parse(readFileSync(probeOut, "utf8"));
    const token: string = probe.env.ARVADOS_API_TOKEN;
    expect(token).toMatch(new RegExp(`^v2/zzzzz-gj3su-[a-z0-9]{15}/[a-z0-9]+/${uuid}$`));
    expect(probe.current.data.currentContainer).toEqual({ uuid, state: "Running" });
    expect(probe.env).toMatchObject({ GREETING: "hi", FEDGATE_URL: z.url, ARVADOS_API_HOST: new URL(z.url).host });
    expect(probe.cwd).toMatch(/\/fedgate-run-[^/]+\/var\/spool\/cwl$/);
    expect(existsSync(probe.cwd)).toBe(false); // the working directory went with the run
    expect(probe.argv.split("\0")).toContain("an argument");

    const log = await logOf(request);
    expect(log.properties.files).toEqual({ "stdout.txt": "hello on stdout\n", "stderr.txt": "hello on stderr\n" });
    expect(log.manifestText).toMatch(/^\. [0-9a-f]{32}\+16 [0-9a-f]{32}\+16 0:16:stderr\.txt 16:16:stdout\.txt\n$/);
    // The output: what the command left under outputPath, as a collection whose hash is the container's output.
    const output = await outputOf(uuid);
    expect(output.properties.files).toEqual({ "sub/result.txt": "42\n" });
    expect(output.manifestText).toMatch(/^\.\/sub [0-9a-f]{32}\+3 0:3:result\.txt\n$/);

    // No token where it does not belong: not in the command line of the container's process or
    // of the dispatcher, not in a dispatcher log line; the dispatcher's own not even in the container's environment.
    const secretOf = (t: string) => t.split("/")[2];
    for (const t of [token, dispatcherToken]) {
      for (const text of [probe.argv, probe.parentArgv, d.stderr(), JSON.stringify(log)]) expect(text).not.toContain(secretOf(t));
    }
    expect(JSON.stringify(probe.env)).not.toContain(secretOf(dispatcherToken));
    expect(d.stderr()).toContain(`"containerUuid":"${uuid}"`); // the log lines were looked at, and name the container
    // The token died with the container.
    const after = await gql(z.url, `{ currentContainer { uuid } }`, {}, token);
    expect(after.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  });

  it("writes each secret mount as a 0600 file for the command, fetched with the container's token, and removes it after the run", async () => {
    const value = "e2e-secret-value-7f3a9c";
    const { createSecret } = await ok(gql(z.url, `mutation($i: CreateSecretInput!) { createSecret(input: $i) { uuid } }`, { i: { name: "e2e db", value } }, alice.token));
    const seen = join(work, "secret-seen.json");
    const command = [process.execPath, "-e", `
      const fs = require("node:fs"), crypto = require("node:crypto");
      const path = require("node:path").resolve("etc/db/password");
      const text = fs.readFileSync(path, "utf8");
      fs.writeFileSync(process.env.SEEN, JSON.stringify({ path, mode: (fs.statSync(path).mode & 0o777).toString(8), sha256: crypto.createHash("sha256").update(text).digest("hex") }));
      fs.mkdirSync("out", { recursive: true }); fs.writeFileSync("out/done", "yes");`];
    const { request, container: uuid } = await submit(command, { environment: { SEEN: seen }, secretMounts: [{ path: "/etc/db/password", secretUuid: createSecret.uuid }] });
    const d = startDispatcher(z.url, dispatcherToken, ["--max-containers", "1"]);
    expect(await d.exited).toBe(0);
    expect(await container(uuid)).toMatchObject({ state: "Complete", exitCode: 0 });
    const report = JSON.parse(readFileSync(seen, "utf8"));
    expect(report.mode).toBe("600");
    expect(report.sha256).toBe(require("node:crypto").createHash("sha256").update(value).digest("hex"));
    expect(existsSync(report.path)).toBe(false);
    // Read once, by the container's own token, audited; the value in no log line, log or output.
    const reads = await z.db.prisma.auditLog.findMany({ where: { eventType: "secret_read", objectUuid: createSecret.uuid } });
    expect(reads.map((r) => (r.properties as { containerUuid: string }).containerUuid)).toEqual([uuid]);
    expect((await outputOf(uuid)).properties.files).toEqual({ done: "yes" });
    for (const text of [d.stderr(), JSON.stringify(await logOf(request))]) expect(text).not.toContain(value.slice(0, 8));
  });

  it("a Complete container with its output is reused by an identical request, which is Final at once without running again", async () => {
    const command = [process.execPath, "-e", `require("fs").writeFileSync("answer", String(6 * 7))`];
    const same = { cwd: "/out", useExisting: true };
    const first = await submit(command, same);
    expect(await startDispatcher(z.url, dispatcherToken, ["--max-containers", "1"]).exited).toBe(0);
    expect(await container(first.container)).toMatchObject({ state: "Complete", exitCode: 0 });
    expect((await outputOf(first.container)).properties.files).toEqual({ answer: "42" });
    const again = await submit(command, same);
    expect(again.container).toBe(first.container);
    const { containerRequest } = await ok(gql(z.url, `query($u: ID!) { containerRequest(uuid: $u) { state } }`, { u: again.request }, alice.token));
    expect(containerRequest.state).toBe("Final");
  });

  it("records a failing command's exit code and its stderr (Complete, not retried)", async () => {
    const { request, container: uuid } = await submit([process.execPath, "-e", `console.error("it broke"); process.exit(3)`]);
    const d = startDispatcher(z.url, dispatcherToken, ["--max-containers", "1"]);
    expect(await d.exited).toBe(0);
    expect(await container(uuid)).toMatchObject({ state: "Complete", exitCode: 3 });
    expect((await logOf(request)).properties.files["stderr.txt"]).toBe("it broke\n");
  });

  it("a command that does not exist completes with 127 and says why in its log", async () => {
    const { request, container: uuid } = await submit(["/nonexistent/tool", "--flag"]);
    const d = startDispatcher(z.url, dispatcherToken, ["--max-containers", "1"]);
    expect(await d.exited).toBe(0);
    expect(await container(uuid)).toMatchObject({ state: "Complete", exitCode: 127 });
    expect((await logOf(request)).properties.files["stderr.txt"]).toMatch(/cannot run "\/nonexistent\/tool": ENOENT/);
  });

  /** A command that records its pid, ignores SIGTERM and would run for ever. */
  const stubborn = (pidFile: string) => [process.execPath, "-e", `require("fs").writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); process.on("SIGTERM", () => console.log("got SIGTERM")); setInterval(() => {}, 1000)`];
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const pidIn = (file: string) => eventually("the command to start", async () => (existsSync(file) && readFileSync(file, "utf8") ? Number(readFileSync(file, "utf8")) : undefined));

  it("cancelling the request (priority 0) stops the process, SIGTERM then SIGKILL, and the container is Cancelled", async () => {
    const pidFile = join(work, "cancel.pid");
    const { request, container: uuid } = await submit(stubborn(pidFile));
    const d = startDispatcher(z.url, dispatcherToken, ["--max-containers", "1", "--stop-grace", "0.5"]);
    const pid = await pidIn(pidFile);
    expect(alive(pid)).toBe(true);
    await ok(gql(z.url, `mutation($u: ID!) { cancelContainerRequest(uuid: $u) { priority } }`, { u: request }, alice.token));
    expect(await d.exited).toBe(0);
    expect(alive(pid)).toBe(false);
    const c = await container(uuid);
    expect(c.state).toBe("Cancelled");
    expect(c.runtimeStatus?.error).toBe("stopped: priority 0");
    expect((await logOf(request)).properties.files["stdout.txt"]).toBe("got SIGTERM\n");
  });

  it("a process killed from outside leaves its container Cancelled, saying so", async () => {
    const pidFile = join(work, "killed.pid");
    const { container: uuid } = await submit(stubborn(pidFile), { containerCountMax: 1 });
    const d = startDispatcher(z.url, dispatcherToken, ["--max-containers", "1"]);
    process.kill(await pidIn(pidFile), "SIGKILL");
    expect(await d.exited).toBe(0);
    const c = await finalState(uuid);
    expect(c.state).toBe("Cancelled");
    expect(c.runtimeStatus?.error).toMatch(/killed by SIGKILL/);
  });

  it("on SIGTERM it stops what it runs, cancels it (a retry is queued for the request) and exits 0", async () => {
    const pidFile = join(work, "shutdown.pid");
    const { request, container: uuid } = await submit(stubborn(pidFile), { containerCountMax: 2 });
    const d = startDispatcher(z.url, dispatcherToken, ["--stop-grace", "0.5"]);
    const pid = await pidIn(pidFile);
    d.child.kill("SIGTERM");
    expect(await d.exited).toBe(0);
    expect(alive(pid)).toBe(false);
    expect(await container(uuid)).toMatchObject({ state: "Cancelled", runtimeStatus: { error: "stopped: dispatcher shutting down" } });
    const { containerRequest } = await z.root(`query($u: ID!) { containerRequest(uuid: $u) { state containerCount container { uuid state } } }`, { u: request });
    expect(containerRequest).toMatchObject({ state: "Committed", containerCount: 2, container: { state: "Queued" } });
    await ok(gql(z.url, `mutation($u: ID!) { cancelContainerRequest(uuid: $u) { uuid } }`, { u: request }, alice.token));
  });

  it("a dispatcher killed outright: the next run with its token cancels what it left Running, and the retry runs", async () => {
    const marker = join(work, "second-attempt");
    const pidFile = join(work, "orphan.pid");
    // The first attempt hangs; the retry finds the marker and succeeds.
    const command = [process.execPath, "-e", `const fs = require("fs"); if (fs.existsSync(${JSON.stringify(marker)})) process.exit(0); fs.writeFileSync(${JSON.stringify(marker)}, ""); fs.writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); setInterval(() => {}, 1000)`];
    const { request, container: first } = await submit(command, { containerCountMax: 2 });
    const crashed = startDispatcher(z.url, dispatcherToken);
    const orphan = await pidIn(pidFile);
    crashed.child.kill("SIGKILL");
    await crashed.exited;
    expect(await container(first)).toMatchObject({ state: "Running" }); // nobody let go of it
    const next = startDispatcher(z.url, dispatcherToken, ["--max-containers", "1"]);
    expect(await next.exited).toBe(0);
    expect(await container(first)).toMatchObject({ state: "Cancelled" });
    expect(next.stderr()).toContain("released a container left by an earlier run of this dispatcher");
    const { containerRequest } = await z.root(`query($u: ID!) { containerRequest(uuid: $u) { state containerCount container { uuid state exitCode } } }`, { u: request });
    expect(containerRequest).toMatchObject({ state: "Final", containerCount: 2, container: { state: "Complete", exitCode: 0 } });
    process.kill(orphan, "SIGKILL"); // the orphan of the killed dispatcher (its token is already dead)
  });

  it("two dispatchers on one queue never run a container twice (several rounds)", async () => {
    const ranFile = join(work, "ran.txt");
    writeFileSync(ranFile, "");
    const record = script("record.js", `require("fs").appendFileSync(${JSON.stringify(ranFile)}, process.argv[2] + "\\n")`);
    const args = ["--concurrency", "4"];
    const both = [startDispatcher(z.url, dispatcherToken, args), startDispatcher(z.url, otherDispatcherToken, args)];
    const all: string[] = [];
    for (let round = 0; round < 4; round++) {
      const burst = await Promise.all(Array.from({ length: 8 }, (_, i) => submit([process.execPath, record, `round${round}-${i}`])));
      all.push(...burst.map((b) => b.container));
      for (const b of burst) expect(await finalState(b.container)).toMatchObject({ state: "Complete", exitCode: 0, lockCount: 1 });
    }
    for (const d of both) d.child.kill("SIGTERM");
    expect(await Promise.all(both.map((d) => d.exited))).toEqual([0, 0]);
    const ran = readFileSync(ranFile, "utf8").trim().split("\n").sort();
    expect(ran).toEqual([...new Set(ran)]);
    expect(ran).toHaveLength(32);
    const locks = both.flatMap((d) => d.stderr().split("\n").filter((l) => l.includes('"msg":"container locked"')).map((l) => JSON.parse(l).containerUuid));
    expect(locks.sort()).toEqual([...all].sort());
  });
});

describe("the demo (npm start) runs containers", () => {
  it("a request made on login runs on east1 under east1's dispatcher and reads its input on login, and nothing else there", async () => {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("FEDGATE_") && k !== "DATABASE_URL" && k !== "NODE_OPTIONS") env[k] = v;
    const base = 30_000 + Math.floor(Math.random() * 20_000);
    const demo = spawn(process.execPath, ["--import", "tsx", "-e", CLI, "demo", "--base-port", String(base)], { cwd: ROOT, env, stdio: ["ignore", "pipe", "ignore"] });
    dispatchers.add(demo);
    let out = "";
    demo.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => demo.once("close", (code) => (dispatchers.delete(demo), resolve(code))));
    const line = await eventually("the demo container's outcome", async () => /^Demo container .*$/m.exec(out)?.[0], 90_000);
    expect(line).toMatch(/^Demo container Complete \(exit code 0\): container east1-dz642-[a-z0-9]{15} on east1 read its input 'login reads' on login; another collection there: FORBIDDEN$/);
    const request = /request (east1-xvhdp-[a-z0-9]{15})/.exec(out)![1];
    const alice = /export ALICE='([^']+)'/.exec(out)![1];
    const login = `http://127.0.0.1:${base}`;
    // As the banner says to follow it: asked on login, answered by east1.
    const { containerRequest } = await ok(gql(login, `query($u: ID!) { containerRequest(uuid: $u) { state logUuid container { state exitCode } } }`, { u: request }, alice));
    expect(containerRequest).toMatchObject({ state: "Final", logUuid: expect.stringMatching(/^east1-4zz18-/), container: { state: "Complete", exitCode: 0 } });
    demo.kill("SIGINT");
    expect(await exited).toBe(0);
  }, 120_000);
});

describe("fedgate dispatch refuses to start", () => {
  it("without a token (2), with a token that is not an admin's (1), with no server (69)", async () => {
    const noToken = startDispatcher(z.url, "");
    expect(await noToken.exited).toBe(2);
    expect(noToken.stderr()).toContain("FEDGATE_DISPATCHER_TOKEN");
    const notAdmin = startDispatcher(z.url, alice.token);
    expect(await notAdmin.exited).toBe(1);
    expect(notAdmin.stderr()).toMatch(/not an admin/);
    expect(notAdmin.stderr()).not.toContain(alice.token.split("/")[2]);
    const nowhere = startDispatcher("http://127.0.0.1:9", dispatcherToken, ["--wait", "0"]);
    expect(await nowhere.exited).toBe(69);
  });
});
