/**
 * Who is asking, and with what authority here: the result of authentication, trusted by every
 * layer below it.
 */
import type { GroupLevel, TokenRecord, UserRecord } from "../api/types";
import { levelRank } from "../permissions/levels";
import type { TokenAuthority } from "./authority";
import type { ScopeSet } from "./scopes";

export interface Principal {
  user: UserRecord;
  /** The request bears the cluster's systemRootToken. */
  isRoot: boolean;
  /** The token used (null for the root token). */
  token: (TokenRecord & TokenAuthority) | null;
  /** Scope sets in force on this cluster; every one must allow a request. */
  scopeSets: ScopeSet[];
  /**
   * Set on the home cluster when the token was presented salted for another cluster: it may
   * only make identity and federation look-ups (fields marked `identity`).
   */
  saltedFor?: string;
  /**
   * For a user from another cluster: the role groups its home cluster says it is in, with its
   * level in each. Links here from those groups count for it, up to that level.
   */
  homeGroups?: GroupLevel[];
}

/** A request's caller, as passed to every ClusterApi method. */
export interface Caller {
  principal: Principal;
  /** The token as presented: only ever sent on salted for a remote cluster. Never logged. */
  token?: string;
  /** Set when another cluster delegated this request: it is never forwarded again. */
  forwardedFrom?: string;
}

export function isAdmin(p: Principal): boolean {
  return p.isRoot || p.user.isAdmin;
}

/** The uuids whose permissions a principal holds: its user's, and its home groups'. */
export function subjectsOf(p: Principal): string[] {
  return p.homeGroups?.length ? [p.user.uuid, ...p.homeGroups.map((g) => g.uuid)] : [p.user.uuid];
}

/** Its highest level through each of `subjectsOf`: all its own, and its level in each home group. */
export function subjectCapsOf(p: Principal): number[] {
  return [3, ...(p.homeGroups ?? []).map((g) => levelRank(g.level))];
}
