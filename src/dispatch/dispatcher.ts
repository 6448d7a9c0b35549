/**
 * `fedgate dispatch`: a local dispatcher. It polls this cluster's Queued containers (highest
 * priority first), locks one while it has room, and runs it (containerRun.ts). Several may run
 * against one cluster: a lock another dispatcher won is a CONFLICT, and the container is
 * skipped. It speaks only GraphQL, as an admin's token of its own (the lock records its uuid).
 */
import { GraphQLResponseError, httpGraphQL, type GraphQLRun } from "../graphqlClient";
import { log } from "../log";
import { ContainerRun } from "./containerRun";
import { heldContainers, lockContainer, queuedPage, setContainer, unlockContainer, type ContainerToRun, type QueuedContainer } from "./operations";

export interface DispatcherOptions {
  /** The server's base URL. */
  url: string;
  token: string;
  pollIntervalMs: number;
  /** Containers run at once. */
  concurrency: number;
  /** Stop taking containers after this many (then finish those running and return). */
  maxContainers?: number;
  stopGraceMs: number;
  workDirBase?: string;
  /** Waiting for a server that refuses connections (it may be starting or restarting). */
  waitMs: number;
  /** Queued containers asked for at once (default QUEUE_PAGE). */
  queuePageSize?: number;
}

/**
 * The queue is read a page at a time in the server's priority order, only as far as there is
 * room to run more (Arvados dispatchers take the whole queue, then sort). The containers this
 * dispatcher's token holds are looked for in pages of QUEUE_PAGE, up to QUEUE_LIMIT.
 */
const QUEUE_PAGE = 1000;
const QUEUE_LIMIT = 10_000;

export class DispatcherError extends Error {}

/** What a dispatcher did, for its last log line. */
export interface DispatchStats {
  locked: number;
  /** Locks another dispatcher (or a change of state) won first. */
  lostRaces: number;
}

export class Dispatcher {
  readonly stats: DispatchStats = { locked: 0, lostRaces: 0 };
  private readonly gql: GraphQLRun;
  private readonly runs = new Map<string, { run: ContainerRun; done: Promise<void> }>();
  private stopping = false;
  private taken = 0;
  private nudge: (() => void) | undefined;

  constructor(private readonly o: DispatcherOptions) {
    this.gql = httpGraphQL(o.url, o.token, { waitMs: o.waitMs });
  }

  /** The uuid of the dispatcher's token, refusing a token that cannot dispatch (not an admin's). */
  private async identify(): Promise<string> {
    const { viewer, currentToken } = await this.gql<{ viewer: { uuid: string; isAdmin: boolean }; currentToken: { uuid: string } }>(
      `{ viewer { uuid isAdmin } currentToken { uuid } }`,
    );
    if (!viewer.isAdmin) throw new DispatcherError(`the dispatcher's token belongs to ${viewer.uuid}, who is not an admin: only an admin's token can lock containers`);
    return currentToken.uuid;
  }

  /** Runs until stop() (or maxContainers taken and finished). */
  async run(): Promise<DispatchStats> {
    const tokenUuid = await this.identify();
    await this.releaseStale(tokenUuid);
    log.info("dispatcher ready", { url: this.o.url, tokenUuid, concurrency: this.o.concurrency });
    let fatal: unknown;
    try {
      while (!this.stopping && !this.allTaken()) {
        if (this.runs.size < this.o.concurrency) await this.takeFromQueue(tokenUuid);
        if (this.stopping || this.allTaken()) break;
        await this.pause();
      }
    } catch (e) {
      fatal = e; // the token can no longer dispatch: what runs is stopped, not left behind
      this.stop();
    }
    await Promise.all([...this.runs.values()].map((r) => r.done));
    log.info("dispatcher stopped", { locked: this.stats.locked, lostRaces: this.stats.lostRaces });
    if (fatal) throw fatal;
    return this.stats;
  }

  /**
   * What this token still holds from an earlier run that ended without letting go (killed):
   * Locked containers are unlocked (to be taken again), Running ones cancelled (their process
   * went with that run, or is an orphan whose token dies now), so none stays stuck. Each
   * dispatcher needs a token of its own for this (two sharing one would cancel each other's).
   */
  private async releaseStale(tokenUuid: string): Promise<void> {
    for (const state of ["Locked", "Running"] as const) {
      for (const uuid of await heldContainers(this.gql, state, tokenUuid, QUEUE_PAGE, QUEUE_LIMIT)) {
        try {
          if (state === "Locked") await unlockContainer(this.gql, uuid);
          else await setContainer(this.gql, uuid, { state: "Cancelled" });
          log.warn("released a container left by an earlier run of this dispatcher", { containerUuid: uuid, was: state });
        } catch (e) {
          log.warn("cannot release a container left by an earlier run", { containerUuid: uuid, error: (e as Error).message });
        }
      }
    }
  }

  /** Stops taking containers and stops those running (cancelled; a locked one not yet started is unlocked). */
  stop(): void {
    if (this.stopping) return;
    this.stopping = true;
    for (const { run } of this.runs.values()) run.abort();
    this.nudge?.();
  }

  private allTaken(): boolean {
    return this.o.maxContainers !== undefined && this.taken >= this.o.maxContainers;
  }

  /** Until the next poll, or sooner when a run ends (there is room again) or stop() is called. */
  private pause(): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, this.o.pollIntervalMs);
      this.nudge = done;
      function done() {
        clearTimeout(t);
        resolve();
      }
    });
  }

  private full(): boolean {
    return this.stopping || this.allTaken() || this.runs.size >= this.o.concurrency;
  }

  /** Locks what it has room for, most wanted first: pages of the queue until full, or the rest has priority 0 (nobody wants it). */
  private async takeFromQueue(tokenUuid: string): Promise<void> {
    let after: string | null = null;
    do {
      let page: { nodes: QueuedContainer[]; next: string | null };
      try {
        page = await queuedPage(this.gql, this.o.queuePageSize ?? QUEUE_PAGE, after);
      } catch (e) {
        log.warn("cannot read the queue", { error: (e as Error).message });
        return;
      }
      for (const q of page.nodes) {
        if (this.full() || q.priority === 0) return;
        if (this.runs.has(q.uuid)) continue;
        const t0 = performance.now();
        const locked = await this.tryLock(q.uuid);
        if (locked) this.begin(locked, tokenUuid, performance.now() - t0);
      }
      after = page.next;
    } while (after && !this.full());
  }

  /** The container, locked by us; undefined when another dispatcher got it first (or it changed meanwhile). */
  private async tryLock(uuid: string): Promise<ContainerToRun | undefined> {
    try {
      const c = await lockContainer(this.gql, uuid);
      this.stats.locked++;
      return c;
    } catch (e) {
      if (e instanceof GraphQLResponseError && e.code === "CONFLICT") {
        this.stats.lostRaces++;
        log.debug("container taken by another dispatcher (or changed)", { containerUuid: uuid });
        return undefined;
      }
      if (e instanceof GraphQLResponseError && (e.code === "FORBIDDEN" || e.code === "UNAUTHENTICATED")) throw new DispatcherError(`cannot lock containers: ${e.message}`);
      log.warn("cannot lock the container", { containerUuid: uuid, error: (e as Error).message });
      return undefined;
    }
  }

  /** `lockMs`: the lockContainer round trip, logged (bench/containers.ts reads it). */
  private begin(c: ContainerToRun, tokenUuid: string, lockMs: number): void {
    this.taken++;
    log.info("container locked", { containerUuid: c.uuid, priority: c.priority, lockMs: Math.round(lockMs * 10) / 10 });
    const run = new ContainerRun(c, {
      url: this.o.url, gql: this.gql, tokenUuid, pollIntervalMs: this.o.pollIntervalMs, stopGraceMs: this.o.stopGraceMs,
      workDirBase: this.o.workDirBase, finishWaitMs: this.o.waitMs,
    });
    const done = run.run().finally(() => {
      this.runs.delete(c.uuid);
      this.nudge?.();
    });
    this.runs.set(c.uuid, { run, done });
    if (this.stopping) run.abort();
  }
}
