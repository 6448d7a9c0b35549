/** DateTime (ISO 8601 with a time zone) and JSON (any JSON value). */
import { GraphQLScalarType, Kind, type ValueNode } from "graphql";
import { badInput } from "../errors";

const ISO_DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

/** A real calendar date: "2030-02-31" must not roll over into March. */
function realDate(value: string): boolean {
  const [y, m, d] = value.slice(0, 10).split("-").map(Number);
  const probe = new Date(Date.UTC(y, m - 1, d));
  return probe.getUTCFullYear() === y && probe.getUTCMonth() === m - 1 && probe.getUTCDate() === d;
}

function parseDate(value: unknown): Date {
  if (typeof value !== "string" || !ISO_DATETIME.test(value) || Number.isNaN(Date.parse(value)) || !realDate(value))
    throw badInput(`DateTime must be an ISO 8601 string with a time zone, e.g. "2030-01-31T12:00:00Z"`);
  return new Date(value);
}

const pad2 = (n: number) => (n < 10 ? `0${n}` : `${n}`);
const pad3 = (n: number) => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : `${n}`);
/** The last instant `toISOString` writes with a four-digit year. */
const YEAR_9999_END = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * What `toISOString` writes, at less than half its cost for years 1970–9999 (V8 formats it in
 * C++ through printf; every row of a hot list has two timestamps).
 */
function isoString(d: Date): string {
  const t = d.getTime();
  if (!(t >= 0 && t <= YEAR_9999_END)) return d.toISOString(); // other years, and invalid dates (which throw)
  return `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}T${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}.${pad3(d.getUTCMilliseconds())}Z`;
}

export const DateTime = new GraphQLScalarType({
  name: "DateTime",
  serialize: (v) => isoString(v instanceof Date ? v : new Date(String(v))),
  parseValue: parseDate,
  parseLiteral: (ast) => parseDate(ast.kind === Kind.STRING ? ast.value : undefined),
});

function literalValue(ast: ValueNode, variables?: Record<string, unknown> | null): unknown {
  switch (ast.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
      return ast.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(ast.value);
    case Kind.NULL:
      return null;
    case Kind.LIST:
      return ast.values.map((v) => literalValue(v, variables));
    case Kind.OBJECT:
      return Object.fromEntries(ast.fields.map((f) => [f.name.value, literalValue(f.value, variables)]));
    case Kind.VARIABLE:
      return variables?.[ast.name.value];
    default:
      throw badInput("JSON literal expected");
  }
}

export const JSONScalar = new GraphQLScalarType({
  name: "JSON",
  serialize: (v) => v,
  parseValue: (v) => v,
  parseLiteral: literalValue,
});
