/**
 * Structured log lines through pino: one JSON object per line on stderr, with `time` (ISO
 * 8601), `level` (a word) and `msg`. Callers pass identifiers, never tokens or secrets; a field
 * named like a credential is dropped as a last line of defence (pino's redaction takes fixed
 * paths, and this must hold for any field name).
 */
import { Writable } from "node:stream";
import pino, { type Logger } from "pino";

export type Level = "debug" | "info" | "warn" | "error";
const CREDENTIAL_KEY = /token|secret|authorization|password/i;

/** Fields without credential-like keys (uuids of tokens are identifiers, and kept). */
function safeFields(fields: Record<string, unknown>): Record<string, unknown> {
  const safe: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) if (!CREDENTIAL_KEY.test(k) || k.endsWith("Uuid")) safe[k] = v;
  return safe;
}

function createLogger(level: Level, destination: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: undefined, // no pid/hostname on every line: the process is known from where the log goes
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

// Synchronous, so lines are not lost when the process exits right after writing them.
let destination: pino.DestinationStream = pino.destination({ fd: 2, sync: true });
const initial = process.env.FEDGATE_LOG_LEVEL as Level | undefined;
let logger = createLogger(initial && ["debug", "info", "warn", "error"].includes(initial) ? initial : "info", destination);

function emit(level: Level, msg: string, fields: Record<string, unknown> = {}): void {
  if (logger.isLevelEnabled(level)) logger[level](safeFields(fields), msg);
}

/** A destination that hands each line, without its newline, to `sink`. */
function lineSink(sink: (line: string) => void): pino.DestinationStream {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString("utf8").split("\n")) if (line) sink(line);
      done();
    },
  });
}

export const log = {
  debug: (msg: string, f?: Record<string, unknown>) => emit("debug", msg, f),
  info: (msg: string, f?: Record<string, unknown>) => emit("info", msg, f),
  warn: (msg: string, f?: Record<string, unknown>) => emit("warn", msg, f),
  error: (msg: string, f?: Record<string, unknown>) => emit("error", msg, f),
  /** Tests capture lines to prove no secret is logged; `level` quiets a process. */
  configure(opts: { sink?: (line: string) => void; level?: Level }): void {
    if (opts.sink) destination = lineSink(opts.sink);
    logger = createLogger(opts.level ?? (logger.level as Level), destination);
  },
};
