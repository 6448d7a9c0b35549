/**
 * PostGraphile 5 (amber preset, no auth) over the benchmark's PostgreSQL database, for
 * bench/overhead.ts. Runs on the Node 22 that bench/peers.ts installs into bench/.peers (with
 * NODE_PATH pointing at its node_modules); answers { url } on IPC once it listens.
 *   OVERHEAD_DATABASE_URL  the seeded database
 */
const { createServer } = require("node:http");
const { postgraphile } = require("postgraphile");
const { PostGraphileAmberPreset } = require("postgraphile/presets/amber");
const { makePgService } = require("postgraphile/adaptors/pg");
const { grafserv } = require("postgraphile/grafserv/node");

const preset = {
  extends: [PostGraphileAmberPreset],
  pgServices: [makePgService({ connectionString: process.env.OVERHEAD_DATABASE_URL, schemas: ["public"] })],
  grafserv: { watch: false, graphiql: false },
  grafast: { explain: false },
};

async function main() {
  const pgl = postgraphile(preset);
  const serv = pgl.createServ(grafserv);
  const server = createServer();
  await serv.addTo(server);
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  process.send({ url: `http://127.0.0.1:${server.address().port}` });
  process.once("SIGTERM", () => pgl.release().finally(() => process.exit(0)));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
