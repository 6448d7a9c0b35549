/**
 * A Vault-compatible read API under /v1/, so that standard Vault clients work unchanged (from
 * inside a container, say): KV v2 reads of a secret by uuid (`?version=N`, response wrapping
 * through `X-Vault-Wrap-TTL`), `auth/token/lookup-self`, and `sys/wrapping/unwrap` and
 * `/lookup`. The fedgate token comes in `X-Vault-Token` (or `Authorization: Bearer`).
 *
 * Each Vault request is translated into one fixed GraphQL operation run in process with the
 * context /graphql would build for that token, so permissions, scopes (a KV read is checked as
 * `GET /arvados/v1/secrets/{uuid}/value`, a wrapped one as `POST …/{uuid}/wrap`), federation,
 * audit, cost and the request log are exactly those of the GraphQL fields: nothing is decided
 * here but the translation. Errors take Vault's shape (`{"errors": [...]}`, 403, 404, 400).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { HeaderMap, type ApolloServer } from "@apollo/server";
import { GraphQLError } from "graphql";
import { ErrorCode, codeOf } from "../errors";
import type { RequestContext } from "../graphql/context";
import { wrappingTokenCluster } from "../secrets/wrappingToken";
import { parseTtlSeconds } from "./duration";
import { KV_MOUNT, kvRead, tokenLookup, vaultErrors, wrapLookup, wrapped, type TokenInfo, type VersionValue } from "./shapes";

export interface VaultApiDeps {
  apollo: ApolloServer<RequestContext>;
  /** The context /graphql builds from request headers (authentication happens there). */
  context(headers: HeaderMap): Promise<RequestContext>;
  /** The request body, bounded; throws when it is too large. */
  readBody(req: IncomingMessage): Promise<string>;
}

interface Answer {
  status: number;
  body: unknown;
  /** Close the connection after it (the rest of an oversized body is not read). */
  close?: boolean;
}

/** What a failed operation tells the client: its code and message (never a secret: see errors.ts). */
interface Failure {
  code: string;
  message: string;
}
type Outcome<T> = { ok: true; data: T } | { ok: false; failure: Failure };

const KV_DATA_PREFIX = `/v1/${KV_MOUNT}/data/`;
/** Vault's one message for a used, expired or unknown wrapping token (answered with 400, as Vault does). */
const BAD_WRAPPING_TOKEN = "wrapping token is not valid or does not exist";

const VERSION_FIELDS = "uuid version value createdAt";
const OPERATIONS = {
  read: `query VaultKvRead($uuid: ID!, $version: Int) { secretValue(uuid: $uuid, version: $version) { ${VERSION_FIELDS} } }`,
  wrap: `mutation VaultKvWrap($uuid: ID!, $version: Int, $ttl: Int!) { wrapSecret(uuid: $uuid, version: $version, ttlSeconds: $ttl) { token expiresAt } }`,
  unwrap: `mutation VaultUnwrap($token: String!) { unwrapSecret(token: $token) { ${VERSION_FIELDS} } }`,
  lookup: `query VaultWrapLookup($token: String!) { wrappingInfo(token: $token) { secretUuid createdAt expiresAt unwrapped } }`,
  lookupSelf: `query VaultLookupSelf { currentToken { uuid userUuid scopes { method path } clusterScopes expiresAt createdAt } }`,
} as const;

const answer = (status: number, body: unknown): Answer => ({ status, body });
const badRequest = (message: string) => answer(400, vaultErrors([message]));

/** The HTTP status and Vault message for a failed operation. */
function refusal(f: Failure, wrapping = false): Answer {
  if (wrapping && f.code === ErrorCode.NOT_FOUND) return badRequest(BAD_WRAPPING_TOKEN);
  switch (f.code) {
    case ErrorCode.UNAUTHENTICATED:
    case ErrorCode.FORBIDDEN:
      return answer(403, vaultErrors(["permission denied", f.message]));
    case ErrorCode.NOT_FOUND:
      return answer(404, vaultErrors([]));
    case ErrorCode.BAD_USER_INPUT:
    case ErrorCode.QUERY_TOO_COMPLEX:
    case ErrorCode.CONFLICT:
      return badRequest(f.message);
    case ErrorCode.UNAVAILABLE:
      return answer(503, vaultErrors([f.message]));
    default:
      return answer(500, vaultErrors(["internal error"]));
  }
}

/** The client token: `X-Vault-Token`, else `Authorization: Bearer`/`OAuth2` (checked by the context). */
type Credential = { token?: string; authorization?: string };

function clientToken(req: IncomingMessage): Credential {
  const header = req.headers["x-vault-token"];
  const vaultToken = Array.isArray(header) ? header[0] : header;
  if (vaultToken) return { token: vaultToken.trim() };
  return { authorization: req.headers.authorization };
}

const isWrappingToken = (t: string | undefined): t is string => t !== undefined && wrappingTokenCluster(t) !== undefined;

export function vaultApi(deps: VaultApiDeps) {
  /** Runs one operation as the holder of `credential` would over /graphql: its data, or why not. */
  async function run<T>(credential: Credential, query: string, variables: Record<string, unknown>): Promise<Outcome<T>> {
    const headers = new HeaderMap();
    const authorization = credential.token ? `Bearer ${credential.token}` : credential.authorization;
    if (authorization) headers.set("authorization", authorization);
    let contextValue: RequestContext;
    try {
      contextValue = await deps.context(headers);
    } catch (e) {
      if (e instanceof GraphQLError) return { ok: false, failure: { code: codeOf(e) ?? ErrorCode.INTERNAL, message: e.message } };
      throw e;
    }
    const response = await deps.apollo.executeOperation<T>({ query, variables }, { contextValue });
    if (response.body.kind !== "single") return { ok: false, failure: { code: ErrorCode.INTERNAL, message: "internal error" } };
    const { data, errors } = response.body.singleResult;
    if (errors?.length) return { ok: false, failure: { code: String(errors[0].extensions?.code ?? ErrorCode.INTERNAL), message: errors[0].message } };
    return { ok: true, data: data as T };
  }

  async function readKv(req: IncomingMessage, url: URL): Promise<Answer> {
    const uuid = url.pathname.slice(KV_DATA_PREFIX.length);
    const versions = url.searchParams.getAll("version");
    if (versions.length > 1 || (versions.length === 1 && !/^\d{1,9}$/.test(versions[0]))) return badRequest("version: must be one whole number");
    const version = versions.length && Number(versions[0]) > 0 ? Number(versions[0]) : null; // 0: the latest, as in Vault
    const credential = clientToken(req);
    const ttlHeader = req.headers["x-vault-wrap-ttl"];
    if (ttlHeader !== undefined) {
      const ttl = parseTtlSeconds(Array.isArray(ttlHeader) ? ttlHeader.join(",") : ttlHeader);
      if (ttl === undefined) return badRequest("X-Vault-Wrap-TTL: must be whole seconds or a duration such as 90s, 5m, 1h");
      const r = await run<{ wrapSecret: { token: string; expiresAt: string } }>(credential, OPERATIONS.wrap, { uuid, version, ttl });
      return r.ok ? answer(200, wrapped(r.data.wrapSecret, uuid, ttl)) : refusal(r.failure);
    }
    const r = await run<{ secretValue: VersionValue }>(credential, OPERATIONS.read, { uuid, version });
    return r.ok ? answer(200, kvRead(r.data.secretValue)) : refusal(r.failure);
  }

  async function lookupSelf(req: IncomingMessage): Promise<Answer> {
    const r = await run<{ currentToken: TokenInfo }>(clientToken(req), OPERATIONS.lookupSelf, {});
    return r.ok ? answer(200, tokenLookup(r.data.currentToken)) : refusal(r.failure);
  }

  /** The wrapping token named in the body's `token`, else (Vault's other form) given as the client token. */
  async function wrappingRequest(req: IncomingMessage): Promise<{ wrappingToken: string; caller: Credential } | Answer> {
    let text: string;
    try {
      text = await deps.readBody(req);
    } catch {
      return { ...badRequest("request body too large"), close: true };
    }
    let body: unknown = {};
    if (text.trim()) {
      try {
        body = JSON.parse(text);
      } catch {
        return badRequest("failed to parse JSON input");
      }
    }
    const named = (body as { token?: unknown } | null)?.token;
    if (named !== undefined && named !== "" && typeof named !== "string") return badRequest("token: must be a string");
    const credential = clientToken(req);
    if (typeof named === "string" && named) {
      // The client token, if it is one, only says who unwraps (for the audit).
      return { wrappingToken: named, caller: isWrappingToken(credential.token) ? {} : credential };
    }
    if (credential.token) return { wrappingToken: credential.token, caller: {} };
    return badRequest("token: the wrapping token is required (in the body or as X-Vault-Token)");
  }

  async function unwrap(req: IncomingMessage): Promise<Answer> {
    const w = await wrappingRequest(req);
    if ("status" in w) return w;
    const r = await run<{ unwrapSecret: VersionValue }>(w.caller, OPERATIONS.unwrap, { token: w.wrappingToken });
    return r.ok ? answer(200, kvRead(r.data.unwrapSecret)) : refusal(r.failure, true);
  }

  async function lookup(req: IncomingMessage): Promise<Answer> {
    const w = await wrappingRequest(req);
    if ("status" in w) return w;
    const r = await run<{ wrappingInfo: { secretUuid: string; createdAt: string; expiresAt: string; unwrapped: boolean } }>(w.caller, OPERATIONS.lookup, { token: w.wrappingToken });
    if (!r.ok) return refusal(r.failure, true);
    const info = r.data.wrappingInfo;
    // Vault forgets a token once it is used or expired: so does its look-up here.
    if (info.unwrapped || new Date(info.expiresAt).getTime() <= Date.now()) return badRequest(BAD_WRAPPING_TOKEN);
    return answer(200, wrapLookup(info));
  }

  const ROUTES: { match(path: string): boolean; methods: string[]; wraps: boolean; handle(req: IncomingMessage, url: URL): Promise<Answer> }[] = [
    { match: (p) => p.startsWith(KV_DATA_PREFIX), methods: ["GET"], wraps: true, handle: readKv },
    { match: (p) => p === "/v1/auth/token/lookup-self", methods: ["GET"], wraps: false, handle: lookupSelf },
    // Vault's CLI writes with PUT, its API documents POST: both are a write.
    { match: (p) => p === "/v1/sys/wrapping/unwrap", methods: ["POST", "PUT"], wraps: false, handle: unwrap },
    { match: (p) => p === "/v1/sys/wrapping/lookup", methods: ["POST", "PUT"], wraps: false, handle: lookup },
  ];

  async function route(req: IncomingMessage, url: URL): Promise<Answer> {
    const r = ROUTES.find((x) => x.match(url.pathname));
    if (!r) return answer(404, vaultErrors(["no handler for route"]));
    if (!r.methods.includes(req.method ?? "")) return answer(405, vaultErrors(["unsupported operation"]));
    if (!r.wraps && req.headers["x-vault-wrap-ttl"] !== undefined) return badRequest("response wrapping is offered for secret reads only");
    return r.handle(req, url);
  }

  return async function handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const a = await route(req, url);
    // Secrets pass through here: no cache may keep an answer.
    res.writeHead(a.status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", ...(a.close ? { connection: "close" } : {}) });
    res.end(JSON.stringify(a.body));
  };
}
