/** Permission levels, ordered: can_read < can_write < can_manage. Stored as 1..3 in the closure. */
export const LEVELS = ["can_read", "can_write", "can_manage"] as const;
export type PermissionLevel = (typeof LEVELS)[number];

export function levelRank(level: PermissionLevel): 1 | 2 | 3 {
  return (LEVELS.indexOf(level) + 1) as 1 | 2 | 3;
}

export function levelFromRank(rank: number): PermissionLevel {
  return LEVELS[rank - 1];
}

export function isPermissionLevel(s: string): s is PermissionLevel {
  return (LEVELS as readonly string[]).includes(s);
}
