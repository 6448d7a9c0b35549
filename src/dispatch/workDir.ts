/**
 * A container run's fresh working directory. There is no container runtime, so the directory
 * stands in for the container's file system: the container's paths (its cwd, mounted files),
 * absolute or relative, are placed inside it, and none may lead out of it. Removed after the run.
 */
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve, sep } from "node:path";

/** A file a run needs in place before its command starts (a secret mount's value). */
export interface MountFile {
  path: string;
  content: string;
}

export class WorkDirError extends Error {}

export interface WorkDir {
  root: string;
  /** The container's path `p` inside the directory; WorkDirError when it would lead out. */
  inside(p: string): string;
  remove(): Promise<void>;
}

export async function createWorkDir(base = tmpdir()): Promise<WorkDir> {
  const root = await mkdtemp(join(base, "fedgate-run-"));
  await chmod(root, 0o700); // other users of the machine read nothing of a run
  return {
    root,
    inside(p) {
      const target = resolve(root, `.${sep}${p}`);
      if (target !== root && !target.startsWith(root + sep)) throw new WorkDirError(`path ${JSON.stringify(p)} leads out of the working directory`);
      return target;
    },
    remove: () => rm(root, { recursive: true, force: true }),
  };
}

/** The container's cwd inside the directory, made if missing. */
export async function prepareCwd(dir: WorkDir, cwd: string): Promise<string> {
  const path = dir.inside(cwd);
  await mkdir(path, { recursive: true, mode: 0o700 });
  return path;
}

/**
 * Writes each file at its path inside the directory, readable by this user only (0600), never
 * over an existing file; returns where they are, for `removeMountFiles` once the command exits.
 */
export async function writeMountFiles(dir: WorkDir, files: readonly MountFile[]): Promise<string[]> {
  const written: string[] = [];
  for (const f of files) {
    const path = dir.inside(f.path);
    if (path === dir.root) throw new WorkDirError(`path ${JSON.stringify(f.path)} is the working directory itself, not a file`);
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await writeFile(path, f.content, { mode: 0o600, flag: "wx" });
    written.push(path);
  }
  return written;
}

/** Removes the files `writeMountFiles` wrote (whatever the command did with them). */
export async function removeMountFiles(paths: readonly string[]): Promise<void> {
  await Promise.all(paths.map((p) => rm(p, { force: true, recursive: true })));
}
