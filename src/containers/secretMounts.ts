/**
 * Secret mounts (DESIGN "Secrets"): a container request names secrets by uuid and optional
 * version, each to become a file at a path in the container's working directory. Only names
 * and versions are stored, on the request and its container, never a value: the running
 * container reads the values itself with its own token (`containerSecrets`), where each secret
 * lives, under its permissions and scopes. A version left out is pinned to the current one when
 * the request commits, and the requester must be able to read each secret then (FORBIDDEN,
 * nothing written). Mounts are part of the reuse key by path, uuid and version, never by value.
 */
import { posix } from "node:path";
import type { Prisma } from "@prisma/client";
import type { ClusterApi } from "../api/clusterApi";
import type { ContainerSpec, SecretMount } from "../api/types";
import type { Caller } from "../auth/principal";
import { allAllow } from "../auth/scopes";
import { badInput, forbidden } from "../errors";
import { clusterOf } from "../ids";

export const MAX_SECRET_MOUNTS = 100;
const MAX_PATH = 1024;

/** `p` as an absolute normalised path without a trailing slash (the root is ""). */
function containerPath(p: string): string {
  return posix.normalize(`/${p}`).replace(/\/+$/, "");
}

/**
 * A mount's path as the container sees it: absolute, normalised, not the root, with no `..`
 * (the dispatcher places it inside the working directory, which nothing may lead out of).
 */
export function secretMountPath(path: string, name: string): string {
  if (!path || path.length > MAX_PATH || path.includes("\0")) throw badInput(`${name}: must be 1 to ${MAX_PATH} characters, without NUL`);
  if (path.split("/").includes("..")) throw badInput(`${name}: must not contain ".."`);
  const normal = containerPath(path);
  if (normal === "") throw badInput(`${name}: must name a file, not the root`);
  return normal;
}

/** Checked mounts, sorted by path (the stored and hashed form); each path once. */
export function sortedSecretMounts(mounts: SecretMount[], name: string): SecretMount[] {
  const sorted = [...mounts].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (let i = 1; i < sorted.length; i++)
    if (sorted[i].path === sorted[i - 1].path) throw badInput(`${name}: path "${sorted[i].path.slice(0, 200)}" is mounted twice`);
  return sorted;
}

/** Stored JSON (written only by this module, so trusted) to mounts. */
export function secretMountsFromJson(value: Prisma.JsonValue): SecretMount[] {
  return (value as unknown as SecretMount[] | null) ?? [];
}

export function secretMountsToJson(mounts: SecretMount[]): Prisma.InputJsonValue {
  return mounts.map((m) => ({ path: m.path, secretUuid: m.secretUuid, version: m.version })) as Prisma.InputJsonValue;
}

/** The reuse key's part for secret mounts: left out when there are none, so other hashes stay as they were. */
export function secretMountsKey(mounts: SecretMount[]): [string, string, number | null][] | undefined {
  return mounts.length ? mounts.map((m) => [m.path, m.secretUuid, m.version]) : undefined;
}

/** What committing needs of secret mounts: none at a path of `mounts`, none saved as output. */
export function requireSecretMountsApart(spec: ContainerSpec, mounts: SecretMount[]): void {
  const output = containerPath(spec.outputPath);
  const mountPaths = new Set(Object.keys(spec.mounts).map(containerPath));
  for (const m of mounts) {
    if (mountPaths.has(m.path)) throw badInput(`secretMounts: path "${m.path.slice(0, 200)}" is also a key of mounts`);
    if (m.path === output || m.path.startsWith(`${output}/`))
      throw badInput(`secretMounts: path "${m.path.slice(0, 200)}" is inside outputPath, whose files are saved as the output`);
  }
}

/**
 * The mounts with every version pinned, after checking the requester can read each secret
 * (through the federation for secrets homed elsewhere; one batch per cluster) with a token
 * whose scopes allow reading its value. A request another cluster delegated cannot be asked
 * onward: its secrets homed elsewhere arrive pinned by the delegating cluster, which checked
 * them, and are taken as they are (the container's own reads are checked where they live).
 */
export async function pinSecretMounts(api: ClusterApi, c: Caller, mounts: SecretMount[], selfId: string): Promise<SecretMount[]> {
  if (mounts.length === 0) return mounts;
  const askable = (m: SecretMount) => !c.forwardedFrom || clusterOf(m.secretUuid) === selfId;
  for (const m of mounts) {
    if (!askable(m) && m.version === null)
      throw badInput(`secretMounts: a request delegated by cluster ${c.forwardedFrom} must name the version of secret "${m.secretUuid}" (homed elsewhere: the delegating cluster pins it)`);
    const path = `/arvados/v1/secrets/${m.secretUuid}/value`;
    if (!allAllow(c.principal.scopeSets, "GET", path)) throw forbidden(`secretMounts: token scopes do not allow GET ${path}`);
  }
  const uuids = [...new Set(mounts.filter(askable).map((m) => m.secretUuid))];
  const found = new Map((await api.secretsGet(c, uuids)).map((s) => [s.uuid, s]));
  return mounts.map((m) => {
    if (!askable(m)) return m;
    const secret = found.get(m.secretUuid);
    if (!secret) throw forbidden(`secretMounts: secret "${m.secretUuid}" cannot be read by the requester`);
    if (m.version !== null && !secret.versions.some((v) => v.version === m.version))
      throw badInput(`secretMounts: secret "${m.secretUuid}" has no version ${m.version}`);
    return { ...m, version: m.version ?? secret.currentVersion };
  });
}
