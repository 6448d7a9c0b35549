/**
 * All benchmarks, one after the other (npm run bench). Each also runs alone:
 *   npx tsx bench/closure.ts | bench/remote_checks.ts | bench/tokens.ts | bench/overhead.ts | bench/containers.ts | bench/secrets.ts
 * Knobs are environment variables (BENCH_*), described at the top of each file.
 * Benchmarks print numbers; they never assert.
 */
import { cpus } from "node:os";
import { main as closure } from "./closure";
import { main as containers } from "./containers";
import { databaseLabel, fmt, runIfMain, timed } from "./lib";
import { main as overhead } from "./overhead";
import { main as remoteChecks } from "./remote_checks";
import { main as secrets } from "./secrets";
import { main as tokens } from "./tokens";

export async function main(): Promise<void> {
  const cpu = cpus();
  console.log(`fedgate benchmarks — ${new Date().toISOString()}`);
  console.log(`node ${process.version}, ${cpu.length} CPU(s) (${cpu[0]?.model ?? "unknown"}), ${databaseLabel()}`);
  console.log("client and servers run in this one process (overhead, containers, secrets: each server in its own); server logs are quieted to errors");
  const total = await timed(async () => {
    await closure();
    await remoteChecks();
    await tokens();
    await overhead();
    await containers();
    await secrets();
  });
  console.log(`\nall benchmarks finished in ${fmt.ms(total.ms / 1000)} s`);
}

runIfMain(module, main);
