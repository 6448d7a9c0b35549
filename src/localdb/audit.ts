/** The audit log: one row per change, naming the actor and the object, never a secret. */
import type { Prisma } from "@prisma/client";
import { newUuid } from "../ids";

export async function audit(
  tx: Pick<Prisma.TransactionClient, "auditLog">,
  clusterId: string,
  event: { type: string; objectUuid?: string; /** undefined: no one known (an unwrap without a token). */ actorUuid: string | undefined; properties?: Prisma.InputJsonValue },
): Promise<void> {
  await tx.auditLog.create({
    data: {
      uuid: newUuid(clusterId, "log"),
      eventType: event.type,
      objectUuid: event.objectUuid,
      actorUuid: event.actorUuid,
      properties: event.properties ?? {},
    },
  });
}
