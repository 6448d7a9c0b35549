import type { ContentRecord, CreateGroupInput, GroupClass, GroupRecord } from "../../api/types";
import { badInput, notFound } from "../../errors";
import { clustersArg, pageArgs, searchArg, uuidArg, uuidsArg } from "../args";
import { callerOf, type RequestContext } from "../context";
import { clusterField, connection, one } from "./shared";

type ListArgs = { search?: string | null; groupClass?: string | null; clusters?: string[] | null; first?: number | null; after?: string | null };

function groupClassArg(value: string | null | undefined, name: string): GroupClass | undefined {
  if (value == null) return undefined;
  if (value !== "role" && value !== "project") throw badInput(`${name}: must be "role" or "project"`);
  return value;
}

const getGroup = (ctx: RequestContext, uuid: string) =>
  one("group", uuidArg(uuid, "uuid", "group"), (u) => ctx.api.groupsGet(callerOf(ctx), u));

export const groupResolvers = {
  Query: {
    group: (_: unknown, a: { uuid: string }, ctx: RequestContext) => getGroup(ctx, a.uuid),
    project: async (_: unknown, a: { uuid: string }, ctx: RequestContext) => {
      const g = await getGroup(ctx, a.uuid);
      if (g.groupClass !== "project") throw notFound("project", a.uuid);
      return g;
    },
    groupsByUuid: (_: unknown, a: { uuids: string[] }, ctx: RequestContext) =>
      ctx.api.groupsGet(callerOf(ctx), uuidsArg(a.uuids, ctx.limits, "group")),
    groups: async (_: unknown, a: ListArgs, ctx: RequestContext) =>
      connection(ctx, await ctx.api.groupList(callerOf(ctx), {
        ...pageArgs(a, ctx.limits), search: searchArg(a.search), clusters: clustersArg(a.clusters),
        groupClass: groupClassArg(a.groupClass, "groupClass"),
      })),
  },
  Mutation: {
    createGroup: (_: unknown, a: { input: CreateGroupInput }, ctx: RequestContext) => {
      const groupClass = groupClassArg(a.input.groupClass, "input.groupClass")!;
      if (!a.input.name.trim()) throw badInput("input.name: must not be empty");
      const ownerUuid = a.input.ownerUuid == null ? undefined : uuidArg(a.input.ownerUuid, "input.ownerUuid", "user", "group");
      return ctx.api.groupCreate(callerOf(ctx), { ...a.input, groupClass, ownerUuid });
    },
  },
  Group: {
    ...clusterField,
    contents: async (g: GroupRecord, a: { first?: number | null; after?: string | null }, ctx: RequestContext) =>
      connection(ctx, await ctx.api.groupContents(callerOf(ctx), g.uuid, pageArgs(a, ctx.limits))),
  },
  ContentItem: {
    __resolveType: (item: ContentRecord) => (item.kind === "group" ? "Group" : "Collection"),
  },
};
