/**
 * The Arvados v2 token wire format: `v2/<token uuid>/<secret>[/<container uuid>]`. Fields
 * after the secret are ignored unless the 4th is a container uuid (a binding), as Arvados
 * ignores them so that older servers accept future formats.
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
  const [prefix, uuid, secret, fourth] = token.split("/", 4);
  if (prefix !== "v2" || uuid === undefined || secret === undefined) return undefined;
  if (UUID_RE.exec(uuid)?.[2] !== INFIX.token || !SECRET_RE.test(secret)) return undefined;
  return { uuid, secret, containerUuid: isContainerUuid(fourth) ? fourth : undefined };
}

function isContainerUuid(field: string | undefined): field is string {
  return field !== undefined && UUID_RE.exec(field)?.[2] === INFIX.container;
}

export function isSaltedSecret(secret: string): boolean {
  return secret.length === 40 && SALTED_SECRET_RE.test(secret);
}
