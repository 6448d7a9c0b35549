/** Small pieces every domain's resolvers use: single look-ups and connections. */
import type { Page } from "../../api/types";
import { apiError, notFound, type ErrorCode } from "../../errors";
import { clusterOf } from "../../ids";
import { encodeCursor } from "../args";
import type { RequestContext } from "../context";

/** The one record for `uuid` from a batched getter; NOT_FOUND when it is missing or unreadable. */
export async function one<T>(what: string, uuid: string, get: (uuids: string[]) => Promise<T[]>): Promise<T> {
  const [record] = await get([uuid]);
  if (!record) throw notFound(what, uuid);
  return record;
}

/** A page as a GraphQL connection; clusters that failed are also reported in `errors`. */
export function connection<T>(ctx: RequestContext, page: Page<T>) {
  for (const f of page.failedClusters) {
    // Messages made by the transport already begin with the cluster's name.
    const message = f.message.startsWith(`cluster ${f.cluster}`) ? f.message : `cluster ${f.cluster}: ${f.message}`;
    ctx.reported.push(apiError(f.code as ErrorCode, message, { cluster: f.cluster }));
  }
  return {
    nodes: page.nodes,
    pageInfo: { endCursor: encodeCursor(page.endCursor), hasNextPage: page.hasNextPage },
    failedClusters: page.failedClusters,
  };
}

/** `cluster` on every object type: the owning cluster is the uuid's prefix. */
export const clusterField = { cluster: (o: { uuid: string }) => clusterOf(o.uuid) };
