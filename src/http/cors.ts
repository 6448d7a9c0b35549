/**
 * CORS for browser front ends on other origins (a workbench single-page app): the origins in
 * `cors.allowedOrigins` may call /graphql with `Authorization` and a JSON body, and their
 * preflight succeeds. Every other origin gets no CORS headers, so the browser keeps its answers
 * from the page; Apollo's CSRF prevention stays on for everyone (a listed origin's JSON requests
 * pass it because they are not "simple" requests).
 */
import type { IncomingMessage, ServerResponse } from "node:http";

const ALLOWED_METHODS = "GET, POST, OPTIONS";
const ALLOWED_HEADERS = "authorization, content-type, apollo-require-preflight, x-apollo-operation-name, x-fedgate-stats";
const PREFLIGHT_MAX_AGE_SECONDS = "600";

export interface Cors {
  /** Adds the CORS headers an allowed origin needs; answers its preflight. True when the request is done. */
  apply(req: IncomingMessage, res: ServerResponse): boolean;
}

export function createCors(allowedOrigins: string[]): Cors {
  const allowed = new Set(allowedOrigins);
  return {
    apply(req, res) {
      const origin = req.headers.origin;
      const listed = origin !== undefined && allowed.has(origin);
      // Answers differ by origin: caches must keep them apart.
      if (allowed.size) res.setHeader("vary", "Origin");
      if (listed) {
        res.setHeader("access-control-allow-origin", origin);
        res.setHeader("access-control-expose-headers", "content-type");
      }
      if (req.method !== "OPTIONS" || req.headers["access-control-request-method"] === undefined) return false;
      if (listed) {
        res.setHeader("access-control-allow-methods", ALLOWED_METHODS);
        res.setHeader("access-control-allow-headers", ALLOWED_HEADERS);
        res.setHeader("access-control-max-age", PREFLIGHT_MAX_AGE_SECONDS);
      }
      // Unlisted: an empty answer without CORS headers, which the browser reads as a refusal.
      res.writeHead(204);
      res.end();
      return true;
    },
  };
}
