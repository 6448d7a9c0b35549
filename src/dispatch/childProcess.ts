/**
 * A container's command as a child process: no shell (the command is an argv, as in a
 * container), its own process group (so stopping it stops what it started too), stdout and
 * stderr kept up to a bound each (the end of the stream, where errors are).
 */
import { spawn } from "node:child_process";
import { constants } from "node:os";
import { storableText, type RunFile } from "./runCollections";

/** Bytes of each stream kept: the log collection must fit in one request (1 MiB) with JSON escaping. */
export const MAX_STREAM_BYTES = 128 << 10;

/** How the command ended: an exit code, or the signal that ended it. */
export type ExitStatus = { exitCode: number; signal: null } | { exitCode: null; signal: NodeJS.Signals };

/** The last `limit` bytes written to a stream, and how many came before them. */
class Tail {
  private chunks: Buffer[] = [];
  private kept = 0;
  dropped = 0;
  constructor(private readonly limit: number) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.kept += chunk.length;
    while (this.kept > this.limit) {
      const excess = this.kept - this.limit;
      const first = this.chunks[0];
      if (first.length <= excess) {
        this.chunks.shift();
        this.kept -= first.length;
        this.dropped += first.length;
      } else {
        this.chunks[0] = first.subarray(excess);
        this.kept -= excess;
        this.dropped += excess;
      }
    }
  }

  text(): string {
    return storableText(Buffer.concat(this.chunks));
  }
}

export interface ChildSpec {
  command: readonly string[];
  cwd: string;
  env: Record<string, string>;
}

export interface RunningChild {
  pid: number | undefined;
  /** Settles once the process has exited and its streams are drained. */
  exited: Promise<ExitStatus>;
  /** SIGTERM to its process group, SIGKILL after `graceMs` if it is still there. */
  stop(graceMs: number): Promise<ExitStatus>;
  /** stdout.txt and stderr.txt as kept so far. */
  logFiles(): RunFile[];
}

/** What a shell reports for a command it cannot start: 127 not found, 126 not executable. */
function startFailureCode(e: NodeJS.ErrnoException): number {
  return e.code === "ENOENT" ? 127 : 126;
}

export function startChild(spec: ChildSpec, maxStreamBytes = MAX_STREAM_BYTES): RunningChild {
  const out = new Tail(maxStreamBytes);
  const err = new Tail(maxStreamBytes);
  const child = spawn(spec.command[0], spec.command.slice(1), {
    cwd: spec.cwd,
    env: spec.env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // its own process group: stop() reaches its children too
    shell: false,
  });
  child.stdout.on("data", (c: Buffer) => out.push(c));
  child.stderr.on("data", (c: Buffer) => err.push(c));
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once("error", (e: NodeJS.ErrnoException) => {
      // Not started (no such program, not executable): said on stderr, as a shell would.
      if (child.pid !== undefined) return;
      err.push(Buffer.from(`cannot run ${JSON.stringify(spec.command[0])}: ${e.code ?? e.message}\n`));
      resolve({ exitCode: startFailureCode(e), signal: null });
    });
    // As in a container, the run ends with its first process: what it left behind is killed,
    // so the streams close (a background child holding them open would keep the run alive).
    child.once("exit", () => signalGroup("SIGKILL"));
    child.once("close", (code, signal) => resolve(signal ? { exitCode: null, signal } : { exitCode: code ?? 0, signal: null }));
  });
  function signalGroup(signal: NodeJS.Signals): void {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // Already gone.
    }
  }
  return {
    pid: child.pid,
    exited,
    async stop(graceMs) {
      signalGroup("SIGTERM");
      const timer = setTimeout(() => signalGroup("SIGKILL"), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
    logFiles: () => [
      { path: "stdout.txt", text: out.text(), droppedBytes: out.dropped },
      { path: "stderr.txt", text: err.text(), droppedBytes: err.dropped },
    ],
  };
}

/** Shell convention for a status in one number (for messages): 128 + the signal's number. */
export function statusText(s: ExitStatus): string {
  return s.signal ? `killed by ${s.signal} (${128 + (constants.signals[s.signal] ?? 0)})` : `exit code ${s.exitCode}`;
}
