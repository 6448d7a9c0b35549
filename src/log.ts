/**
 * Structured log lines (JSON, one per line, on stderr). Callers pass identifiers, never tokens
 * or secrets; a field named like a credential is dropped as a last line of defence.
 */
type Level = "debug" | "info" | "warn" | "error";
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const CREDENTIAL_KEY = /token|secret|authorization|password/i;

let threshold: number = ORDER[(process.env.FEDGATE_LOG_LEVEL as Level) ?? "info"] ?? ORDER.info;
let sink: (line: string) => void = (line) => process.stderr.write(line + "\n");

function emit(level: Level, msg: string, fields: Record<string, unknown> = {}): void {
  if (ORDER[level] < threshold) return;
  const safe: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) if (!CREDENTIAL_KEY.test(k) || k.endsWith("Uuid")) safe[k] = v;
  sink(JSON.stringify({ time: new Date().toISOString(), level, msg, ...safe }));
}

export const log = {
  debug: (msg: string, f?: Record<string, unknown>) => emit("debug", msg, f),
  info: (msg: string, f?: Record<string, unknown>) => emit("info", msg, f),
  warn: (msg: string, f?: Record<string, unknown>) => emit("warn", msg, f),
  error: (msg: string, f?: Record<string, unknown>) => emit("error", msg, f),
  /** Tests capture lines to prove no secret is logged; `level` quiets a process. */
  configure(opts: { sink?: (line: string) => void; level?: Level }): void {
    if (opts.sink) sink = opts.sink;
    if (opts.level) threshold = ORDER[opts.level];
  },
};
