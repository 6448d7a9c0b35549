import type { CreateCollectionInput, UpdateCollectionInput } from "../../api/types";
import { badInput } from "../../errors";
import { clustersArg, pageArgs, searchArg, uuidArg, uuidsArg } from "../args";
import { callerOf, type RequestContext } from "../context";
import { clusterField, connection, one } from "./shared";

type ListArgs = { search?: string | null; ownerUuid?: string | null; clusters?: string[] | null; first?: number | null; after?: string | null };

const ownerArg = (v: string | null | undefined) => (v == null ? undefined : uuidArg(v, "ownerUuid", "user", "group"));

export const collectionResolvers = {
  Query: {
    collection: (_: unknown, a: { uuid: string }, ctx: RequestContext) =>
      one("collection", uuidArg(a.uuid, "uuid", "collection"), (u) => ctx.api.collectionsGet(callerOf(ctx), u)),
    collectionsByUuid: (_: unknown, a: { uuids: string[] }, ctx: RequestContext) =>
      ctx.api.collectionsGet(callerOf(ctx), uuidsArg(a.uuids, ctx.limits, "collection")),
    collections: async (_: unknown, a: ListArgs, ctx: RequestContext) =>
      connection(ctx, await ctx.api.collectionList(callerOf(ctx), {
        ...pageArgs(a, ctx.limits), search: searchArg(a.search), clusters: clustersArg(a.clusters), ownerUuid: ownerArg(a.ownerUuid),
      })),
  },
  Mutation: {
    createCollection: (_: unknown, a: { input: CreateCollectionInput }, ctx: RequestContext) => {
      if (!a.input.name.trim()) throw badInput("input.name: must not be empty");
      return ctx.api.collectionCreate(callerOf(ctx), { ...a.input, ownerUuid: ownerArg(a.input.ownerUuid) });
    },
    updateCollection: (_: unknown, a: { uuid: string; input: UpdateCollectionInput }, ctx: RequestContext) => {
      if (a.input.name !== undefined && !a.input.name?.trim()) throw badInput("input.name: must not be empty");
      return ctx.api.collectionUpdate(callerOf(ctx), uuidArg(a.uuid, "uuid", "collection"), { ...a.input, ownerUuid: ownerArg(a.input.ownerUuid) });
    },
    deleteCollection: (_: unknown, a: { uuid: string }, ctx: RequestContext) =>
      ctx.api.collectionDelete(callerOf(ctx), uuidArg(a.uuid, "uuid", "collection")),
  },
  Collection: clusterField,
};
