/**
 * One schema transform enforces token scopes for every field annotated with
 * `@rest(method, path)`: before the resolver runs, the field's REST equivalent is expanded
 * and checked against the scope sets in force. A denied field is a FORBIDDEN field error; the
 * rest of the query still resolves. Building the schema fails if a field that needs an
 * annotation lacks one, so a new field cannot forget it.
 */
import { defaultFieldResolver, getNamedType, isAbstractType, isObjectType, type GraphQLFieldConfig, type GraphQLNamedType, type GraphQLSchema } from "graphql";
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
  if (Array.isArray(listValue)) return listValue.map((v) => expandRestPath(template, lookup(v)));
  return [expandRestPath(template, lookup(undefined))];
}

export function authorizeField(ctx: RequestContext, rest: RestAnnotation, source: unknown, args: Record<string, unknown>): void {
  if (rest.public) return;
  const p = ctx.caller?.principal;
  if (!p) throw unauthenticated("this operation needs a token (Authorization: Bearer <token>)");
  if (p.saltedFor && !rest.identity)
    throw forbidden(`a token salted for cluster ${p.saltedFor} may only make identity look-ups on its home cluster`);
  if (!p.user.isActive && !rest.identity) throw forbidden(`user "${p.user.uuid}" is not active on this cluster`);
  // A salted token's scopes are applied by the cluster it was salted for, which learns them
  // from this very look-up; checking them here would make scoped tokens unusable elsewhere.
  if (p.saltedFor) return;
  for (const path of restPaths(rest.path, args, source))
    if (!allAllow(p.scopeSets, rest.method, path)) throw forbidden(`token scopes do not allow ${rest.method} ${path}`);
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
      return {
        ...field,
        resolve(source, args, ctx, info) {
          for (const rest of rests) authorizeField(ctx, rest, source, args);
          return resolve(source, args, ctx, info);
        },
      };
    },
  });
}
