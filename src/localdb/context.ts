/** What the local backend's resource modules share. */
import type { PrismaClient } from "@prisma/client";
import type { LocalTokens } from "../auth/localTokens";
import type { ContainerDeps } from "../containers/deps";
import type { Reader } from "../db/reader";
import type { SecretStoreOptions } from "./secrets";

export interface LocalContext {
  prisma: PrismaClient;
  /** The hot reads (lists and look-ups by uuid), outside Prisma. */
  reader: Reader;
  clusterId: string;
  tokens: LocalTokens;
  secrets: SecretStoreOptions;
  containers: ContainerDeps;
}
