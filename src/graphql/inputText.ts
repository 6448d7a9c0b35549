/**
 * Refuses text PostgreSQL cannot store (a NUL character) or that is not well-formed Unicode
 * (a lone surrogate), in variables and in string literals alike, and variables nested beyond any
 * input of this API, with BAD_USER_INPUT before anything runs, instead of a database error (or
 * a stack overflow) later.
 */
import { GraphQLError, visit, type DocumentNode } from "graphql";
import type { ApolloServerPlugin } from "@apollo/server";

function badText(s: string): boolean {
  return s.includes("\u0000") || !(s as string & { isWellFormed(): boolean }).isWellFormed();
}

const BAD_TEXT = "text must not contain NUL characters or unpaired surrogates";

/** Deeper than any input of this API: refused rather than walked (or overflowing a stack later). */
export const MAX_INPUT_DEPTH = 64;

/**
 * What is wrong with the first unstorable string in a value (or the first value nested deeper
 * than MAX_INPUT_DEPTH), with its path; undefined when nothing is. Walked with an explicit stack, so hostile nesting cannot
 * overflow the call stack here.
 */
function findBadText(value: unknown, path: string): string | undefined {
  const stack: { value: unknown; path: string; depth: number }[] = [{ value, path, depth: 0 }];
  while (stack.length) {
    const { value: v, path: p, depth } = stack.pop()!;
    if (typeof v === "string") {
      if (badText(v)) return `${p}: ${BAD_TEXT}`;
    } else if (v && typeof v === "object") {
      if (depth >= MAX_INPUT_DEPTH) return `${p.slice(0, 80)}…: nested deeper than ${MAX_INPUT_DEPTH} levels`;
      const entries = Array.isArray(v) ? v.map((x, i) => [`[${i}]`, x] as const) : Object.entries(v).map(([k, x]) => [`.${k}`, x] as const);
      for (const [k, x] of entries.reverse()) {
        if (!Array.isArray(v) && badText(k.slice(1))) return `${p}.(key): ${BAD_TEXT}`;
        stack.push({ value: x, path: `${p}${k}`, depth: depth + 1 });
      }
    }
  }
  return undefined;
}

/** Per parsed document (Apollo hands back the same one for the same text): its literals are checked once. */
const literalVerdicts = new WeakMap<DocumentNode, boolean>();

function literalHasBadText(document: DocumentNode): boolean {
  let bad = literalVerdicts.get(document);
  if (bad === undefined) {
    bad = false;
    visit(document, { StringValue: (node) => void (bad ||= badText(node.value)) });
    literalVerdicts.set(document, bad);
  }
  return bad;
}

export const inputTextPlugin: ApolloServerPlugin = {
  async requestDidStart() {
    return {
      async didResolveOperation({ request, document }) {
        const problem = findBadText(request.variables ?? {}, "variables") ?? (literalHasBadText(document) ? `a string literal: ${BAD_TEXT}` : undefined);
        if (problem)
          throw new GraphQLError(problem, {
            extensions: { code: "BAD_USER_INPUT", http: { status: 400 } },
          });
      },
    };
  },
};
