#!/usr/bin/env node
// Entry point installed as the `fedgate` command; the compiled CLI lives in dist/.
require("../dist/cli.js").main(process.argv.slice(2)).then(
  (code) => { if (typeof code === "number") process.exitCode = code; },
  (err) => { console.error(`fedgate: ${err && err.message ? err.message : err}`); process.exit(1); },
);
