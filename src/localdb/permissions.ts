/**
 * Permission links on the local database: grant, change, revoke, list. Every change refreshes
 * the permission closure in the same transaction, under the graph lock.
 */
import { Prisma } from "@prisma/client";
import type { Caller } from "../auth/principal";
import type { GrantInput, PermissionRecord } from "../api/types";
import { conflict, forbidden, notFound } from "../errors";
import { clusterOf, kindOf, newUuid } from "../ids";
import { levelOn } from "../permissions/access";
import { addEdge, lockPermissionGraph, refreshClosure } from "../permissions/closure";
import { levelRank, type PermissionLevel } from "../permissions/levels";
import { audit } from "./audit";
import type { LocalContext } from "./context";

type Tx = Prisma.TransactionClient;

function toRecord(link: { uuid: string; headUuid: string; tailUuid: string; name: string }): PermissionRecord {
  return { uuid: link.uuid, headUuid: link.headUuid, tailUuid: link.tailUuid, level: link.name as PermissionLevel };
}

/** The owner of a local object (null for users and groups, whose ownership is in the closure), or undefined if absent. */
async function ownerOf(tx: Tx, uuid: string): Promise<string | null | undefined> {
  switch (kindOf(uuid)) {
    case "collection":
      return (await tx.collection.findUnique({ where: { uuid }, select: { ownerUuid: true } }))?.ownerUuid;
    case "secret":
      return (await tx.secret.findUnique({ where: { uuid }, select: { ownerUuid: true } }))?.ownerUuid;
    case "group":
      return (await tx.group.findUnique({ where: { uuid }, select: { uuid: true } })) ? null : undefined;
    case "user":
      return (await tx.user.findUnique({ where: { uuid }, select: { uuid: true } })) ? null : undefined;
    default:
      return undefined;
  }
}

/** NOT_FOUND unless the caller can read the object; FORBIDDEN unless it can manage it. */
export async function requireManage(tx: Tx, c: Caller, uuid: string): Promise<void> {
  const owner = await ownerOf(tx, uuid);
  const level = owner === undefined ? 0 : await levelOn(tx, c.principal, uuid, owner);
  if (level === 0) throw notFound("object", uuid);
  if (level < 3) throw forbidden(`managing permissions on "${uuid}" needs can_manage`);
}

async function linkManaged(tx: Tx, c: Caller, uuid: string) {
  const link = await tx.link.findUnique({ where: { uuid } });
  if (!link || link.linkClass !== "permission") throw notFound("permission", uuid);
  await requireManage(tx, c, link.headUuid);
  return link;
}

/** A local grantee, locked FOR SHARE so it cannot be deleted under the new link; false if absent. */
async function lockSubject(tx: Tx, uuid: string): Promise<boolean> {
  const rows =
    kindOf(uuid) === "group"
      ? await tx.$queryRaw<unknown[]>`SELECT 1 FROM groups WHERE uuid = ${uuid} FOR SHARE`
      : await tx.$queryRaw<unknown[]>`SELECT 1 FROM users WHERE uuid = ${uuid} FOR SHARE`;
  return rows.length > 0;
}

export async function permissionGrant(ctx: LocalContext, c: Caller, input: GrantInput): Promise<PermissionRecord> {
  return ctx.prisma.$transaction(async (tx) => {
    await lockPermissionGraph(tx);
    await requireManage(tx, c, input.headUuid);
    if (clusterOf(input.tailUuid) === ctx.clusterId && !(await lockSubject(tx, input.tailUuid))) throw notFound(kindOf(input.tailUuid) ?? "subject", input.tailUuid);
    const existing = await tx.link.findUnique({
      where: { linkClass_tailUuid_headUuid: { linkClass: "permission", tailUuid: input.tailUuid, headUuid: input.headUuid } },
    });
    if (existing) throw conflict(`"${input.tailUuid}" already has ${existing.name} on "${input.headUuid}" (permission ${existing.uuid}); update it instead`);
    const link = await tx.link.create({
      data: {
        uuid: newUuid(ctx.clusterId, "link"),
        linkClass: "permission",
        name: input.level,
        headUuid: input.headUuid,
        tailUuid: input.tailUuid,
        ownerUuid: c.principal.user.uuid,
      },
    });
    await addEdge(tx, input.tailUuid, input.headUuid, levelRank(input.level), "link");
    await audit(tx, ctx.clusterId, { type: "grant", objectUuid: input.headUuid, actorUuid: c.principal.user.uuid, properties: { tailUuid: input.tailUuid, level: input.level } });
    return toRecord(link);
  });
}

export async function permissionUpdate(ctx: LocalContext, c: Caller, uuid: string, level: PermissionLevel): Promise<PermissionRecord> {
  const record = await ctx.prisma.$transaction(async (tx) => {
    await lockPermissionGraph(tx);
    const link = await linkManaged(tx, c, uuid);
    const updated = await tx.link.update({ where: { uuid }, data: { name: level } });
    if (levelRank(level) > levelRank(link.name as PermissionLevel)) await addEdge(tx, link.tailUuid, link.headUuid, levelRank(level), "link");
    else {
      await membershipsShrinking(ctx, tx, link);
      await refreshClosure(tx, [link.tailUuid]);
    }
    await audit(tx, ctx.clusterId, { type: "update", objectUuid: uuid, actorUuid: c.principal.user.uuid, properties: { level } });
    return toRecord(updated);
  });
  await ctx.tokens.deliverHints();
  return record;
}

export async function permissionRevoke(ctx: LocalContext, c: Caller, uuid: string): Promise<PermissionRecord> {
  const record = await ctx.prisma.$transaction(async (tx) => {
    await lockPermissionGraph(tx);
    const link = await linkManaged(tx, c, uuid);
    await tx.link.delete({ where: { uuid } });
    await membershipsShrinking(ctx, tx, link);
    await refreshClosure(tx, [link.tailUuid]);
    await audit(tx, ctx.clusterId, { type: "revoke", objectUuid: uuid, actorUuid: c.principal.user.uuid });
    return toRecord(link);
  });
  await ctx.tokens.deliverHints();
  return record;
}

/**
 * A link to a group lowered or removed may shrink its tail's memberships, which other
 * clusters cached with its users' tokens: they are told to ask again (before the closure is
 * refreshed, while it still records who reached the tail).
 */
async function membershipsShrinking(ctx: LocalContext, tx: Tx, link: { tailUuid: string; headUuid: string }): Promise<void> {
  if (kindOf(link.headUuid) === "group") await ctx.tokens.membershipsShrinking(tx, link.tailUuid);
}

export async function permissionList(ctx: LocalContext, c: Caller, objectUuid: string): Promise<PermissionRecord[]> {
  await requireManage(ctx.prisma as unknown as Tx, c, objectUuid);
  const links = await ctx.prisma.link.findMany({ where: { headUuid: objectUuid, linkClass: "permission" }, orderBy: { uuid: "asc" } });
  return links.map(toRecord);
}
