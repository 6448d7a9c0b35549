/**
 * The explorer: GraphiQL in the browser at `GET /` and at `GET /graphql` when a browser asks
 * for HTML. Every asset comes from the npm packages' own files and is served by fedgate
 * itself, so it works with the network off; a strict Content-Security-Policy keeps the page
 * from loading anything else. The page's settings (default query, header, banner) travel as
 * JSON data, never as inline script.
 */
import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { dirname, join } from "node:path";

export interface ExplorerOptions {
  /** Shown above the editor, e.g. the demo's tokens (read on every page load). Plain text. */
  banner?: () => string | undefined;
  defaultQuery?: string;
}

const ASSET_PREFIX = "/_explorer/";
const TOKEN_PLACEHOLDER = "<paste a token>";

/** name → [npm file, content type] */
const ASSETS: Record<string, [string, string]> = {
  "react.js": ["react/umd/react.production.min.js", "text/javascript"],
  "react-dom.js": ["react-dom/umd/react-dom.production.min.js", "text/javascript"],
  "graphiql.js": ["graphiql/graphiql.min.js", "text/javascript"],
  "graphiql.css": ["graphiql/graphiql.min.css", "text/css"],
};

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'", // GraphiQL sets element styles at run time
  "font-src 'self' data:", // its fonts are inlined in its CSS
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const DEFAULT_QUERY = `# Paste a token in the Authorization header below, then run this.
{
  viewer { uuid fullName email }
  currentToken { uuid scopes { method path } expiresAt }
}
`;

/** Starts GraphiQL with the page's settings; served as a file so the CSP needs no inline script. */
const BOOT = `"use strict";
(function () {
  var settings = JSON.parse(document.getElementById("fedgate-explorer-settings").textContent);
  var PLACEHOLDER = settings.placeholder;
  if (settings.banner) {
    var banner = document.getElementById("fedgate-banner");
    banner.textContent = settings.banner;
    banner.hidden = false;
  }
  var send = GraphiQL.createFetcher({ url: settings.endpoint });
  // Until a token is pasted, the placeholder is left out (the schema still loads without one).
  var fetcher = function (params, options) {
    var headers = Object.assign({}, options && options.headers);
    if (String(headers.Authorization || "").indexOf(PLACEHOLDER) >= 0) delete headers.Authorization;
    return send(params, Object.assign({}, options, { headers: headers }));
  };
  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: settings.defaultQuery,
      defaultHeaders: settings.defaultHeaders,
      defaultEditorToolsVisibility: "headers",
      shouldPersistHeaders: false
    })
  );
})();
`;

function page(o: ExplorerOptions): string {
  const settings = {
    endpoint: "/graphql",
    defaultQuery: o.defaultQuery ?? DEFAULT_QUERY,
    placeholder: TOKEN_PLACEHOLDER,
    defaultHeaders: JSON.stringify({ Authorization: `Bearer ${TOKEN_PLACEHOLDER}` }, null, 2),
    banner: o.banner?.() ?? null,
  };
  // JSON inside <script> must not be able to close the element.
  const data = JSON.stringify(settings).replace(/</g, "\\u003c");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>fedgate explorer</title>
<link rel="stylesheet" href="${ASSET_PREFIX}graphiql.css">
<style>
  html, body { height: 100%; margin: 0; }
  body { display: flex; flex-direction: column; }
  #fedgate-banner { margin: 0; padding: 8px 12px; font: 12px/1.4 monospace; white-space: pre-wrap; background: #fff8e1; border-bottom: 1px solid #e0c068; max-height: 30vh; overflow: auto; }
  #graphiql { flex: 1; min-height: 0; }
</style>
</head>
<body>
<pre id="fedgate-banner" hidden></pre>
<div id="graphiql">Loading the explorer…</div>
<script type="application/json" id="fedgate-explorer-settings">${data}</script>
<script src="${ASSET_PREFIX}react.js"></script>
<script src="${ASSET_PREFIX}react-dom.js"></script>
<script src="${ASSET_PREFIX}graphiql.js"></script>
<script src="${ASSET_PREFIX}boot.js"></script>
</body>
</html>
`;
}

/** A file of an installed package, found through its package.json (its "exports" hide the UMD builds). */
function packageFile(file: string): string {
  const [pkg, ...rest] = file.split("/");
  return join(dirname(require.resolve(`${pkg}/package.json`)), ...rest);
}

function loadAssets(): Map<string, { body: Buffer | string; type: string }> {
  const out = new Map<string, { body: Buffer | string; type: string }>();
  for (const [name, [file, type]] of Object.entries(ASSETS)) out.set(name, { body: readFileSync(packageFile(file)), type });
  out.set("boot.js", { body: BOOT, type: "text/javascript" });
  return out;
}

export interface Explorer {
  /** Whether this request is the explorer's (a browser page load, or one of its assets). */
  handles(req: IncomingMessage, pathname: string): boolean;
  serve(req: IncomingMessage, res: ServerResponse, pathname: string): void;
}

export function createExplorer(o: ExplorerOptions): Explorer {
  const assets = loadAssets(); // read once at start: a missing package fails the start, not a page load
  const isFavicon = (pathname: string) => pathname === "/favicon.ico";
  const isPage = (req: IncomingMessage, pathname: string) =>
    (pathname === "/" || (pathname === "/graphql" && /\btext\/html\b/.test(req.headers.accept ?? ""))) && req.method === "GET";
  return {
    handles: (req, pathname) => isPage(req, pathname) || ((pathname.startsWith(ASSET_PREFIX) || isFavicon(pathname)) && req.method === "GET"),
    serve(req, res, pathname) {
      const headers = { "content-security-policy": CSP, "x-content-type-options": "nosniff", "referrer-policy": "no-referrer" };
      if (isPage(req, pathname)) {
        res.writeHead(200, { ...headers, "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
        return void res.end(page(o));
      }
      if (isFavicon(pathname)) return void res.writeHead(204).end(); // no icon, and no 404 in the console
      const asset = assets.get(pathname.slice(ASSET_PREFIX.length));
      if (!asset) {
        res.writeHead(404, { "content-type": "application/json; charset=utf-8" });
        return void res.end(JSON.stringify({ errors: [{ message: `no explorer asset ${pathname}`, extensions: { code: "NOT_FOUND" } }] }));
      }
      res.writeHead(200, { ...headers, "content-type": `${asset.type}; charset=utf-8`, "cache-control": "public, max-age=3600" });
      res.end(asset.body);
    },
  };
}
