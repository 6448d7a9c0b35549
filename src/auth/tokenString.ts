/**
 * The Arvados v2 token wire format: `v2/<token uuid>/<secret>[/<container uuid>]`.
 */
import { INFIX, UUID_RE, randomChars } from "../ids";

export interface ParsedToken {
  uuid: string;
  secret: string;
  /** Present on tokens handed to a container: the container they are bound to. */
  containerUuid?: string;
}

/** Length of issued secrets (as Arvados). Never 40: 40 hex characters marks a salted secret. */
export const SECRET_LENGTH = 50;
const SALTED_SECRET_RE = /^[0-9a-f]{40}$/;
const SECRET_RE = /^[a-zA-Z0-9]{20,200}$/;

export function newSecret(): string {
  return randomChars(SECRET_LENGTH);
}

export function formatToken(t: ParsedToken): string {
  return `v2/${t.uuid}/${t.secret}${t.containerUuid ? `/${t.containerUuid}` : ""}`;
}

/** Parses a v2 token; undefined when the string is not one (callers decide the error). */
export function parseToken(token: string): ParsedToken | undefined {
  const parts = token.split("/");
  if (parts.length < 3 || parts.length > 4 || parts[0] !== "v2") return undefined;
  const [, uuid, secret, containerUuid] = parts;
  const m = UUID_RE.exec(uuid);
  if (!m || m[2] !== INFIX.token || !SECRET_RE.test(secret)) return undefined;
  if (containerUuid !== undefined) {
    const c = UUID_RE.exec(containerUuid);
    if (!c || c[2] !== INFIX.container) return undefined;
  }
  return { uuid, secret, containerUuid };
}

export function isSaltedSecret(secret: string): boolean {
  return secret.length === 40 && SALTED_SECRET_RE.test(secret);
}
