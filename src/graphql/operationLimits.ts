/**
 * Bounds what one operation may ask for, before it runs: how deep its fields nest and how
 * many field selections it makes in all (aliases counted, fragments counted each time they are
 * spread, `__typename` too), so one request can neither nest nor fan out without bound, a
 * cheap syntactic bound. What the fields cost (pages, batches, fan-out) is queryCost.ts's
 * business, once the variables are known. Introspection counts towards the fields but not the
 * depth (graphql's MaxIntrospectionDepthRule bounds that).
 */
import { GraphQLError, Kind, type ASTVisitor, type FragmentDefinitionNode, type OperationDefinitionNode, type SelectionSetNode, type ValidationContext } from "graphql";

export interface OperationLimits {
  maxDepth: number;
  maxFields: number;
}

interface Measure {
  depth: number;
  fields: number;
}

export function operationLimitsRule(limits: OperationLimits) {
  return (context: ValidationContext): ASTVisitor => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const def of context.getDocument().definitions)
      if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);

    // Each fragment is measured once per document: a fragment spread many times (or fragments
    // that each spread the next twice) must not cost time exponential in their number.
    const measured = new Map<string, Measure>();
    const inProgress = new Set<string>();
    const fragmentMeasure = (name: string): Measure => {
      const known = measured.get(name);
      if (known) return known;
      const frag = fragments.get(name);
      if (!frag || inProgress.has(name)) return { depth: 0, fields: 0 }; // unknown or cyclic: other rules' errors
      inProgress.add(name);
      const m = measure(frag.selectionSet);
      inProgress.delete(name);
      measured.set(name, m);
      return m;
    };

    const measure = (set: SelectionSetNode | undefined): Measure => {
      const total = { depth: 0, fields: 0 };
      if (!set) return total;
      for (const sel of set.selections) {
        let m: Measure;
        if (sel.kind === Kind.FIELD) {
          const inner = measure(sel.selectionSet);
          // Introspection nests deeper than any API query (graphql's own rule bounds its depth),
          // but its fields count: thousands of aliased __schema fields would be a flood.
          const introspection = sel.name.value.startsWith("__");
          m = { depth: introspection ? 0 : 1 + inner.depth, fields: 1 + inner.fields };
        } else if (sel.kind === Kind.INLINE_FRAGMENT) {
          m = measure(sel.selectionSet);
        } else {
          m = fragmentMeasure(sel.name.value);
        }
        total.depth = Math.max(total.depth, m.depth);
        total.fields += m.fields;
      }
      return total;
    };

    const fail = (node: OperationDefinitionNode, message: string) =>
      context.reportError(new GraphQLError(message, { nodes: [node], extensions: { code: "BAD_USER_INPUT" } }));

    return {
      OperationDefinition(node) {
        const name = node.name?.value ?? "(anonymous)";
        const m = measure(node.selectionSet);
        if (m.depth > limits.maxDepth) fail(node, `Operation "${name}" is nested ${m.depth} levels deep; the limit is ${limits.maxDepth}.`);
        if (m.fields > limits.maxFields)
          fail(node, `Operation "${name}" selects ${m.fields > 1e9 ? "over a billion" : m.fields} fields; the limit is ${limits.maxFields}.`);
      },
    };
  };
}
