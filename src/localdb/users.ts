/** Users on the local database: the cluster's own and the local records of remote users. */
import { Prisma } from "@prisma/client";
import type { Caller } from "../auth/principal";
import { isAdmin } from "../auth/principal";
import type { CreateUserInput, ListOptions, Page, UserRecord } from "../api/types";
import { badInput, conflict, forbidden } from "../errors";
import { newUuid } from "../ids";
import { userVisible } from "../permissions/access";
import { audit } from "./audit";
import type { LocalContext } from "./context";
import { USER_COLUMNS, afterClause, pageTail, prefixPattern, toPage } from "./sql";

export async function usersGet(ctx: LocalContext, c: Caller, uuids: string[]): Promise<UserRecord[]> {
  if (uuids.length === 0) return [];
  return ctx.reader.rows<UserRecord>(Prisma.sql`
    SELECT ${USER_COLUMNS} FROM users u WHERE u.uuid = ANY(${uuids}::text[]) AND ${userVisible(c.principal)}`);
}

export async function userList(ctx: LocalContext, c: Caller, o: ListOptions): Promise<Page<UserRecord>> {
  const search = o.search
    ? Prisma.sql`AND (lower(u.email) LIKE ${prefixPattern(o.search)} OR lower(u.full_name) LIKE ${prefixPattern(o.search)})`
    : Prisma.empty;
  const rows = await ctx.reader.rows<UserRecord>(Prisma.sql`
    SELECT ${USER_COLUMNS} FROM users u
    WHERE ${userVisible(c.principal)} ${search} ${afterClause("u", o)} ${pageTail("u", o)}`);
  return toPage(rows, o.first);
}

export async function userCreate(ctx: LocalContext, c: Caller, input: CreateUserInput): Promise<UserRecord> {
  if (!isAdmin(c.principal)) throw forbidden("only an admin can create users");
  // As Arvados: "Admin users cannot be inactive".
  if (input.isAdmin && input.isActive === false) throw badInput("an admin user cannot be inactive: isAdmin needs isActive");
  const email = input.email.trim().toLowerCase();
  return ctx.prisma.$transaction(async (tx) => {
    if (await tx.user.findFirst({ where: { email, uuid: { startsWith: ctx.clusterId } }, select: { uuid: true } }))
      throw conflict(`a user with email "${email}" already exists`);
    const user = await tx.user.create({
      data: {
        uuid: newUuid(ctx.clusterId, "user"),
        email,
        fullName: input.fullName ?? null,
        isAdmin: input.isAdmin ?? false,
        isActive: input.isActive ?? true,
      },
      select: { uuid: true, email: true, fullName: true, isActive: true, isAdmin: true },
    });
    await audit(tx, ctx.clusterId, { type: "create", objectUuid: user.uuid, actorUuid: c.principal.user.uuid });
    return user;
  });
}
