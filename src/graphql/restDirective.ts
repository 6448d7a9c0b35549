/**
 * One schema transform enforces token scopes for every field annotated with
 * `@rest(method, path)`: before the resolver runs, the field's REST equivalent is expanded
 * and checked against the scope sets in force. A denied field is a FORBIDDEN field error; the
 * rest of the query still resolves. Building the schema fails if a field that needs an
 * annotation lacks one, so a new field cannot forget it.
 */
import { Kind, defaultFieldResolver, getNamedType, isAbstractType, isObjectType, type GraphQLFieldConfig, type GraphQLNamedType, type GraphQLResolveInfo, type GraphQLSchema, type SelectionSetNode } from "graphql";
import { MapperKind, getDirective, mapSchema } from "@graphql-tools/utils";
import { allAllow, expandRestPath } from "../auth/scopes";
import { forbidden, unauthenticated } from "../errors";
import type { RequestContext } from "./context";

export interface RestAnnotation {
  method: string;
  path: string;
  identity: boolean;
  public: boolean;
}

function hasDirective(schema: GraphQLSchema, type: GraphQLNamedType, name: string): boolean {
  return isObjectType(type) && Boolean(getDirective(schema, type, name)?.length);
}

/**
 * True when a field of this type reaches other resources: a @resource type, a @page of them
 * (its items are exempt only because the field returning the page is checked), or a union or
 * interface with such a member.
 */
function reachesResource(schema: GraphQLSchema, type: GraphQLNamedType): boolean {
  const members = isAbstractType(type) ? schema.getPossibleTypes(type) : [type];
  return members.some((t) => hasDirective(schema, t, "resource") || hasDirective(schema, t, "page"));
}

/**
 * Fields that must carry @rest and do not: every root field, and every field reaching a
 * resource (or a page of them) except the items of a @page type.
 */
export function missingRestAnnotations(schema: GraphQLSchema): string[] {
  const roots = new Set([schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].filter(Boolean));
  const missing: string[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith("__")) continue;
    const onPage = hasDirective(schema, type, "page");
    for (const field of Object.values(type.getFields())) {
      if (getDirective(schema, field, "rest")?.length) continue;
      if (roots.has(type) || (!onPage && reachesResource(schema, getNamedType(field.type))))
        missing.push(`${type.name}.${field.name}`);
    }
  }
  return missing;
}

/** The field's REST paths: one, or one per element when the named argument is a list. */
function restPaths(template: string, args: Record<string, unknown>, source: unknown): string[] {
  const listArg = /\{([A-Za-z_][A-Za-z0-9_]*)\}/.exec(template)?.[1];
  const listValue = listArg !== undefined ? args[listArg] : undefined;
  const lookup = (value: unknown) => (name: string) =>
    name === listArg && Array.isArray(listValue) ? value : (args[name] ?? (source as Record<string, unknown> | null)?.[name]);
  // An empty batch is still a request for objects of that kind: it is checked as one unnamed
  // item ("%00"), which only a prefix scope over the kind allows, rather than not at all.
  if (Array.isArray(listValue) && listValue.length) return listValue.map((v) => expandRestPath(template, lookup(v)));
  return [expandRestPath(template, lookup(undefined))];
}

/** Refuses callers that may not use the field at all: anonymous, salted beyond identity look-ups, inactive. */
function authorizeCaller(ctx: RequestContext, rest: RestAnnotation) {
  if (rest.public) return undefined;
  const p = ctx.caller?.principal;
  if (!p) throw unauthenticated("this operation needs a token (Authorization: Bearer <token>)");
  if (p.saltedFor && !rest.identity)
    throw forbidden(`a token salted for cluster ${p.saltedFor} may only make identity look-ups on its home cluster`);
  if (!p.user.isActive && !rest.identity) throw forbidden(`user "${p.user.uuid}" is not active on this cluster`);
  return p;
}

/**
 * What a cluster validating a token salted for it always gets, whatever the token's scopes:
 * the token's user (the token itself, `currentToken`, is always allowed by every scope set).
 */
function isValidationMinimum(rest: RestAnnotation): boolean {
  return rest.method === "GET" && rest.path === "/arvados/v1/users/current";
}

/**
 * The first of the field's REST paths the token's scopes do not allow, if any. A salted
 * principal's scope sets are those in force on the cluster it was salted for (see the
 * Authenticator), so its look-ups here are no broader than its requests there.
 */
function deniedPath(ctx: RequestContext, rest: RestAnnotation, source: unknown, args: Record<string, unknown>): string | undefined {
  const p = authorizeCaller(ctx, rest);
  if (!p || (p.saltedFor && isValidationMinimum(rest))) return undefined;
  if (p.scopeSets.every((s) => s === null)) return undefined; // unscoped: every path is allowed, none need expanding
  return restPaths(rest.path, args, source).find((path) => !allAllow(p.scopeSets, rest.method, path));
}

/** Fields that reveal nothing about an object fetched by its uuid beyond that uuid. */
const IDENTIFYING = new Set(["uuid", "cluster", "__typename"]);

/**
 * Whether the selection reaches into the object only through fields that check their own
 * scopes (plus its uuid), and through at least one of them, and the token's scopes allow each
 * of those for the object named by the arguments: then a token scoped to, say,
 * `GET /arvados/v1/groups/{uuid}/contents` can use `project(uuid) { contents }` as in REST.
 * (Without the last condition any token, even `[]`, could fetch the object and learn whether it
 * exists and is visible, where REST answers 403 before looking.)
 */
function selectsOnlyGuarded(ctx: RequestContext, info: GraphQLResolveInfo, guarded: Map<string, RestAnnotation[]>, args: Record<string, unknown>): boolean {
  const reached = new Set<string>();
  const only = (set: SelectionSetNode | undefined): boolean =>
    !set ||
    set.selections.every((sel) => {
      if (sel.kind === Kind.FIELD) {
        if (guarded.has(sel.name.value)) reached.add(sel.name.value);
        return guarded.has(sel.name.value) || IDENTIFYING.has(sel.name.value);
      }
      return only(sel.kind === Kind.INLINE_FRAGMENT ? sel.selectionSet : info.fragments[sel.name.value]?.selectionSet);
    });
  if (!info.fieldNodes.every((n) => only(n.selectionSet)) || reached.size === 0) return false;
  // The guarded fields' paths name the object by the same arguments (e.g. {uuid}); one that
  // needs something else expands to "%00" and is then allowed only by a prefix scope.
  return [...reached].every((name) => guarded.get(name)!.every((r) => deniedPath(ctx, r, undefined, args) === undefined));
}

/** The names in the fields' path templates, e.g. ["uuid"] for /arvados/v1/groups/{uuid}. */
function placeholders(rests: RestAnnotation[]): string[] {
  return [...new Set(rests.flatMap((r) => [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1])))];
}

/** For a GET of one object named by an argument: its fields that carry their own @rest. */
function guardedFields(schema: GraphQLSchema, field: GraphQLFieldConfig<unknown, RequestContext>, rests: RestAnnotation[]): Map<string, RestAnnotation[]> | undefined {
  const type = getNamedType(field.type);
  const byArgument = rests.every((r) => r.method === "GET") && placeholders(rests).every((name) => name in (field.args ?? {}));
  if (!isObjectType(type) || !byArgument) return undefined;
  const out = new Map<string, RestAnnotation[]>();
  for (const f of Object.values(type.getFields())) {
    const own = (getDirective(schema, f, "rest") ?? []) as RestAnnotation[];
    if (own.length) out.set(f.name, own);
  }
  return out;
}

export function enforceRestScopes(schema: GraphQLSchema): GraphQLSchema {
  const missing = missingRestAnnotations(schema);
  if (missing.length) throw new Error(`fields without a @rest annotation: ${missing.join(", ")}`);
  return mapSchema(schema, {
    [MapperKind.OBJECT_FIELD]: (field: GraphQLFieldConfig<unknown, RequestContext>) => {
      // @rest is repeatable: a field with several REST equivalents needs every one allowed.
      const rests = (getDirective(schema, field, "rest") ?? []) as RestAnnotation[];
      if (!rests.length) return field;
      const resolve = field.resolve ?? defaultFieldResolver;
      const guarded = guardedFields(schema, field, rests);
      return {
        ...field,
        resolve(source, args, ctx, info) {
          const denied = rests.map((rest) => ({ rest, path: deniedPath(ctx, rest, source, args) })).find((d) => d.path !== undefined);
          if (!denied) return resolve(source, args, ctx, info);
          if (!guarded || !selectsOnlyGuarded(ctx, info, guarded, args))
            throw forbidden(`token scopes do not allow ${denied.rest.method} ${denied.path}`);
          // The object itself stays unread (its scope was denied): its sub-resources get only
          // the arguments that name it, and check their own scopes and permissions.
          return Object.fromEntries(placeholders(rests).map((name) => [name, args[name]]));
        },
      };
    },
  });
}
