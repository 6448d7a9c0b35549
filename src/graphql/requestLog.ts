/**
 * One log line per GraphQL request, written when its response is: what was asked (operation
 * name and type, never the document or its variables), by whom (viewer and token uuids, the
 * cluster that delegated it), what it cost (clusters touched, remote requests, database time,
 * duration) and how it ended (error codes). Nothing in it can carry a secret.
 */
import { performance } from "node:perf_hooks";
import type { ApolloServerPlugin } from "@apollo/server";
import { CLUSTER_ID_RE } from "../ids";
import { log } from "../log";
import type { RequestContext } from "./context";

const round = (ms: number) => Math.round(ms * 10) / 10;

export const requestLogPlugin: ApolloServerPlugin<RequestContext> = {
  async requestDidStart() {
    const started = performance.now();
    return {
      async willSendResponse({ response, contextValue: ctx, operation, operationName, errors }) {
        const result = response.body.kind === "single" ? response.body.singleResult : undefined;
        const codes = new Set<string>();
        for (const e of [...(errors ?? []), ...(result?.errors ?? [])]) codes.add(String(e.extensions?.code ?? "INTERNAL_SERVER_ERROR"));
        const remote = ctx.stats?.remoteRequests ?? {};
        const principal = ctx.caller?.principal;
        log.info("graphql request", {
          operationName: operationName ?? operation?.name?.value ?? null,
          operationType: operation?.operation ?? null,
          viewerUuid: principal?.user.uuid ?? null,
          tokenUuid: principal?.token?.uuid ?? null,
          forwardedFor: ctx.caller?.forwardedFrom ?? null,
          clusters: Object.keys(remote),
          remoteRequests: Object.values(remote).reduce((a, b) => a + b, 0),
          databaseMs: round(ctx.clock?.usedMs ?? 0),
          durationMs: round(performance.now() - started),
          status: response.http?.status ?? 200,
          errorCodes: [...codes],
        });
      },
    };
  },
};

/** The line for a request refused before execution (its token refused: no plugin runs then). */
export function logRefusedRequest(code: string, status: number, forwardedFor: string | undefined): void {
  // The header is the client's say-so: logged only when it is a cluster id at all.
  const from = forwardedFor !== undefined && CLUSTER_ID_RE.test(forwardedFor) ? forwardedFor : null;
  log.info("graphql request", { operationName: null, operationType: null, viewerUuid: null, tokenUuid: null, forwardedFor: from, status, errorCodes: [code] });
}
