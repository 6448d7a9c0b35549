/**
 * The operator examples under examples/: the systemd unit's own commands (migrate, then serve)
 * run each cluster from its example config, with the secrets and data folder in the
 * environment as the unit's EnvironmentFile would give them; the two clusters then federate
 * (a token of the login cluster aaaaa works on bbbbb). The configs name ports 8101 and 8102.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ok, gql } from "../helpers/federation";

const ROOT = join(__dirname, "..", "..");
const EXAMPLES = join(ROOT, "examples");
const children: ChildProcess[] = [];
let dataRoot: string;

/** The unit's command line for `key` (ExecStart, ExecStartPre), for cluster `id`, from this checkout. */
function unitCommand(key: string, id: string): string[] {
  const unit = readFileSync(join(EXAMPLES, "fedgate@.service"), "utf8");
  const line = new RegExp(`^${key}=(.+)$`, "m").exec(unit)?.[1];
  if (!line) throw new Error(`fedgate@.service has no ${key}`);
  return line
    .replace("/opt/fedgate", ROOT)
    .replace(`/etc/fedgate/%i.yaml`, join(EXAMPLES, `${id}.yaml`))
    .split(/\s+/);
}

function clusterEnv(id: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("FEDGATE_") && !["DATABASE_URL", "NODE_OPTIONS", "NODE_ENV"].includes(k)) env[k] = v;
  return {
    ...env,
    FEDGATE_SYSTEM_ROOT_TOKEN: `${id}-root-${"r".repeat(40)}`,
    FEDGATE_TOKEN_KEY: randomBytes(32).toString("hex"),
    FEDGATE_DATA_DIR: join(dataRoot, id), // instead of /var/lib/fedgate/<id>
  };
}

async function waitReady(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}: ${log()}`);
    if ((await fetch(`${url}/_health/ping`).catch(() => undefined))?.ok) return;
    if (Date.now() > deadline) throw new Error(`not ready: ${log()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  execFileSync("npm", ["run", "build"], { cwd: ROOT, stdio: "pipe" });
  dataRoot = mkdtempSync(join(tmpdir(), "fedgate-examples-"));
  for (const [id, port] of [["aaaaa", 8101], ["bbbbb", 8102]] as const) {
    const env = clusterEnv(id);
    const [pre, ...preArgs] = unitCommand("ExecStartPre", id);
    expect(execFileSync(pre, preArgs, { env, encoding: "utf8" })).toMatch(/^applied: /);
    const [cmd, ...args] = unitCommand("ExecStart", id);
    const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    children.push(child);
    await waitReady(`http://127.0.0.1:${port}`, child, () => err);
  }
}, 240_000);

afterAll(async () => {
  for (const c of children) c.kill("SIGTERM");
  await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once("exit", r)))));
  rmSync(dataRoot, { recursive: true, force: true });
});

it("runs both clusters from the example files; a login-cluster token works on the other", async () => {
  const aRoot = clusterEnv("aaaaa").FEDGATE_SYSTEM_ROOT_TOKEN!;
  const { createUser } = await ok(gql("http://127.0.0.1:8101", `mutation { createUser(input: { email: "op@example.org" }) { uuid } }`, {}, aRoot));
  const { createToken } = await ok(gql("http://127.0.0.1:8101", `mutation($u: ID) { createToken(input: { userUuid: $u }) { token } }`, { u: createUser.uuid }, aRoot));
  const onB = await ok(gql("http://127.0.0.1:8102", `{ clusterId viewer { uuid isActive } }`, {}, createToken.token));
  expect(onB).toEqual({ clusterId: "bbbbb", viewer: { uuid: createUser.uuid, isActive: true } });
}, 60_000);
