/** Who may own what: new and moved objects go to the viewer or to a project the viewer can write. */
import type { Prisma } from "@prisma/client";
import type { Principal } from "../auth/principal";
import { forbidden, notFound } from "../errors";
import { kindOf } from "../ids";
import { levelOn } from "../permissions/access";

export async function requireWritableOwner(tx: Prisma.TransactionClient, p: Principal, ownerUuid: string): Promise<void> {
  if (ownerUuid === p.user.uuid) return;
  const kind = kindOf(ownerUuid);
  const exists =
    kind === "group"
      ? await tx.group.findUnique({ where: { uuid: ownerUuid }, select: { groupClass: true } })
      : kind === "user"
        ? await tx.user.findUnique({ where: { uuid: ownerUuid }, select: { uuid: true } })
        : null;
  const level = exists ? await levelOn(tx, p, ownerUuid, null) : 0;
  if (level === 0) throw notFound("owner", ownerUuid);
  if (level < 2) throw forbidden(`cannot write to owner "${ownerUuid}"`);
}
