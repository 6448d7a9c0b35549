/**
 * Rejects operations nested deeper than `maxDepth` fields (fragments followed, each measured
 * once per document), so one request cannot fan out without bound. Introspection's own nesting
 * is exempt here (graphql's MaxIntrospectionDepthRule, among the specified rules, bounds it).
 */
import { GraphQLError, Kind, type ASTVisitor, type FragmentDefinitionNode, type SelectionSetNode, type ValidationContext } from "graphql";

export function depthLimitRule(maxDepth: number) {
  return (context: ValidationContext): ASTVisitor => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const def of context.getDocument().definitions)
      if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);

    // Each fragment's depth is computed once per document: a fragment spread many times (or
    // fragments that each spread the next twice) must not cost time exponential in their number.
    const fragmentDepths = new Map<string, number>();
    const inProgress = new Set<string>();
    const fragmentDepth = (name: string): number => {
      const known = fragmentDepths.get(name);
      if (known !== undefined) return known;
      const frag = fragments.get(name);
      if (!frag || inProgress.has(name)) return 0; // unknown or cyclic fragments are other rules' errors
      inProgress.add(name);
      const depth = depthOf(frag.selectionSet);
      inProgress.delete(name);
      fragmentDepths.set(name, depth);
      return depth;
    };

    const depthOf = (set: SelectionSetNode | undefined): number => {
      if (!set) return 0;
      let deepest = 0;
      for (const sel of set.selections) {
        if (sel.kind === Kind.FIELD) {
          if (sel.name.value.startsWith("__")) continue;
          deepest = Math.max(deepest, 1 + depthOf(sel.selectionSet));
        } else if (sel.kind === Kind.INLINE_FRAGMENT) {
          deepest = Math.max(deepest, depthOf(sel.selectionSet));
        } else {
          deepest = Math.max(deepest, fragmentDepth(sel.name.value));
        }
      }
      return deepest;
    };

    return {
      OperationDefinition(node) {
        const depth = depthOf(node.selectionSet);
        if (depth > maxDepth)
          context.reportError(
            new GraphQLError(`Operation "${node.name?.value ?? "(anonymous)"}" is nested ${depth} levels deep; the limit is ${maxDepth}.`, {
              nodes: [node],
              extensions: { code: "BAD_USER_INPUT" },
            }),
          );
      },
    };
  };
}
