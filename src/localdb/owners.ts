/** Who may own what: new and moved objects go to the viewer or to a project the viewer can write. */
import type { Prisma } from "@prisma/client";
import type { Principal } from "../auth/principal";
import { forbidden, notFound } from "../errors";
import { kindOf } from "../ids";
import { levelOn } from "../permissions/access";

export async function requireWritableOwner(tx: Prisma.TransactionClient, p: Principal, ownerUuid: string): Promise<void> {
  if (ownerUuid === p.user.uuid) return;
  const kind = kindOf(ownerUuid);
  // FOR SHARE: the owner cannot be deleted until this transaction has put its object in it.
  const exists =
    kind === "group"
      ? (await tx.$queryRaw<{ uuid: string }[]>`SELECT uuid FROM groups WHERE uuid = ${ownerUuid} FOR SHARE`)[0]
      : kind === "user"
        ? await tx.user.findUnique({ where: { uuid: ownerUuid }, select: { uuid: true } })
        : null;
  const level = exists ? await levelOn(tx, p, ownerUuid, null) : 0;
  if (level === 0) throw notFound("owner", ownerUuid);
  if (level < 2) throw forbidden(`cannot write to owner "${ownerUuid}"`);
}

/**
 * Moving an object needs write access to the owner it leaves as well as the one it joins
 * (as Arvados): otherwise a collaborator with can_write could take the object over.
 */
export async function requireMove(tx: Prisma.TransactionClient, p: Principal, from: string, to: string): Promise<void> {
  if (from !== p.user.uuid && (await levelOn(tx, p, from, null)) < 2) throw forbidden(`moving out of "${from}" needs can_write on it`);
  await requireWritableOwner(tx, p, to);
}
