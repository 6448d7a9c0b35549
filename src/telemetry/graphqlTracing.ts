/**
 * GraphQL's part of the traces: the request span is named after its operation once it is
 * known, and (while tracing is on) every root field's resolver runs in a span of its own, the
 * parent of the remote calls and database queries it makes.
 */
import { trace } from "@opentelemetry/api";
import type { ApolloServerPlugin } from "@apollo/server";
import { defaultFieldResolver, type GraphQLSchema } from "graphql";
import { MapperKind, mapSchema } from "@graphql-tools/utils";
import { inSpan, SpanKind, tracingEnabled } from "./tracing";

export const tracingPlugin: ApolloServerPlugin = {
  async requestDidStart() {
    return {
      async didResolveOperation({ operation, operationName }) {
        const span = trace.getActiveSpan();
        if (!span || !operation) return;
        const name = operationName ?? operation.name?.value ?? "anonymous";
        span.updateName(`graphql ${operation.operation} ${name}`);
        span.setAttributes({ "graphql.operation.type": operation.operation, "graphql.operation.name": name });
      },
    };
  },
};

/** `schema` with each Query and Mutation field resolved inside a span (unchanged while tracing is off). */
export function traceRootFields(schema: GraphQLSchema, clusterId: string): GraphQLSchema {
  if (!tracingEnabled()) return schema;
  return mapSchema(schema, {
    [MapperKind.ROOT_OBJECT]: (type) => type,
    [MapperKind.ROOT_FIELD]: (field, fieldName, typeName) => {
      const resolve = field.resolve ?? defaultFieldResolver;
      return {
        ...field,
        resolve: (source, args, ctx, info) =>
          inSpan(`resolve ${typeName}.${fieldName}`, SpanKind.INTERNAL, { "graphql.field.path": `${typeName}.${fieldName}`, "fedgate.cluster": clusterId }, async () =>
            resolve(source, args, ctx, info),
          ),
      };
    },
  });
}
