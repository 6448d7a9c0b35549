/**
 * The collections a container run leaves: its log (stdout.txt, stderr.txt) and its output (the
 * files under its outputPath). fedgate has no block store (Keep), so the files' text travels in
 * the collection's properties (`files`, by path), and the manifest describes exactly that text
 * the way Arvados would (a stream per directory, one block per file named by its md5 and size;
 * portable data hash = md5 of the manifest + its length): the record reads like an Arvados
 * collection, and its hash changes whenever the text does.
 */
import { createHash } from "node:crypto";

/** md5 of nothing: the locator of an empty stream's (empty) block. */
const EMPTY_BLOCK = "d41d8cd98f00b204e9800998ecf8427e+0";

export interface RunFile {
  /** Relative, "/"-separated. */
  path: string;
  text: string;
  /** Bytes the process wrote that were dropped (the start of a log stream), 0 when complete. */
  droppedBytes?: number;
}

export interface RunCollectionInput {
  name: string;
  manifestText: string;
  portableDataHash: string;
  properties: {
    type: "log" | "output";
    container_uuid: string;
    files: Record<string, string>;
    /** Per file, bytes of the beginning not kept (only files that were cut). */
    truncated: Record<string, number>;
  };
}

/** Bytes as text the API can store: UTF-8 (broken sequences replaced), NUL replaced (PostgreSQL text cannot hold it). */
export function storableText(bytes: Buffer): string {
  return bytes.toString("utf8").replaceAll("\u0000", "\uFFFD");
}

const md5 = (data: string | Buffer) => createHash("md5").update(data).digest("hex");

/** A stream or file name as a manifest token: whitespace, colon and backslash as \ooo octal escapes (Arvados). */
function escapeName(name: string): string {
  return name.replace(/[\s:\\]/g, (ch) => `\\${ch.charCodeAt(0).toString(8).padStart(3, "0")}`);
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function streamLine(stream: string, files: readonly { name: string; bytes: Buffer }[]): string {
  const blocks: string[] = [];
  const tokens: string[] = [];
  let offset = 0;
  for (const f of [...files].sort((a, b) => byName(a.name, b.name))) {
    if (f.bytes.length > 0) blocks.push(`${md5(f.bytes)}+${f.bytes.length}`);
    tokens.push(`${offset}:${f.bytes.length}:${escapeName(f.name)}`);
    offset += f.bytes.length;
  }
  return `${escapeName(stream)} ${(blocks.length ? blocks : [EMPTY_BLOCK]).join(" ")} ${tokens.join(" ")}\n`;
}

/** A normalised manifest: a stream per directory ("." then "./a", "./a/b"…, by name), files by name; "" when there are none. */
export function manifestOf(files: readonly RunFile[]): string {
  const streams = new Map<string, { name: string; bytes: Buffer }[]>();
  for (const f of files) {
    const cut = f.path.lastIndexOf("/");
    const stream = cut < 0 ? "." : `./${f.path.slice(0, cut)}`;
    const list = streams.get(stream) ?? [];
    list.push({ name: f.path.slice(cut + 1), bytes: Buffer.from(f.text, "utf8") });
    streams.set(stream, list);
  }
  return [...streams.keys()].sort(byName).map((s) => streamLine(s, streams.get(s)!)).join("");
}

/** Arvados' portable data hash of a manifest without hints: md5 and byte length of its text. */
export function portableDataHash(manifest: string): string {
  return `${md5(manifest)}+${Buffer.byteLength(manifest, "utf8")}`;
}

export function runCollection(type: "log" | "output", containerUuid: string, files: readonly RunFile[]): RunCollectionInput {
  const manifestText = manifestOf(files);
  return {
    name: `${type} for container ${containerUuid}`,
    manifestText,
    portableDataHash: portableDataHash(manifestText),
    properties: {
      type,
      container_uuid: containerUuid,
      files: Object.fromEntries(files.map((f) => [f.path, f.text])),
      truncated: Object.fromEntries(files.filter((f) => f.droppedBytes).map((f) => [f.path, f.droppedBytes!])),
    },
  };
}
