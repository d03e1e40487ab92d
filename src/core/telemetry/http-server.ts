// The server span and duration of every HTTP request a tier answers, continuing the caller's
// trace (W3C traceparent), and the flush of what telemetry is due once the answer is ready.
import type { Context, MiddlewareHandler } from "hono";
import { telemetryMetrics, secondsSince } from "./metrics.js";
import { contextFromHeaders, inSpan, SpanKind } from "./spans.js";
import { flushTelemetry } from "./telemetry.js";

/** Route-like names only: a span name must not carry ids or other unbounded values. */
function route(c: Context, knownPaths: (path: string) => boolean): string {
  return knownPaths(c.req.path) ? c.req.path : "other";
}

export function httpServerTelemetry(knownPaths: (c: Context, path: string) => boolean): MiddlewareHandler {
  return async (c, next) => {
    const started = Date.now();
    const path = route(c, (p) => knownPaths(c, p));
    const attributes = { "http.request.method": c.req.method, "http.route": path };
    await inSpan(
      `${c.req.method} ${path}`,
      { kind: SpanKind.SERVER, attributes: { ...attributes, "url.path": c.req.path } },
      async (span) => {
        await next();
        span.setAttribute("http.response.status_code", c.res.status);
        if (c.res.status >= 500) span.setAttribute("error.type", String(c.res.status));
      },
      contextFromHeaders(c.req.raw.headers),
    );
    telemetryMetrics().httpServerDuration.record(secondsSince(started), {
      ...attributes,
      "http.response.status_code": c.res.status,
    });
    flushTelemetry((promise) => c.executionCtx.waitUntil(promise));
  };
}
