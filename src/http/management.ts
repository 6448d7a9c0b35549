/**
 * Who may read /metrics (Arvados' ManagementToken): with `managementToken` configured, only a
 * request bearing it; without one, only a request from this machine (loopback), so a server
 * listening on a public address does not publish its counters to the world by default.
 */
import type { IncomingMessage } from "node:http";
import { secretMatcher } from "../auth/localTokens";

export type ManagementRefusal = { status: number; code: string; message: string };

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+)$/;

export function managementAccess(managementToken: string | undefined): (req: IncomingMessage) => ManagementRefusal | undefined {
  const isManagementToken = managementToken === undefined ? undefined : secretMatcher(managementToken);
  return (req) => {
    if (isManagementToken === undefined) {
      if (LOOPBACK.test(req.socket.remoteAddress ?? "")) return undefined;
      return { status: 403, code: "FORBIDDEN", message: "metrics are served to loopback only unless managementToken is configured" };
    }
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
    if (m && isManagementToken(m[1])) return undefined;
    return { status: 401, code: "UNAUTHENTICATED", message: "metrics need Authorization: Bearer <managementToken>" };
  };
}
