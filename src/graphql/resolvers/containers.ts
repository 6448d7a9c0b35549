/** Container requests and containers: inputs checked once here, then the router. */
import type {
  ContainerAuthRecord, ContainerRecord, ContainerRequestFields, ContainerRequestRecord, ContainerRequestState, SecretMount, UpdateContainerInput,
} from "../../api/types";
import { clusterScopesToJson } from "../../auth/authority";
import { parseToken } from "../../auth/tokenString";
import { MAX_SECRET_MOUNTS, secretMountPath, sortedSecretMounts } from "../../containers/secretMounts";
import { CONTAINER_STATES, REQUEST_STATES } from "../../containers/states";
import {
  MAX_CONTAINER_COUNT, MAX_PRIORITY, commandField, environmentField, intField, objectField,
} from "../../containers/validation";
import { badInput } from "../../errors";
import { CLUSTER_ID_RE } from "../../ids";
import { clustersArg, decodePriorityCursor, encodePriorityCursor, pageArgs, searchArg, uuidArg, uuidsArg } from "../args";
import { callerOf, type RequestContext } from "../context";
import { clusterField, connection, one } from "./shared";
import { clusterScopesArg } from "./tokens";

type ScopeInput = { method: string; path: string };
type RequestInput = Omit<ContainerRequestFields, "runtimeClusterScopes" | "state"> & {
  state?: string | null;
  runtimeClusterScopes?: { cluster: string; scopes: ScopeInput[] }[] | null;
};
type PageArgs = { first?: number | null; after?: string | null; clusters?: string[] | null };

/** Largest version number a mount may name (GraphQL's Int). */
const MAX_VERSION = 2 ** 31 - 1;

/** Longest text field (a name, an image, a path, an output's portable data hash). */
const MAX_TEXT = 4096;

function text(v: string | null | undefined, name: string): string | null | undefined {
  if (v != null && v.length > MAX_TEXT) throw badInput(`${name}: at most ${MAX_TEXT} characters`);
  return v;
}

function stateArg<S extends string>(v: string | null | undefined, name: string, allowed: readonly S[]): S | undefined {
  if (v == null) return undefined;
  if (!allowed.includes(v as S)) throw badInput(`${name}: "${v.slice(0, 32)}" is not one of ${allowed.join(", ")}`);
  return v as S;
}

/** Absent stays absent; null passes through where the field allows clearing it. */
function opt<T, R>(v: T | null | undefined, check: (v: T) => R): R | null | undefined {
  return v == null ? (v as null | undefined) : check(v);
}

/** The fields of a create or update input, checked (BAD_USER_INPUT names the field). */
function requestFields(i: RequestInput, states: readonly ContainerRequestState[]): ContainerRequestFields {
  const at = (f: string) => `input.${f}`;
  if (i.runtimeToken != null && !parseToken(i.runtimeToken)) throw badInput("runtimeToken: not a v2 token (v2/<uuid>/<secret>)");
  return {
    name: text(i.name, at("name")),
    description: text(i.description, at("description")),
    ownerUuid: opt(i.ownerUuid, (v) => uuidArg(v, at("ownerUuid"), "user", "group")),
    properties: opt(i.properties, (v) => objectField(v, at("properties"))),
    state: stateArg(i.state, at("state"), states),
    priority: opt(i.priority, (v) => intField(v, at("priority"), 0, MAX_PRIORITY)),
    command: opt(i.command, (v) => commandField(v, at("command"))),
    cwd: text(i.cwd, at("cwd")),
    environment: opt(i.environment, (v) => environmentField(v, at("environment"))),
    containerImage: text(i.containerImage, at("containerImage")),
    mounts: opt(i.mounts, (v) => objectField(v, at("mounts"))),
    outputPath: text(i.outputPath, at("outputPath")),
    runtimeConstraints: opt(i.runtimeConstraints, (v) => objectField(v, at("runtimeConstraints"))),
    schedulingParameters: opt(i.schedulingParameters, (v) => objectField(v, at("schedulingParameters"))),
    useExisting: i.useExisting,
    containerCountMax: opt(i.containerCountMax, (v) => intField(v, at("containerCountMax"), 1, MAX_CONTAINER_COUNT)),
    runtimeToken: i.runtimeToken,
    runtimeClusterScopes: i.runtimeClusterScopes === undefined ? undefined : clusterScopesArg(i.runtimeClusterScopes, at("runtimeClusterScopes")),
    secretMounts: opt(i.secretMounts, (v) => secretMountsArg(v, at("secretMounts"))),
  };
}

/** Each mount's path, uuid and version checked (named by its index as given), then sorted by path. */
function secretMountsArg(mounts: { path: string; secretUuid: string; version?: number | null }[], name: string): SecretMount[] {
  if (mounts.length > MAX_SECRET_MOUNTS) throw badInput(`${name}: at most ${MAX_SECRET_MOUNTS} secret mounts`);
  const checked = mounts.map((m, i) => ({
    path: secretMountPath(m.path, `${name}[${i}].path`),
    secretUuid: uuidArg(m.secretUuid, `${name}[${i}].secretUuid`, "secret"),
    version: m.version == null ? null : intField(m.version, `${name}[${i}].version`, 1, MAX_VERSION),
  }));
  return sortedSecretMounts(checked, name);
}

function containerInput(i: { state?: string | null } & Omit<UpdateContainerInput, "state">): UpdateContainerInput {
  return {
    state: stateArg(i.state, "input.state", CONTAINER_STATES),
    exitCode: i.exitCode,
    output: text(i.output, "input.output"),
    log: opt(i.log, (v) => uuidArg(v, "input.log", "collection")),
    progress: i.progress,
    runtimeStatus: opt(i.runtimeStatus, (v) => objectField(v, "input.runtimeStatus")),
  };
}

function clusterArg(v: string | null | undefined): string | undefined {
  if (v == null) return undefined;
  if (!CLUSTER_ID_RE.test(v)) throw badInput(`cluster: "${v.slice(0, 32)}" is not a cluster id`);
  return v;
}

const requestUuid = (v: string) => uuidArg(v, "uuid", "containerRequest");
const containerUuid = (v: string) => uuidArg(v, "uuid", "container");

export const containerResolvers = {
  Query: {
    containerRequest: (_: unknown, a: { uuid: string }, ctx: RequestContext) =>
      one("container request", requestUuid(a.uuid), (u) => ctx.api.containerRequestsGet(callerOf(ctx), u)),
    containerRequestsByUuid: (_: unknown, a: { uuids: string[] }, ctx: RequestContext) =>
      ctx.api.containerRequestsGet(callerOf(ctx), uuidsArg(a.uuids, ctx.limits, "containerRequest")),
    containerRequests: async (_: unknown, a: PageArgs & { search?: string | null; state?: string | null }, ctx: RequestContext) =>
      connection(ctx, await ctx.api.containerRequestList(callerOf(ctx), {
        ...pageArgs(a, ctx.limits), search: searchArg(a.search), clusters: clustersArg(a.clusters), state: stateArg(a.state, "state", REQUEST_STATES),
      })),
    container: (_: unknown, a: { uuid: string }, ctx: RequestContext) =>
      one("container", containerUuid(a.uuid), (u) => ctx.api.containersGet(callerOf(ctx), u)),
    containersByUuid: (_: unknown, a: { uuids: string[] }, ctx: RequestContext) =>
      ctx.api.containersGet(callerOf(ctx), uuidsArg(a.uuids, ctx.limits, "container")),
    containers: async (_: unknown, a: PageArgs & { state?: string | null; order?: "UUID" | "PRIORITY" | null }, ctx: RequestContext) => {
      const filters = { clusters: clustersArg(a.clusters), state: stateArg(a.state, "state", CONTAINER_STATES) };
      if (a.order !== "PRIORITY") return connection(ctx, await ctx.api.containerList(callerOf(ctx), { ...pageArgs(a, ctx.limits), ...filters }));
      const page = await ctx.api.containerList(callerOf(ctx), {
        ...pageArgs({ first: a.first }, ctx.limits), ...filters, order: "priority", afterPriority: decodePriorityCursor(a.after),
      });
      const done = connection(ctx, page);
      return { ...done, pageInfo: { ...done.pageInfo, endCursor: encodePriorityCursor(page.nodes.at(-1)) } };
    },
    currentContainer: (_: unknown, __: unknown, ctx: RequestContext) => ctx.api.currentContainer(callerOf(ctx)),
    containerAuth: (_: unknown, a: { uuid: string }, ctx: RequestContext) => ctx.api.containerAuth(callerOf(ctx), containerUuid(a.uuid)),
  },
  Mutation: {
    createContainerRequest: (_: unknown, a: { input: RequestInput & { command: string[]; containerImage: string; outputPath: string }; cluster?: string | null }, ctx: RequestContext) => {
      const fields = requestFields(a.input, ["Uncommitted", "Committed"]);
      return ctx.api.containerRequestCreate(callerOf(ctx), { ...fields, command: fields.command!, containerImage: fields.containerImage!, outputPath: fields.outputPath! }, clusterArg(a.cluster));
    },
    updateContainerRequest: (_: unknown, a: { uuid: string; input: RequestInput }, ctx: RequestContext) =>
      ctx.api.containerRequestUpdate(callerOf(ctx), requestUuid(a.uuid), requestFields(a.input, REQUEST_STATES)),
    cancelContainerRequest: (_: unknown, a: { uuid: string }, ctx: RequestContext) =>
      ctx.api.containerRequestUpdate(callerOf(ctx), requestUuid(a.uuid), { priority: 0 }),
    lockContainer: (_: unknown, a: { uuid: string }, ctx: RequestContext) => ctx.api.containerLock(callerOf(ctx), containerUuid(a.uuid)),
    unlockContainer: (_: unknown, a: { uuid: string }, ctx: RequestContext) => ctx.api.containerUnlock(callerOf(ctx), containerUuid(a.uuid)),
    updateContainer: (_: unknown, a: { uuid: string; input: { state?: string | null } & Omit<UpdateContainerInput, "state"> }, ctx: RequestContext) =>
      ctx.api.containerUpdate(callerOf(ctx), containerUuid(a.uuid), containerInput(a.input)),
  },
  ContainerRequest: {
    ...clusterField,
    runtimeClusterScopes: (r: ContainerRequestRecord) => clusterScopesToJson(r.runtimeClusterScopes),
    container: async (r: ContainerRequestRecord, _: unknown, ctx: RequestContext) =>
      r.containerUuid ? ((await ctx.api.containersGet(callerOf(ctx), [r.containerUuid]))[0] ?? null) : null,
  },
  Container: {
    ...clusterField,
    runtimeAuthScopes: (c: ContainerRecord) => c.runtimeAuthScopes,
  },
  ContainerAuth: {
    clusterScopes: (a: ContainerAuthRecord) => clusterScopesToJson(a.clusterScopes),
  },
};
