#!/usr/bin/env node
// Entry point installed as the `fedgate` command; the compiled CLI lives in dist/.
// A server unless told otherwise: graphql-js checks every type test twice outside production
// (to name a second copy of itself), ~5-10% of a request's CPU (README, "Overhead…").
process.env.NODE_ENV ??= "production";
require("../dist/cli.js").main(process.argv.slice(2)).then(
  (code) => { if (typeof code === "number") process.exitCode = code; },
  (err) => { console.error(`fedgate: ${err && err.message ? err.message : err}`); process.exit(1); },
);
