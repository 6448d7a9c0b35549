/**
 * What an operation may cost, computed before it runs, with the request's actual variables.
 *
 * Every selection costs 1 (`__typename` and introspection too, aliases and fragment spreads
 * each time). A field that returns many items multiplies what is selected inside it:
 *  - a page by its `first`; without `first`, by the default page size, once per path: default
 *    pages nested in a default page count 1 here (as one does through a project's
 *    subprojects), and what they really resolve is counted as it runs (see below);
 *  - a batch (`uuids`) by its number of distinct uuids;
 *  - a field that asks other clusters (`clusters`) by their number (its fan-out);
 * and these multiply down the tree (a page inside a page costs the product). A list of
 * scalars costs one per item, and so does a batch answered by one value (dropCachedTokens
 * does its work per uuid whatever it returns). Large text fields (manifests, properties)
 * carry a weight of their own per selection: the records of one page or batch are distinct
 * rows, bounded by what is stored (and by the response cap), while aliases repeat the same
 * large text without bound. So do the introspection roots (`__schema`, `__type`): tens of KB
 * of the same answer per alias, needing no token, and their lists have no `first` to count.
 * The budget (`limits.maxQueryCost`) is one number per request.
 *
 * While the operation runs, the fields actually resolved are counted too (every item's fields),
 * and past the same budget the rest fail with QUERY_TOO_COMPLEX: what the static cost lets
 * through (nested default pages) cannot grow without bound either.
 */
import type { ApolloServerPlugin } from "@apollo/server";
import { MapperKind, mapSchema } from "@graphql-tools/utils";
import {
  GraphQLError, Kind, defaultFieldResolver, SchemaMetaFieldDef, TypeMetaFieldDef, getNamedType, isCompositeType, isListType, getNullableType,
  type DocumentNode, type FieldNode, type FragmentDefinitionNode, type GraphQLCompositeType, type GraphQLField,
  type GraphQLSchema, type OperationDefinitionNode, type SelectionSetNode, type ValueNode,
} from "graphql";
import { ErrorCode, tooComplex } from "../errors";
import { MAX_CLUSTERS } from "./args";
import type { RequestContext } from "./context";

/** Weight of one selection of a field whose value may be megabytes of text. */
export const LARGE_TEXT_WEIGHT = 1000;
/**
 * A secret's value is up to 64 KiB and its versions an unbounded list; an unwrap (or look-up)
 * needs no token and writes an audit row, so its aliases are weighed like large text too.
 */
const LARGE_TEXT_FIELDS = new Set([
  "Collection.manifestText", "Collection.properties", "SecretValue.value", "Secret.versions", "Mutation.unwrapSecret", "Query.wrappingInfo",
  // A container request's and a container's JSON fields: up to 64 KiB each (src/containers/validation.ts).
  ...["ContainerRequest", "Container"].flatMap((t) =>
    ["command", "environment", "mounts", "runtimeConstraints", "schedulingParameters"].map((f) => `${t}.${f}`)),
  "ContainerRequest.properties", "Container.runtimeStatus",
  // Up to 100 values of 64 KiB, each read where its secret lives (an audit row, maybe a remote call).
  "Query.containerSecrets", "ContainerSecret.value",
]);
const INTROSPECTION_ROOTS = new Set<GraphQLField<unknown, unknown>>([SchemaMetaFieldDef, TypeMetaFieldDef]);

export interface CostOptions {
  defaultPageSize: number;
  maxPageSize: number;
}

export interface CostBudget extends CostOptions {
  maxQueryCost: number;
}

type Variables = Record<string, unknown>;

/** Items multiply down the tree; large text adds up per selection (see the module comment). */
interface Cost {
  items: number;
  text: number;
}
const NOTHING: Cost = { items: 0, text: 0 };

/** The value of argument `name` on `node`: a literal, a variable's value, or undefined. */
function argumentValue(node: FieldNode, name: string, variables: Variables): unknown {
  const arg = node.arguments?.find((a) => a.name.value === name);
  return arg ? literal(arg.value, variables) : undefined;
}

function literal(value: ValueNode, variables: Variables): unknown {
  switch (value.kind) {
    case Kind.VARIABLE:
      return variables[value.name.value];
    case Kind.INT:
      return Number(value.value);
    case Kind.LIST:
      return value.values.map((v) => literal(v, variables));
    case Kind.STRING:
      return value.value;
    default:
      return undefined;
  }
}

/** How many distinct items a list argument names (a lone value is a list of one). */
function distinctCount(value: unknown): number {
  if (value == null) return 0;
  return Array.isArray(value) ? new Set(value.map((v) => (typeof v === "string" ? v : JSON.stringify(v) ?? ""))).size : 1;
}

const clamp = (n: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, n));

/**
 * How many items field `def`, selected by `node`, may return for each of its parent's, and
 * whether it used the default page size (`defaults`: whether the path may still use it).
 */
function multiplier(def: GraphQLField<unknown, unknown>, node: FieldNode, variables: Variables, o: CostOptions, defaults: boolean): { m: number; usedDefault: boolean } {
  let m = 1;
  let usedDefault = false;
  const has = (name: string) => def.args.some((a) => a.name === name);
  if (has("first")) {
    const first = argumentValue(node, "first", variables);
    // Past the page limit the field is refused when it runs; it does no work, so it costs the limit.
    if (typeof first === "number" && Number.isFinite(first)) m *= clamp(Math.floor(first), 1, o.maxPageSize);
    else if (defaults) [m, usedDefault] = [m * o.defaultPageSize, true];
  }
  if (has("uuids")) m *= clamp(distinctCount(argumentValue(node, "uuids", variables)), 1, o.maxPageSize);
  if (has("clusters")) m *= clamp(distinctCount(argumentValue(node, "clusters", variables)), 1, MAX_CLUSTERS);
  return { m, usedDefault };
}

/** The cost of running `operation` of `document` with `variables` (see the module comment). */
export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Variables,
  o: CostOptions,
): number {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);

  // A fragment costs the same wherever it is spread (its parent multiplies it): measured once,
  // so fragments that each spread the next twice cost linear time, not exponential.
  const fragmentCosts = new Map<string, Cost>();
  const fragmentCost = (name: string, defaults: boolean): Cost => {
    const key = `${name}:${defaults}`;
    const known = fragmentCosts.get(key);
    if (known !== undefined) return known;
    const frag = fragments.get(name);
    fragmentCosts.set(key, NOTHING); // a cycle (refused by validation) ends here
    const type = frag && schema.getType(frag.typeCondition.name.value);
    const cost = frag && type && isCompositeType(type) ? selectionCost(frag.selectionSet, type, defaults) : NOTHING;
    fragmentCosts.set(key, cost);
    return cost;
  };

  const fieldDef = (parent: GraphQLCompositeType, name: string): GraphQLField<unknown, unknown> | undefined => {
    if (name === SchemaMetaFieldDef.name) return SchemaMetaFieldDef;
    if (name === TypeMetaFieldDef.name) return TypeMetaFieldDef;
    return "getFields" in parent ? parent.getFields()[name] : undefined;
  };

  const fieldCost = (node: FieldNode, parent: GraphQLCompositeType, defaults: boolean): Cost => {
    const def = fieldDef(parent, node.name.value);
    if (!def) return { items: 1, text: 0 }; // __typename (or a field validation refused)
    const large = LARGE_TEXT_FIELDS.has(`${parent.name}.${def.name}`) || INTROSPECTION_ROOTS.has(def);
    const text = large ? LARGE_TEXT_WEIGHT : 0;
    const { m, usedDefault } = multiplier(def, node, variables, o, defaults);
    const type = getNamedType(def.type);
    // Inside: what is selected, or, for a list of scalars or a batch, one per item.
    if (node.selectionSet && isCompositeType(type)) {
      const inner = selectionCost(node.selectionSet, type, defaults && !usedDefault);
      return { items: 1 + m * inner.items, text: text + inner.text };
    }
    return { items: 1 + (isListType(getNullableType(def.type)) || m > 1 ? m : 0), text };
  };

  const selectionCost = (set: SelectionSetNode, parent: GraphQLCompositeType, defaults: boolean): Cost => {
    const total = { items: 0, text: 0 };
    for (const sel of set.selections) {
      let c: Cost;
      if (sel.kind === Kind.FIELD) c = fieldCost(sel, parent, defaults);
      else if (sel.kind === Kind.FRAGMENT_SPREAD) c = fragmentCost(sel.name.value, defaults);
      else {
        const type = sel.typeCondition ? schema.getType(sel.typeCondition.name.value) : parent;
        // Each branch of a union is counted, as if every item were of every type: an upper bound.
        c = type && isCompositeType(type) ? selectionCost(sel.selectionSet, type, defaults) : NOTHING;
      }
      total.items += c.items;
      total.text += c.text;
    }
    return total;
  };

  const root = schema.getRootType(operation.operation);
  const cost = root ? selectionCost(operation.selectionSet, root, true) : NOTHING;
  return cost.items + cost.text;
}

/**
 * Refuses an operation over budget once its variables are known, before it runs: a request
 * error (HTTP 400) with code QUERY_TOO_COMPLEX and the computed cost in the message.
 */
export function queryCostPlugin(budget: CostBudget): ApolloServerPlugin {
  // An operation whose cost reads none of its variables (most: a uuid is no page size) costs the
  // same every time, and Apollo hands back the same parsed document for the same text: it is
  // computed once per operation, not per request.
  const constantCosts = new WeakMap<OperationDefinitionNode, number>();
  const costOf = (schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, variables: Variables): number => {
    const known = constantCosts.get(operation);
    if (known !== undefined) return known;
    let readVariables = false;
    const watched = new Proxy(variables, { get: (target, name) => ((readVariables = true), Reflect.get(target, name)) });
    const cost = operationCost(schema, document, operation, watched, budget);
    if (!readVariables) constantCosts.set(operation, cost);
    return cost;
  };
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ schema, document, operation, request }) {
          if (!operation) return; // no such operation: Apollo refuses it
          const variables = request.variables && typeof request.variables === "object" ? request.variables : {};
          const cost = costOf(schema, document, operation, variables);
          if (cost <= budget.maxQueryCost) return;
          const name = operation.name?.value ?? "(anonymous)";
          const shown = cost > 1e12 ? "over a trillion" : String(cost);
          throw new GraphQLError(`Operation "${name}" would cost ${shown}; the budget is ${budget.maxQueryCost} (ask for fewer items, aliases or clusters at once).`, {
            extensions: { code: ErrorCode.QUERY_TOO_COMPLEX, cost, budget: budget.maxQueryCost, http: { status: 400 } },
          });
        },
      };
    },
  };
}

/**
 * `schema` with every field counted as it resolves, against the request's `fieldsLeft`: past
 * the budget the rest fail with QUERY_TOO_COMPLEX. One decrement per field, where an Apollo
 * `willResolveField` hook would make Apollo wrap and dispatch every field of every request.
 */
export function countResolvedFields(schema: GraphQLSchema, maxQueryCost: number): GraphQLSchema {
  return mapSchema(schema, {
    [MapperKind.OBJECT_FIELD]: (field) => {
      const resolve = field.resolve ?? defaultFieldResolver;
      return {
        ...field,
        resolve(source, args, ctx: RequestContext, info) {
          if (--ctx.fieldsLeft < 0) throw tooComplex(`this request resolved more than ${maxQueryCost} fields; ask for fewer items at once`);
          return resolve(source, args, ctx, info);
        },
      };
    },
  });
}
