// Span helpers over @opentelemetry/api: application code names spans and attributes; the
// providers installed by telemetry.ts (or the API's no-ops) do the rest.
import {
  context,
  INVALID_SPAN_CONTEXT,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
} from "@opentelemetry/api";
import { VERSION } from "../version.js";

export { SpanKind };

const tracer = () => trace.getTracer("ai-identity-gateway", VERSION);

/** Whether a tracer provider records spans (telemetry.ts installs one when OTLP is configured). */
let recording = false;

export function recordSpans(): void {
  recording = true;
}

/**
 * Runs `fn` in a new active span, ending it and recording a thrown error as the span's status.
 * With nothing recording, a span without an explicit parent would only repeat the active trace
 * context: `fn` then runs in that context as it is (a request's root span, given `parent`, still
 * activates the incoming traceparent, so it flows on to the auth tier and upstreams). A request
 * that brought no traceparent has nothing to carry on (its parent is the root context): its root
 * span, recording nothing, is skipped too.
 */
export function inSpan<T>(
  name: string,
  options: { kind?: SpanKind; attributes?: Attributes },
  fn: (span: Span) => Promise<T>,
  parent?: Context,
): Promise<T> {
  if (!recording && (!parent || parent === ROOT_CONTEXT))
    return fn(trace.getActiveSpan() ?? trace.wrapSpanContext(INVALID_SPAN_CONTEXT));
  const run = (span: Span) =>
    fn(span).then(
      (value) => {
        span.end();
        return value;
      },
      (err: unknown) => {
        span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.name : "error" });
        span.setAttribute("error.type", err instanceof Error ? err.name : "error");
        span.end();
        throw err;
      },
    );
  return parent ? tracer().startActiveSpan(name, options, parent, run) : tracer().startActiveSpan(name, options, run);
}

/** Marks the active span as failed without an exception (e.g. a deny, an upstream 5xx). */
export function markSpanError(span: Span, errorType: string): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message: errorType });
  span.setAttribute("error.type", errorType);
}

/** The trace context carried by a `traceparent` value (and `tracestate`), or the root context. */
export function contextFromTraceparent(traceparent: string | undefined, tracestate?: string): Context {
  if (!traceparent) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, { traceparent, ...(tracestate ? { tracestate } : {}) });
}

/** The incoming trace context of an HTTP request's headers. */
export function contextFromHeaders(headers: Headers): Context {
  return contextFromTraceparent(headers.get("traceparent") ?? undefined, headers.get("tracestate") ?? undefined);
}

/** The `traceparent` to send on with an outgoing call from here, if there is a trace. */
export function currentTraceparent(): string | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent;
}

/** The active trace's id, for logs and audit events. */
export function currentTraceId(): string | undefined {
  const spanContext = trace.getSpan(context.active())?.spanContext();
  return spanContext && trace.isSpanContextValid(spanContext) ? spanContext.traceId : undefined;
}

export function currentSpanId(): string | undefined {
  const spanContext = trace.getSpan(context.active())?.spanContext();
  return spanContext && trace.isSpanContextValid(spanContext) ? spanContext.spanId : undefined;
}
