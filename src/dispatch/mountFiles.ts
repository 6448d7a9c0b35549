/**
 * The files a running container gets in its working directory before its command starts: its
 * secret mounts, fetched with the container's own token once it is Running (containerSecrets;
 * each read is audited where the secret lives). Each becomes a 0600 file at its path
 * (workDir.ts writeMountFiles), removed as soon as the command has exited, before anything of
 * the run is saved, and with the directory in any case.
 */
import type { GraphQLRun } from "../graphqlClient";
import { containerSecrets, type ContainerToRun } from "./operations";
import type { MountFile } from "./workDir";

export async function mountFiles(containerGql: GraphQLRun, c: ContainerToRun): Promise<MountFile[]> {
  if (c.secretMounts.length === 0) return [];
  return (await containerSecrets(containerGql)).map((s) => ({ path: s.path, content: s.value }));
}
