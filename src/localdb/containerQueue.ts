/**
 * Containers in the dispatcher's order (`containers(order: PRIORITY)`): highest priority
 * first, then uuid, a page at a time through the (state, priority DESC, uuid) index, so a
 * dispatcher takes the most wanted Queued container first however long the queue is, without
 * reading it all. A page continues strictly after its cursor's (priority, uuid): a container
 * whose priority changes meanwhile shows at its new place, as in any order on a changing key.
 */
import { Prisma } from "@prisma/client";
import type { ContainerRecord, ContainerState, Page, PageOptions, PriorityCursor } from "../api/types";
import type { Caller } from "../auth/principal";
import { toContainerRecord } from "../containers/records";
import { containerReadable } from "../permissions/access";
import type { LocalContext } from "./context";
import { toPage } from "./sql";

function afterPlace(after: PriorityCursor | undefined): Prisma.Sql {
  return after ? Prisma.sql`AND (ct.priority < ${after.priority} OR (ct.priority = ${after.priority} AND ct.uuid > ${after.uuid}))` : Prisma.empty;
}

export async function containerQueueList(
  ctx: LocalContext,
  c: Caller,
  o: PageOptions & { state?: ContainerState; afterPriority?: PriorityCursor },
): Promise<Page<ContainerRecord>> {
  const state = o.state ? Prisma.sql`AND ct.state = ${o.state}` : Prisma.empty;
  const page = await ctx.prisma.$queryRaw<{ uuid: string }[]>`
    SELECT ct.uuid FROM containers ct WHERE ${containerReadable(c.principal)} ${state} ${afterPlace(o.afterPriority)}
    ORDER BY ct.priority DESC, ct.uuid LIMIT ${o.first + 1}`;
  const rows = page.length ? await ctx.prisma.container.findMany({ where: { uuid: { in: page.map((r) => r.uuid) } } }) : [];
  const byUuid = new Map(rows.map((r) => [r.uuid, r]));
  // A row gone between the two reads is left out; the page's order is the first read's.
  const ordered = page.flatMap((r) => {
    const row = byUuid.get(r.uuid);
    return row ? [toContainerRecord(row)] : [];
  });
  return toPage(ordered, o.first);
}
