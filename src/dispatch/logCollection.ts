/**
 * The log collection of a container run: what `createCollection` is given. fedgate has no
 * block store (Keep), so the files' text travels in the collection's properties (`files`), and
 * the manifest describes exactly that text the way Arvados would (one block per file, named by
 * its md5 and size; portable data hash = md5 of the manifest + its length), so the record reads
 * like an Arvados log collection and its hash changes whenever the text does.
 */
import { createHash } from "node:crypto";

/** md5 of nothing: the locator of an empty file's (empty) block. */
const EMPTY_BLOCK = "d41d8cd98f00b204e9800998ecf8427e+0";

export interface LogFile {
  name: string;
  text: string;
  /** Bytes the process wrote that were dropped (the start of the stream), 0 when complete. */
  droppedBytes: number;
}

export interface LogCollectionInput {
  name: string;
  manifestText: string;
  portableDataHash: string;
  properties: {
    type: "log";
    container_uuid: string;
    files: Record<string, string>;
    /** Per file, bytes of the beginning not kept (only files that were cut). */
    truncated: Record<string, number>;
  };
}

const md5 = (data: string | Buffer) => createHash("md5").update(data).digest("hex");

/** A file name as a manifest token: space, tab, newline, colon and backslash as \ooo octal escapes (Arvados). */
function escapeName(name: string): string {
  return name.replace(/[\s:\\]/g, (ch) => `\\${ch.charCodeAt(0).toString(8).padStart(3, "0")}`);
}

/** One stream (".") holding the files in name order, each in its own block. */
export function manifestOf(files: readonly { name: string; text: string }[]): string {
  const sorted = [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const blocks: string[] = [];
  const tokens: string[] = [];
  let offset = 0;
  for (const f of sorted) {
    const bytes = Buffer.from(f.text, "utf8");
    if (bytes.length > 0) blocks.push(`${md5(bytes)}+${bytes.length}`);
    tokens.push(`${offset}:${bytes.length}:${escapeName(f.name)}`);
    offset += bytes.length;
  }
  return `. ${(blocks.length ? blocks : [EMPTY_BLOCK]).join(" ")} ${tokens.join(" ")}\n`;
}

/** Arvados' portable data hash of a manifest without hints: md5 and byte length of its text. */
export function portableDataHash(manifest: string): string {
  return `${md5(manifest)}+${Buffer.byteLength(manifest, "utf8")}`;
}

export function logCollection(containerUuid: string, files: readonly LogFile[]): LogCollectionInput {
  const manifestText = manifestOf(files);
  return {
    name: `log for container ${containerUuid}`,
    manifestText,
    portableDataHash: portableDataHash(manifestText),
    properties: {
      type: "log",
      container_uuid: containerUuid,
      files: Object.fromEntries(files.map((f) => [f.name, f.text])),
      truncated: Object.fromEntries(files.filter((f) => f.droppedBytes > 0).map((f) => [f.name, f.droppedBytes])),
    },
  };
}
