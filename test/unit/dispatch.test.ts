/**
 * The dispatcher's parts that need no server: the log collection it builds, the child process
 * it runs (exit codes, kept output, stopping a process group), and the working directory the
 * container's paths are confined to.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startChild } from "../../src/dispatch/childProcess";
import { childEnvironment, stopReason } from "../../src/dispatch/containerRun";
import { OutputTooLargeError, readOutputFiles } from "../../src/dispatch/outputFiles";
import { manifestOf, portableDataHash, runCollection } from "../../src/dispatch/runCollections";
import { createWorkDir, prepareCwd, removeMountFiles, writeMountFiles, WorkDirError } from "../../src/dispatch/workDir";

const NODE = process.execPath;
const md5 = (s: string) => createHash("md5").update(s).digest("hex");

describe("run collections (log, output)", () => {
  it("are Arvados manifests of the kept text: a stream per directory, files in name order, escaped names, empty files at offset", () => {
    expect(manifestOf([{ path: "stdout.txt", text: "hello" }, { path: "a b", text: "" }])).toBe(
      `. ${md5("hello")}+5 0:0:a\\040b 0:5:stdout.txt\n`,
    );
    expect(manifestOf([{ path: "stderr.txt", text: "é" }, { path: "stdout.txt", text: "xy" }])).toBe(
      `. ${createHash("md5").update(Buffer.from("é")).digest("hex")}+2 ${md5("xy")}+2 0:2:stderr.txt 2:2:stdout.txt\n`,
    );
    expect(manifestOf([{ path: "stdout.txt", text: "" }])).toBe(". d41d8cd98f00b204e9800998ecf8427e+0 0:0:stdout.txt\n");
    expect(manifestOf([{ path: "sub dir/b", text: "2" }, { path: "top", text: "1" }, { path: "sub dir/a", text: "" }])).toBe(
      `. ${md5("1")}+1 0:1:top\n./sub\\040dir ${md5("2")}+1 0:0:a 0:1:b\n`,
    );
    expect(manifestOf([])).toBe("");
  });

  it("carry the portable data hash of their manifest, the files' text and what was cut", () => {
    const c = runCollection("log", "zzzzz-dz642-000000000000001", [
      { path: "stdout.txt", text: "out", droppedBytes: 0 },
      { path: "stderr.txt", text: "err", droppedBytes: 7 },
    ]);
    expect(c.portableDataHash).toBe(`${md5(c.manifestText)}+${c.manifestText.length}`);
    expect(portableDataHash("")).toBe("d41d8cd98f00b204e9800998ecf8427e+0"); // Arvados' empty collection
    expect(c.properties).toEqual({
      type: "log", container_uuid: "zzzzz-dz642-000000000000001", files: { "stdout.txt": "out", "stderr.txt": "err" }, truncated: { "stderr.txt": 7 },
    });
  });
});

describe("output files", () => {
  it("are the regular files under the output path, by relative path; links are not followed; none when it is missing", async () => {
    const root = await mkdtemp(join(tmpdir(), "d-unit-out-"));
    try {
      await mkdir(join(root, "out/sub"), { recursive: true });
      await writeFile(join(root, "out/sub/b.txt"), "b");
      await writeFile(join(root, "out/a.txt"), "a\u0000");
      await symlink("/etc/passwd", join(root, "out/link"));
      expect(await readOutputFiles(join(root, "out"))).toEqual([{ path: "a.txt", text: "a\uFFFD" }, { path: "sub/b.txt", text: "b" }]);
      expect(await readOutputFiles(join(root, "missing"))).toEqual([]);
      await expect(readOutputFiles(join(root, "out"), 1)).rejects.toThrow(/larger than 1 bytes/);
      await expect(readOutputFiles(join(root, "out"), 1000, 3)).rejects.toThrow(OutputTooLargeError);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe("child process", () => {
  let cwd: string;
  beforeAll(async () => (cwd = await mkdtemp(join(tmpdir(), "d-unit-"))));
  afterAll(() => rm(cwd, { recursive: true, force: true }));

  it("runs an argv without a shell, in its cwd with exactly its environment, and keeps stdout and stderr", async () => {
    const script = `console.log(process.cwd(), process.env.ONLY, Object.keys(process.env).join(",")); console.error("to err"); process.exit(3)`;
    const child = startChild({ command: [NODE, "-e", script, "$HOME;", "`x`"], cwd, env: { ONLY: "set", PATH: process.env.PATH! } });
    expect(await child.exited).toEqual({ exitCode: 3, signal: null });
    const [out, err] = child.logFiles();
    expect(out.text).toBe(`${cwd} set ONLY,PATH\n`);
    expect(err).toEqual({ path: "stderr.txt", text: "to err\n", droppedBytes: 0 });
  });

  it("keeps the end of a long stream, counts what it dropped, and stores NUL as U+FFFD", async () => {
    const child = startChild({ command: [NODE, "-e", `process.stdout.write("a".repeat(5000) + "\\u0000tail")`], cwd, env: {} }, 100);
    await child.exited;
    const [out] = child.logFiles();
    expect(out.text).toBe(`${"a".repeat(95)}\uFFFDtail`);
    expect(out.droppedBytes).toBe(4905);
  });

  it("reports a command that cannot start as a shell would (127), saying why on stderr", async () => {
    const child = startChild({ command: ["/nonexistent/program"], cwd, env: {} });
    expect(await child.exited).toEqual({ exitCode: 127, signal: null });
    expect(child.logFiles()[1].text).toContain("ENOENT");
  });

  it("stop() sends SIGTERM to the whole group, then SIGKILL to what ignores it", async () => {
    // A parent that ignores SIGTERM and a grandchild that would outlive it.
    const script = `process.on("SIGTERM", () => console.log("term")); require("child_process").spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "inherit" }); console.log("up"); setInterval(() => {}, 1000)`;
    const child = startChild({ command: [NODE, "-e", script], cwd, env: {} });
    while (!child.logFiles()[0].text.includes("up")) await new Promise((r) => setTimeout(r, 20));
    expect(await child.stop(300)).toEqual({ exitCode: null, signal: "SIGKILL" });
    expect(child.logFiles()[0].text).toContain("term");
    expect(() => process.kill(-child.pid!, 0)).toThrow(); // nothing of the group is left
  });

  it("ends the run with its first process: a background child does not keep it open", async () => {
    const script = `require("child_process").spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "inherit", detached: false }); process.exit(0)`;
    const child = startChild({ command: [NODE, "-e", script], cwd, env: {} });
    expect(await child.exited).toEqual({ exitCode: 0, signal: null });
  });
});

describe("working directory", () => {
  it("places the container's paths inside it and refuses those that lead out", async () => {
    const dir = await createWorkDir();
    try {
      expect(statSync(dir.root).mode & 0o777).toBe(0o700);
      expect(await prepareCwd(dir, "/var/spool/cwl")).toBe(join(dir.root, "var/spool/cwl"));
      expect(await prepareCwd(dir, ".")).toBe(dir.root);
      expect(existsSync(join(dir.root, "var/spool/cwl"))).toBe(true);
      for (const p of ["../x", "/../../etc", "a/../../b"]) expect(() => dir.inside(p)).toThrow(WorkDirError);
    } finally {
      await dir.remove();
    }
    expect(existsSync(dir.root)).toBe(false);
  });

  it("writes mount files at their paths with mode 0600, never over another file, never outside", async () => {
    const dir = await createWorkDir();
    try {
      const written = await writeMountFiles(dir, [{ path: "/secrets/db/password", content: "s3cret" }]);
      const path = join(dir.root, "secrets/db/password");
      expect(written).toEqual([path]);
      expect(readFileSync(path, "utf8")).toBe("s3cret");
      expect(statSync(path).mode & 0o777).toBe(0o600);
      await expect(writeMountFiles(dir, [{ path: "/secrets/db/password", content: "again" }])).rejects.toThrow(/EEXIST/);
      await expect(writeMountFiles(dir, [{ path: "../../escape", content: "x" }])).rejects.toThrow(WorkDirError);
      await expect(writeMountFiles(dir, [{ path: "/", content: "x" }])).rejects.toThrow(WorkDirError);
      await removeMountFiles(written);
      expect(existsSync(path)).toBe(false);
    } finally {
      await dir.remove();
    }
  });
});

describe("the command's environment", () => {
  it("is a minimal base, then the container's, then the API's variables, which the container cannot override; nothing of the dispatcher's", async () => {
    process.env.D_UNIT_DISPATCHER_ONLY = "not for containers";
    const dir = await createWorkDir();
    try {
      const c = { uuid: "zzzzz-dz642-000000000000001", state: "Locked", priority: 1, command: ["true"], cwd: ".", outputPath: "/out", secretMounts: [],
        environment: { PATH: "/opt/bin", ARVADOS_API_TOKEN: "forged", FEDGATE_URL: "http://elsewhere", MINE: "1" } };
      expect(childEnvironment(c, dir, "http://127.0.0.1:8000", "v2/zzzzz-gj3su-000000000000002/secret/zzzzz-dz642-000000000000001")).toEqual({
        PATH: "/opt/bin", HOME: dir.root, TMPDIR: dir.root, MINE: "1",
        ARVADOS_API_TOKEN: "v2/zzzzz-gj3su-000000000000002/secret/zzzzz-dz642-000000000000001", ARVADOS_API_HOST: "127.0.0.1:8000", FEDGATE_URL: "http://127.0.0.1:8000",
      });
    } finally {
      delete process.env.D_UNIT_DISPATCHER_ONLY;
      await dir.remove();
    }
  });
});

describe("stop reasons while running", () => {
  const me = "zzzzz-gj3su-000000000000001";
  it("carries on only while the container is ours, active and wanted", () => {
    expect(stopReason({ state: "Running", priority: 1, lockedByUuid: me }, me)).toBeUndefined();
    expect(stopReason({ state: "Running", priority: 0, lockedByUuid: me }, me)).toBe("priority 0");
    expect(stopReason({ state: "Cancelled", priority: 0, lockedByUuid: null }, me)).toBe("container cancelled");
    expect(stopReason(null, me)).toBe("container cancelled");
    expect(stopReason({ state: "Running", priority: 5, lockedByUuid: "zzzzz-gj3su-000000000000002" }, me)).toBe("lock lost");
    expect(stopReason({ state: "Queued", priority: 5, lockedByUuid: null }, me)).toBe("lock lost");
  });
});
