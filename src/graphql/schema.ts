/** The executable schema: SDL files under schema/, the resolvers of each domain, scope enforcement. */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { GraphQLSchema } from "graphql";
import { makeExecutableSchema } from "@graphql-tools/schema";
import { enforceRestScopes } from "./restDirective";
import { DateTime, JSONScalar } from "./scalars";
import { collectionResolvers } from "./resolvers/collections";
import { containerResolvers } from "./resolvers/containers";
import { containerTokenResolvers } from "./resolvers/containerTokens";
import { federationResolvers, type FederationHooks } from "./resolvers/federation";
import { groupResolvers } from "./resolvers/groups";
import { permissionResolvers } from "./resolvers/permissions";
import { secretResolvers } from "./resolvers/secrets";
import { tokenResolvers } from "./resolvers/tokens";
import { userResolvers } from "./resolvers/users";

export const SCHEMA_DIR = join(__dirname, "..", "..", "schema");

export function loadTypeDefs(dir = SCHEMA_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".graphql"))
    .sort()
    .map((f) => readFileSync(join(dir, f), "utf8"));
}

export function buildSchema(hooks: FederationHooks, typeDefs = loadTypeDefs()): GraphQLSchema {
  const schema = makeExecutableSchema({
    typeDefs,
    resolvers: [
      { DateTime, JSON: JSONScalar },
      federationResolvers(hooks),
      userResolvers,
      groupResolvers,
      collectionResolvers,
      containerResolvers,
      containerTokenResolvers,
      permissionResolvers,
      tokenResolvers,
      secretResolvers,
    ],
  });
  return enforceRestScopes(schema);
}
