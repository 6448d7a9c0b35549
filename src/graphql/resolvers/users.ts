import type { CreateUserInput } from "../../api/types";
import { badInput } from "../../errors";
import { clustersArg, pageArgs, searchArg, uuidArg, uuidsArg } from "../args";
import { callerOf, type RequestContext } from "../context";
import { clusterField, connection, one } from "./shared";

type ListArgs = { search?: string | null; clusters?: string[] | null; first?: number | null; after?: string | null };
const EMAIL_RE = /^[^\s@]+@[^\s@]+$/;

export const userResolvers = {
  Query: {
    viewer: (_: unknown, __: unknown, ctx: RequestContext) => callerOf(ctx).principal.user,
    user: (_: unknown, a: { uuid: string }, ctx: RequestContext) =>
      one("user", uuidArg(a.uuid, "uuid", "user"), (u) => ctx.api.usersGet(callerOf(ctx), u)),
    usersByUuid: (_: unknown, a: { uuids: string[] }, ctx: RequestContext) =>
      ctx.api.usersGet(callerOf(ctx), uuidsArg(a.uuids, ctx.limits, "user")),
    users: async (_: unknown, a: ListArgs, ctx: RequestContext) =>
      connection(ctx, await ctx.api.userList(callerOf(ctx), {
        ...pageArgs(a, ctx.limits), search: searchArg(a.search), clusters: clustersArg(a.clusters),
      })),
  },
  Mutation: {
    createUser: (_: unknown, a: { input: CreateUserInput }, ctx: RequestContext) => {
      if (!EMAIL_RE.test(a.input.email)) throw badInput(`input.email: "${a.input.email.slice(0, 64)}" is not an email address`);
      return ctx.api.userCreate(callerOf(ctx), a.input);
    },
  },
  User: clusterField,
};
