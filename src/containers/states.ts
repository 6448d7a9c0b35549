/**
 * The life cycles of containers and container requests (Arvados' container.rb and
 * container_request.rb): which state may follow which, and which request fields may still
 * change in each state. Anything else is a CONFLICT naming the current state.
 */
import type { ContainerRequestFields, ContainerRequestState, ContainerState } from "../api/types";
import { conflict } from "../errors";

export const CONTAINER_STATES: readonly ContainerState[] = ["Queued", "Locked", "Running", "Complete", "Cancelled"];
export const REQUEST_STATES: readonly ContainerRequestState[] = ["Uncommitted", "Committed", "Final"];

const CONTAINER_NEXT: Record<ContainerState, readonly ContainerState[]> = {
  Queued: ["Locked", "Cancelled"],
  Locked: ["Queued", "Running", "Cancelled"],
  Running: ["Complete", "Cancelled"],
  Complete: [],
  Cancelled: [],
};

const REQUEST_NEXT: Record<ContainerRequestState, readonly ContainerRequestState[]> = {
  Uncommitted: ["Committed"],
  Committed: ["Final"],
  Final: [],
};

/** A container holding a lock: its token works, and only its dispatcher or itself changes it. */
export function isActive(state: ContainerState): boolean {
  return state === "Locked" || state === "Running";
}

export function isFinal(state: ContainerState): boolean {
  return state === "Complete" || state === "Cancelled";
}

export function requireContainerTransition(uuid: string, from: ContainerState, to: ContainerState): void {
  if (!CONTAINER_NEXT[from].includes(to)) throw conflict(`container "${uuid}" is ${from}: it cannot become ${to}`);
}

export function requireRequestTransition(uuid: string, from: ContainerRequestState, to: ContainerRequestState): void {
  if (!REQUEST_NEXT[from].includes(to)) throw conflict(`container request "${uuid}" is ${from}: it cannot become ${to}`);
}

type RequestField = keyof ContainerRequestFields;

/** What may change once committed (Arvados: priority and bookkeeping, not what runs); the state follows its own rules. */
const AFTER_COMMIT: ReadonlySet<RequestField> = new Set(["priority", "containerCountMax", "name", "description", "properties"]);
const WHEN_FINAL: ReadonlySet<RequestField> = new Set(["name", "description", "properties"]);

/** Refuses a change to a field frozen in `state` (`changed`: the fields whose value differs, the state aside). */
export function requireMutable(uuid: string, state: ContainerRequestState, changed: RequestField[]): void {
  if (state === "Uncommitted") return;
  const allowed = state === "Committed" ? AFTER_COMMIT : WHEN_FINAL;
  const frozen = changed.filter((f) => !allowed.has(f));
  if (frozen.length) throw conflict(`container request "${uuid}" is ${state}: ${frozen.join(", ")} can no longer change`);
}
