/**
 * The files a run left under its output path, as text for its output collection (see
 * runCollections.ts). Only regular files: a symbolic link is not followed (it could name
 * anything on this machine), and a total above the bound is refused rather than cut (an
 * output with files missing would be reused as if it were whole).
 */
import { lstat, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { storableText, type RunFile } from "./runCollections";

/** Bytes of output saved at most: the collection must fit in one request (1 MiB) with JSON escaping. */
export const MAX_OUTPUT_BYTES = 256 << 10;
/** Files (and directories) at most: each costs its manifest token and its path, however small. */
export const MAX_OUTPUT_ENTRIES = 1000;

export class OutputTooLargeError extends Error {}

/** Files under `root` by relative path; none when it does not exist (the command made no output). */
export async function readOutputFiles(root: string, maxBytes = MAX_OUTPUT_BYTES, maxEntries = MAX_OUTPUT_ENTRIES): Promise<RunFile[]> {
  const files: RunFile[] = [];
  let total = 0;
  let entries = 0;
  const walk = async (dir: string, prefix: string): Promise<void> => {
    for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (++entries > maxEntries) throw new OutputTooLargeError(`the output has more than ${maxEntries} files and directories`);
      const path = join(dir, entry.name);
      const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(path, rel);
      else if (entry.isFile()) {
        total += (await lstat(path)).size;
        if (total > maxBytes) throw new OutputTooLargeError(`the output is larger than ${maxBytes} bytes`);
        files.push({ path: rel, text: storableText(await readFile(path)) });
      }
    }
  };
  try {
    if (!(await lstat(root)).isDirectory()) return [];
  } catch {
    return [];
  }
  await walk(root, "");
  return files;
}
