/**
 * Refuses text PostgreSQL cannot store (a NUL character) or that is not well-formed Unicode
 * (a lone surrogate), in variables and in string literals alike, with BAD_USER_INPUT before
 * anything runs, instead of a database error later.
 */
import { GraphQLError, visit, type DocumentNode } from "graphql";
import type { ApolloServerPlugin } from "@apollo/server";

function badText(s: string): boolean {
  return s.includes("\u0000") || !(s as string & { isWellFormed(): boolean }).isWellFormed();
}

/** The path of the first unstorable string in a value, or undefined. */
function findBadText(value: unknown, path: string): string | undefined {
  if (typeof value === "string") return badText(value) ? path : undefined;
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) {
      const found = findBadText(v, `${path}[${i}]`);
      if (found) return found;
    }
  } else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      const found = badText(k) ? `${path}.(key)` : findBadText(v, `${path}.${k}`);
      if (found) return found;
    }
  }
  return undefined;
}

function literalHasBadText(document: DocumentNode): boolean {
  let bad = false;
  visit(document, { StringValue: (node) => void (bad ||= badText(node.value)) });
  return bad;
}

export const inputTextPlugin: ApolloServerPlugin = {
  async requestDidStart() {
    return {
      async didResolveOperation({ request, document }) {
        const where = findBadText(request.variables ?? {}, "variables") ?? (literalHasBadText(document) ? "a string literal" : undefined);
        if (where)
          throw new GraphQLError(`${where}: text must not contain NUL characters or unpaired surrogates`, {
            extensions: { code: "BAD_USER_INPUT", http: { status: 400 } },
          });
      },
    };
  },
};
