/**
 * One locked container, run to its end: its own token fetched (containerAuth), Running set with
 * it, the command started in a fresh working directory, watched (its priority dropping to 0, the
 * container cancelled or its lock lost elsewhere stop it: SIGTERM, then SIGKILL), its stdout and
 * stderr saved in a log collection created with its token, and the end recorded: exit code and
 * Complete, or Cancelled when the process was killed or stopped. Tokens appear in no log line:
 * the container's lives only in the child's environment and this run's client.
 */
import { GraphQLResponseError, httpGraphQL, type GraphQLRun } from "../graphqlClient";
import { log } from "../log";
import { startChild, statusText, type ExitStatus, type RunningChild } from "./childProcess";
import { mountFiles } from "./mountFiles";
import {
  containerStatus, containerToken, createRunCollection, setContainer, unlockContainer, type ContainerStatus, type ContainerToRun,
} from "./operations";
import { readOutputFiles } from "./outputFiles";
import { runCollection } from "./runCollections";
import { createWorkDir, prepareCwd, removeMountFiles, writeMountFiles, type WorkDir } from "./workDir";

export interface RunSettings {
  /** The server's base URL (the container gets it as FEDGATE_URL, its host as ARVADOS_API_HOST). */
  url: string;
  /** As the dispatcher. */
  gql: GraphQLRun;
  /** The uuid of the dispatcher's token: the lock it holds names it. */
  tokenUuid: string;
  pollIntervalMs: number;
  /** SIGTERM to SIGKILL. */
  stopGraceMs: number;
  workDirBase?: string;
  /** Waiting for a server that refuses connections, on the calls that record the end. */
  finishWaitMs: number;
}

/** Why the dispatcher stops a process it started. */
type StopReason = "priority 0" | "container cancelled" | "lock lost" | "dispatcher shutting down";

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
  });

/** Why a run must stop, from the container's status as the dispatcher sees it; undefined: carry on. */
export function stopReason(s: ContainerStatus | null, tokenUuid: string): StopReason | undefined {
  if (!s || s.state === "Cancelled" || s.state === "Complete") return "container cancelled";
  if (s.lockedByUuid !== tokenUuid || (s.state !== "Locked" && s.state !== "Running")) return "lock lost";
  if (s.priority === 0) return "priority 0";
  return undefined;
}

/** The environment of the command: a minimal base, the container's own, then what the API gives it (not overridable). */
export function childEnvironment(c: ContainerToRun, dir: WorkDir, url: string, token: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: dir.root,
    TMPDIR: dir.root,
    ...c.environment,
    ARVADOS_API_HOST: new URL(url).host,
    ARVADOS_API_TOKEN: token,
    FEDGATE_URL: url,
  };
}

export class ContainerRun {
  /** Aborted when the run must stop or its process has exited: wakes the watch. */
  private readonly wake = new AbortController();
  private stopping: StopReason | undefined;
  private child: RunningChild | undefined;
  /** The secret files written for the command: removed as soon as it exits. */
  private mounted: string[] = [];

  constructor(
    readonly container: ContainerToRun,
    private readonly s: RunSettings,
  ) {}

  /** Stops the run as the dispatcher goes away (its process, then the container cancelled; unlocked if it had not started). */
  abort(): void {
    this.stop("dispatcher shutting down");
  }

  private stop(reason: StopReason): void {
    if (this.stopping) return;
    this.stopping = reason;
    this.wake.abort();
    if (this.child) void this.child.stop(this.s.stopGraceMs);
  }

  /** Never throws: whatever happens is logged and recorded on the container as far as the server lets it. */
  async run(): Promise<void> {
    const uuid = this.container.uuid;
    let dir: WorkDir | undefined;
    try {
      const token = await containerToken(this.s.gql, uuid);
      if (this.stopping) return await this.release();
      const asContainer = httpGraphQL(this.s.url, token, { waitMs: this.s.finishWaitMs });
      await setContainer(asContainer, uuid, { state: "Running" });
      dir = await createWorkDir(this.s.workDirBase);
      const started = await this.start(dir, asContainer, token);
      if (!started) return;
      const status = await this.watch(started);
      await removeMountFiles(this.mounted);
      await this.finish(asContainer, dir, started, status);
    } catch (e) {
      await this.failed(e);
    } finally {
      await dir?.remove().catch((e: Error) => log.warn("cannot remove a working directory", { containerUuid: uuid, path: dir?.root, error: e.message }));
    }
  }

  /** The command started in its directory, or undefined when it cannot be (the container is cancelled, saying why). */
  private async start(dir: WorkDir, asContainer: GraphQLRun, token: string): Promise<RunningChild | undefined> {
    const c = this.container;
    let cwd: string;
    try {
      cwd = await prepareCwd(dir, c.cwd);
      this.mounted = await writeMountFiles(dir, await mountFiles(asContainer, c));
    } catch (e) {
      await this.cancel(asContainer, `cannot prepare the working directory: ${(e as Error).message}`);
      return undefined;
    }
    if (this.stopping) {
      await this.cancel(asContainer, `stopped: ${this.stopping}`);
      return undefined;
    }
    this.child = startChild({ command: c.command, cwd, env: childEnvironment(c, dir, this.s.url, token) });
    log.info("container running", { containerUuid: c.uuid, pid: this.child.pid });
    return this.child;
  }

  /** Waits for the process, checking every poll interval that the container still wants it. */
  private async watch(child: RunningChild): Promise<ExitStatus> {
    let exited: ExitStatus | undefined;
    void child.exited.then((s) => {
      exited = s;
      this.wake.abort(); // wakes the watch at once
    });
    while (!exited && !this.stopping) {
      await sleep(this.s.pollIntervalMs, this.wake.signal);
      if (exited || this.stopping) break;
      try {
        const reason = stopReason(await containerStatus(this.s.gql, this.container.uuid), this.s.tokenUuid);
        if (reason) this.stop(reason);
      } catch (e) {
        log.warn("cannot check the container; it keeps running", { containerUuid: this.container.uuid, error: (e as Error).message });
      }
    }
    return child.exited;
  }

  /** The log collection, then the end: Complete with the exit code and output, or Cancelled (killed, or stopped here). */
  private async finish(asContainer: GraphQLRun, dir: WorkDir, child: RunningChild, status: ExitStatus): Promise<void> {
    const uuid = this.container.uuid;
    // Cancelled elsewhere or no longer ours: its token is dead, nothing more to record.
    if (this.stopping === "container cancelled" || this.stopping === "lock lost") {
      log.info("container stopped", { containerUuid: uuid, reason: this.stopping, status: statusText(status) });
      return;
    }
    const logUuid = await this.saveLog(asContainer, child);
    if (this.stopping) return this.cancel(asContainer, `stopped: ${this.stopping}`, logUuid);
    if (status.signal) return this.cancel(asContainer, `the process was ${statusText(status)}`, logUuid);
    const output = await this.saveOutput(asContainer, dir);
    await setContainer(asContainer, uuid, {
      exitCode: status.exitCode, state: "Complete", log: logUuid,
      ...("error" in output ? { runtimeStatus: { error: output.error } } : { output: output.portableDataHash }),
    });
    log.info("container complete", { containerUuid: uuid, exitCode: status.exitCode });
  }

  /** The log collection's uuid; undefined when it could not be saved (the end is still recorded). */
  private async saveLog(asContainer: GraphQLRun, child: RunningChild): Promise<string | undefined> {
    const uuid = this.container.uuid;
    try {
      const logUuid = await createRunCollection(asContainer, runCollection("log", uuid, child.logFiles()));
      log.info("container log saved", { containerUuid: uuid, collectionUuid: logUuid });
      return logUuid;
    } catch (e) {
      log.warn("cannot save the container's log", { containerUuid: uuid, error: (e as Error).message });
      return undefined;
    }
  }

  /**
   * The output collection (the files under outputPath; an empty one when there are none, as
   * Arvados makes), whose portable data hash is the container's output: what reuse of a
   * Complete container looks for. An output that cannot be saved is an error, not an empty output.
   */
  private async saveOutput(asContainer: GraphQLRun, dir: WorkDir): Promise<{ portableDataHash: string } | { error: string }> {
    const uuid = this.container.uuid;
    try {
      const collection = runCollection("output", uuid, await readOutputFiles(dir.inside(this.container.outputPath)));
      const outputUuid = await createRunCollection(asContainer, collection);
      log.info("container output saved", { containerUuid: uuid, collectionUuid: outputUuid });
      return { portableDataHash: collection.portableDataHash };
    } catch (e) {
      log.warn("cannot save the container's output", { containerUuid: uuid, error: (e as Error).message });
      return { error: `output not saved: ${(e as Error).message}` };
    }
  }

  /** Cancelled, with runtimeStatus.error saying why: with the container's token, else (the dispatcher's) the state alone. */
  private async cancel(asContainer: GraphQLRun, why: string, logUuid?: string): Promise<void> {
    const uuid = this.container.uuid;
    try {
      await setContainer(asContainer, uuid, { state: "Cancelled", runtimeStatus: { error: why }, log: logUuid });
    } catch {
      await setContainer(this.s.gql, uuid, { state: "Cancelled" });
    }
    log.info("container cancelled", { containerUuid: uuid, reason: why });
  }

  /** Stopped before anything ran: the lock goes back, so another dispatcher can take it. */
  private async release(): Promise<void> {
    await unlockContainer(this.s.gql, this.container.uuid);
    log.info("container unlocked", { containerUuid: this.container.uuid, reason: this.stopping });
  }

  private async failed(e: unknown): Promise<void> {
    const uuid = this.container.uuid;
    const code = e instanceof GraphQLResponseError ? e.code : undefined;
    log.warn("container run failed", { containerUuid: uuid, code, error: (e as Error).message });
    if (this.child) await this.child.stop(this.s.stopGraceMs);
    // Still holding it before anything ran (a refused Running, an unreachable server): give it back.
    try {
      const s = await containerStatus(this.s.gql, uuid);
      if (s?.state === "Locked" && s.lockedByUuid === this.s.tokenUuid) await unlockContainer(this.s.gql, uuid);
      else if (s?.state === "Running" && s.lockedByUuid === this.s.tokenUuid) await setContainer(this.s.gql, uuid, { state: "Cancelled" });
    } catch (e2) {
      log.warn("cannot release the container", { containerUuid: uuid, error: (e2 as Error).message });
    }
  }
}
