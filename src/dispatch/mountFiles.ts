/**
 * The files a running container gets in its working directory before its command starts.
 * S2 (secret mounts) fills this from `containerSecrets`, asked with the container's own token
 * (`containerGql`) once the container is Running; each becomes a 0600 file at its path
 * (workDir.ts writeMountFiles), removed with the directory after the run.
 */
import type { GraphQLRun } from "../graphqlClient";
import type { MountFile } from "./workDir";

export async function mountFiles(containerGql: GraphQLRun): Promise<MountFile[]> {
  void containerGql; // S2: `{ containerSecrets { path value } }` through it
  return [];
}
