/**
 * What `fedgate serve` prints on stdout once a throwaway in-memory cluster is ready, as
 * `vault server -dev` does: copy-paste exports for the CLI and curl, the explorer, and a
 * warning that nothing survives. Log lines go to stderr, so the two never interleave.
 */
import type { ClusterConfig } from "./config/config";

export function devBanner(config: ClusterConfig, url: string): string {
  const token = config.generatedRootToken
    ? [
        `    export FEDGATE_TOKEN='${config.systemRootToken}'`,
        `The system root token (generated for this run; set FEDGATE_SYSTEM_ROOT_TOKEN to keep one): ${config.systemRootToken}`,
      ]
    : ["    export FEDGATE_TOKEN=\"$FEDGATE_SYSTEM_ROOT_TOKEN\"   # the root token you configured"];
  return [
    "",
    `fedgate: cluster ${config.clusterId} is ready at ${url}/graphql`,
    "WARNING: its database is in memory. Everything is lost when fedgate stops; do not use it for real data.",
    "",
    "To use it from this shell (fedgate user create, fedgate whoami, curl):",
    "",
    `    export FEDGATE_URL='${url}'`,
    ...token,
    "",
    config.explorer ? `Explorer (GraphiQL): ${url}/   paste the token as "Authorization: Bearer <token>"` : "Explorer: off (explorer: true in the config turns it on)",
    "",
  ].join("\n");
}
