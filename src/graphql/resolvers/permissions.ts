import type { UpdateGroupInput } from "../../api/types";
import { badInput } from "../../errors";
import { isPermissionLevel, type PermissionLevel } from "../../permissions/levels";
import { clustersArg, pageArgs, searchArg, uuidArg, uuidsArg } from "../args";
import { callerOf, type RequestContext } from "../context";
import { clusterField, connection } from "./shared";

type ListArgs = { search?: string | null; clusters?: string[] | null; first?: number | null; after?: string | null };

function levelArg(value: string): PermissionLevel {
  if (!isPermissionLevel(value)) throw badInput(`level: must be can_read, can_write or can_manage`);
  return value;
}

const HEAD_KINDS = ["collection", "group", "user", "secret"] as const;
const SUBJECT_KINDS = ["user", "group"] as const;

export const permissionResolvers = {
  Query: {
    permissions: (_: unknown, a: { objectUuid: string }, ctx: RequestContext) =>
      ctx.api.permissionList(callerOf(ctx), uuidArg(a.objectUuid, "objectUuid", ...HEAD_KINDS)),
    shareableSubjects: async (_: unknown, a: ListArgs, ctx: RequestContext) =>
      connection(ctx, await ctx.api.subjectList(callerOf(ctx), {
        ...pageArgs(a, ctx.limits), search: searchArg(a.search), clusters: clustersArg(a.clusters),
      })),
    sharedWithMe: async (_: unknown, a: ListArgs, ctx: RequestContext) =>
      connection(ctx, await ctx.api.sharedWithMe(callerOf(ctx), { ...pageArgs(a, ctx.limits), clusters: clustersArg(a.clusters) })),
    visibleSubjects: (_: unknown, a: { uuids: string[] }, ctx: RequestContext) =>
      ctx.api.subjectsVisible(callerOf(ctx), uuidsArg(a.uuids, ctx.limits, ...SUBJECT_KINDS)),
    visibleGroups: (_: unknown, __: unknown, ctx: RequestContext) => ctx.api.visibleGroups(callerOf(ctx)),
  },
  Mutation: {
    grantPermission: (_: unknown, a: { headUuid: string; tailUuid: string; level: string }, ctx: RequestContext) =>
      ctx.api.permissionGrant(callerOf(ctx), {
        headUuid: uuidArg(a.headUuid, "headUuid", ...HEAD_KINDS),
        tailUuid: uuidArg(a.tailUuid, "tailUuid", ...SUBJECT_KINDS),
        level: levelArg(a.level),
      }),
    updatePermission: (_: unknown, a: { uuid: string; level: string }, ctx: RequestContext) =>
      ctx.api.permissionUpdate(callerOf(ctx), uuidArg(a.uuid, "uuid", "link"), levelArg(a.level)),
    revokePermission: (_: unknown, a: { uuid: string }, ctx: RequestContext) =>
      ctx.api.permissionRevoke(callerOf(ctx), uuidArg(a.uuid, "uuid", "link")),
    updateGroup: (_: unknown, a: { uuid: string; input: UpdateGroupInput }, ctx: RequestContext) => {
      if (a.input.name !== undefined && !a.input.name?.trim()) throw badInput("input.name: must not be empty");
      const ownerUuid = a.input.ownerUuid == null ? undefined : uuidArg(a.input.ownerUuid, "input.ownerUuid", "user", "group");
      return ctx.api.groupUpdate(callerOf(ctx), uuidArg(a.uuid, "uuid", "group"), { ...a.input, ownerUuid });
    },
    deleteGroup: (_: unknown, a: { uuid: string }, ctx: RequestContext) =>
      ctx.api.groupDelete(callerOf(ctx), uuidArg(a.uuid, "uuid", "group")),
  },
  Permission: clusterField,
  Subject: clusterField,
};

