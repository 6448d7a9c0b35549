/**
 * OpenTelemetry traces, off unless configured (`telemetry.otlpEndpoint` or the standard
 * OTEL_EXPORTER_OTLP_ENDPOINT). Spans: one per GraphQL request (continuing the caller's W3C
 * trace context, so a federated query is one trace across clusters), one per root field
 * resolver, one per call to another cluster (which carries the trace context on), one per
 * database query. Attributes are names and identifiers only: never a token, a secret or a
 * variable's value.
 */
import { context, INVALID_SPAN_CONTEXT, propagation, SpanKind, SpanStatusCode, trace, type Context, type Span } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, NodeTracerProvider, type SpanExporter, type SpanProcessor } from "@opentelemetry/sdk-trace-node";

let provider: NodeTracerProvider | undefined;

/** Registers the process's tracer provider (once: every cluster of a process shares it). */
export function enableTracing(processor: SpanProcessor): void {
  if (provider) return;
  provider = new NodeTracerProvider({ resource: resourceFromAttributes({ "service.name": "fedgate" }), spanProcessors: [processor] });
  provider.register(); // AsyncLocalStorage context and the W3C trace-context propagator
}

/** Traces to an OTLP/HTTP collector at `endpoint` (e.g. http://otel-collector:4318). */
export function enableOtlpTracing(endpoint: string): void {
  enableTracing(new BatchSpanProcessor(new OTLPTraceExporter({ url: `${endpoint.replace(/\/+$/, "")}/v1/traces` }) as SpanExporter));
}

export function tracingEnabled(): boolean {
  return provider !== undefined;
}

/** Sends what is buffered and stops (at shutdown). */
export async function stopTracing(): Promise<void> {
  await provider?.shutdown();
  provider = undefined;
}

const tracer = () => trace.getTracer("fedgate");
/** What `inSpan` hands its function while tracing is off: a span that records nothing. */
const NOT_RECORDING = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/** Runs `fn` in a span named `name` (a child of the active one); the span records a failure. */
export function inSpan<T>(name: string, kind: SpanKind, attributes: Record<string, string | number>, fn: (span: Span) => Promise<T>, parent?: Context): Promise<T> {
  if (!provider) return fn(NOT_RECORDING);
  return tracer().startActiveSpan(name, { kind, attributes }, parent ?? context.active(), async (span) => {
    try {
      return await fn(span);
    } catch (e) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (e as Error).name });
      throw e;
    } finally {
      span.end();
    }
  });
}

/** The trace context a request arrived with (its `traceparent` header), to continue it. */
export function incomingContext(headers: { get(name: string): string | undefined }): Context {
  return propagation.extract(context.active(), headers, { get: (h, key) => h.get(key), keys: () => [] });
}

/** Adds the current trace context to outgoing request headers. */
export function injectContext(headers: Record<string, string>): void {
  if (provider) propagation.inject(context.active(), headers);
}

export { SpanKind };
