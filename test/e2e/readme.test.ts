/**
 * The README's worked example, exactly as written: the block is read from README.md (not
 * copied here) and run by bash in the checkout, as a user pasting it would. It starts a server
 * on 127.0.0.1:8000, so that port must be free.
 */
import { execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

const ROOT = join(__dirname, "..", "..");

/** The first ```sh block after the heading. */
function readmeBlock(heading: string): string {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const at = readme.indexOf(heading);
  if (at < 0) throw new Error(`README.md has no "${heading}"`);
  const m = /```sh\n([\s\S]*?)```/.exec(readme.slice(at));
  if (!m) throw new Error(`no sh block after "${heading}"`);
  return m[1];
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

beforeAll(() => {
  // The example runs ./bin/fedgate.js, which needs the build (npm ci runs it; tests may be newer).
  execFileSync("npm", ["run", "build"], { cwd: ROOT, stdio: "pipe" });
}, 180_000);

it("runs the worked example as written: the scoped token reads collections and nothing else", async () => {
  expect(await portFree(8000)).toBe(true);
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("FEDGATE_") && !["DATABASE_URL", "NODE_OPTIONS", "NODE_ENV"].includes(k)) env[k] = v;
  const script = readmeBlock("### Worked example: a scoped token");
  const child = spawn("bash", ["-c", script], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), 120_000);
    child.once("close", (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  try {
    process.kill(-child.pid!, "SIGKILL"); // anything the example left running
  } catch {
    /* already gone */
  }
  const answers = out
    .split("\n")
    .filter((l) => l.startsWith('{"'))
    .map((l) => JSON.parse(l));
  expect({ code, answers: answers.length, err: code === 0 ? "" : err }).toEqual({ code: 0, answers: 4, err: "" });
  const [collections, viewer, current, create] = answers;
  expect(collections).toEqual({ data: { collections: { nodes: [] } } });
  expect(viewer.errors[0].extensions.code).toBe("FORBIDDEN");
  expect(current.data.currentToken.scopes).toEqual([
    { method: "GET", path: "/arvados/v1/collections" },
    { method: "GET", path: "/arvados/v1/collections/" },
  ]);
  expect(create.errors[0].extensions.code).toBe("FORBIDDEN");
  expect(await portFree(8000)).toBe(true); // `kill %1` stopped the server
}, 200_000);
