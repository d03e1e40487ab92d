// Sends OTLP/HTTP JSON. The official OTLP exporters have no fetch transport that runs on
// Workers (open-telemetry/opentelemetry-js#4631), so encoding is the official
// @opentelemetry/otlp-transformer and sending is this one fetch, always inside waitUntil.
import { JsonMetricsSerializer, JsonTraceSerializer } from "@opentelemetry/otlp-transformer";
import type { ResourceMetrics } from "@opentelemetry/sdk-metrics";
import type { ReadableSpan } from "@opentelemetry/sdk-trace";

export interface OtlpTarget {
  endpoint: string;
  headers: Record<string, string>;
}

const EXPORT_TIMEOUT_MS = 5_000;

async function post(target: OtlpTarget, path: string, body: Uint8Array | undefined): Promise<void> {
  if (!body) return;
  const url = `${target.endpoint.replace(/\/$/, "")}${path}`;
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { ...target.headers, "Content-Type": "application/json" },
      body,
      signal: AbortSignal.timeout(EXPORT_TIMEOUT_MS),
    });
    await res.body?.cancel();
    // Telemetry never fails a request and never logs through itself (no loops): one console line.
    if (!res.ok)
      console.warn(JSON.stringify({ level: "warn", event: "telemetry.export_failed", path, status: res.status }));
  } catch (err) {
    console.warn(JSON.stringify({ level: "warn", event: "telemetry.export_failed", path, error: (err as Error).name }));
  }
}

export function exportSpans(target: OtlpTarget, spans: ReadableSpan[]): Promise<void> {
  return post(target, "/v1/traces", JsonTraceSerializer.serializeRequest(spans));
}

export function exportMetrics(target: OtlpTarget, metrics: ResourceMetrics): Promise<void> {
  return post(target, "/v1/metrics", JsonMetricsSerializer.serializeRequest(metrics));
}
