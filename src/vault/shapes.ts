/**
 * The JSON bodies of Vault's HTTP API (website/content/api-docs in hashicorp/vault) that the
 * compatible API answers, built from fedgate's records. Each answer is Vault's logical
 * response envelope; only `data`, `wrap_info` or `errors` carry anything.
 */
import { randomUUID } from "node:crypto";

/** The mount the compatible API answers for: KV version 2 at `secret/`. */
export const KV_MOUNT = "secret";

/** A secret version as the GraphQL operations below return it. */
export interface VersionValue {
  uuid: string;
  version: number;
  value: string;
  createdAt: string;
}

function envelope(fields: { data?: unknown; wrap_info?: unknown }) {
  return {
    request_id: randomUUID(),
    lease_id: "",
    renewable: false,
    lease_duration: 0,
    data: fields.data ?? null,
    wrap_info: fields.wrap_info ?? null,
    warnings: null,
    auth: null,
  };
}

/**
 * What `data.data` holds for a fedgate secret, whose value is one string: a value that is a
 * JSON object is that object (Vault's usual key/value map, so `-field=password` works); any
 * other value is `{"value": "<the string>"}`.
 */
export function kvData(value: string): Record<string, unknown> {
  if (value.trimStart().startsWith("{")) {
    try {
      const parsed: unknown = JSON.parse(value);
      if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
    } catch {
      // not JSON after all: the string itself
    }
  }
  return { value };
}

/** `GET /v1/secret/data/:path` (KV v2 "Read Secret Version"); also what an unwrap returns. */
export function kvRead(v: VersionValue) {
  return {
    ...envelope({
      data: {
        data: kvData(v.value),
        metadata: { created_time: v.createdAt, custom_metadata: null, deletion_time: "", destroyed: false, version: v.version },
      },
    }),
    mount_type: "kv",
  };
}

export const creationPath = (secretUuid: string) => `${KV_MOUNT}/data/${secretUuid}`;

/** A read answered by a wrapping token instead of the data (`X-Vault-Wrap-TTL`). */
export function wrapped(w: { token: string; expiresAt: string }, secretUuid: string, ttlSeconds: number) {
  const created = new Date(new Date(w.expiresAt).getTime() - ttlSeconds * 1000);
  return envelope({
    wrap_info: {
      token: w.token,
      accessor: "",
      ttl: ttlSeconds,
      creation_time: created.toISOString(),
      creation_path: creationPath(secretUuid),
      wrapped_accessor: "",
    },
  });
}

/** `POST /v1/sys/wrapping/lookup`. */
export function wrapLookup(info: { secretUuid: string; createdAt: string; expiresAt: string }) {
  const ttl = Math.round((new Date(info.expiresAt).getTime() - new Date(info.createdAt).getTime()) / 1000);
  return envelope({ data: { creation_path: creationPath(info.secretUuid), creation_time: info.createdAt, creation_ttl: ttl } });
}

export interface TokenInfo {
  uuid: string;
  userUuid: string;
  scopes: { method: string; path: string }[] | null;
  clusterScopes: unknown;
  expiresAt: string | null;
  createdAt: string;
}

const seconds = (ms: number) => Math.max(0, Math.floor(ms / 1000));

/**
 * `GET /v1/auth/token/lookup-self`. `id` and `accessor` are the token's uuid: Vault echoes the
 * token itself in `id`, fedgate never returns a token's secret from a look-up.
 */
export function tokenLookup(t: TokenInfo, now = Date.now()) {
  const created = new Date(t.createdAt).getTime();
  const expires = t.expiresAt ? new Date(t.expiresAt).getTime() : undefined;
  const meta: Record<string, string> = {
    user_uuid: t.userUuid,
    scopes: JSON.stringify(t.scopes ? t.scopes.map((s) => `${s.method} ${s.path}`) : ["all"]),
  };
  if (t.clusterScopes != null) meta.cluster_scopes = JSON.stringify(t.clusterScopes);
  return envelope({
    data: {
      accessor: t.uuid,
      creation_time: seconds(created),
      creation_ttl: expires === undefined ? 0 : seconds(expires - created),
      display_name: t.userUuid,
      entity_id: t.userUuid,
      expire_time: t.expiresAt,
      explicit_max_ttl: 0,
      id: t.uuid,
      issue_time: t.createdAt,
      meta,
      num_uses: 0,
      orphan: true,
      path: "auth/token/create",
      policies: ["default"],
      renewable: false,
      ttl: expires === undefined ? 0 : seconds(expires - now),
      type: "service",
    },
  });
}

/** Vault's error body: a list of messages (empty for a plain 404, as Vault answers a missing path). */
export const vaultErrors = (messages: string[]) => ({ errors: messages });
