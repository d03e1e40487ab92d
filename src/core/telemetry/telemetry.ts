// Per-isolate OpenTelemetry setup for a tier. The W3C propagator and the context manager are
// always installed (so traceparent flows agent → gateway → auth tier → upstream even with no
// exporter); tracer and meter providers only when `observability.otlp` is configured.
//
// Workers have no background timers that outlive a request, so nothing is exported on a
// schedule: finished spans are buffered and sent at the end of each request (flush), and
// metrics are collected and sent when `metricsInterval` has passed, both inside waitUntil so
// no response waits on telemetry.
import { context, metrics, propagation, trace } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { AggregationTemporality, MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import { TracerProvider, type ReadableSpan, type SpanProcessor } from "@opentelemetry/sdk-trace";
import { randomToken } from "../encoding.js";
import { setLogLevel } from "../log.js";
import { VERSION } from "../version.js";
import type { ObservabilityConfig } from "./config-schema.js";
import { AsyncLocalStorageContextManager } from "./context-manager.js";
import { exportMetrics, exportSpans, type OtlpTarget } from "./otlp-export.js";
import { recordSpans } from "./spans.js";

/** Spans held between flushes; beyond this, the oldest are dropped (a burst must not grow memory). */
const MAX_BUFFERED_SPANS = 2_048;

class BufferingSpanProcessor implements SpanProcessor {
  spans: ReadableSpan[] = [];
  dropped = 0;
  onStart(): void {}
  onEnd(span: ReadableSpan): void {
    if (this.spans.length >= MAX_BUFFERED_SPANS) {
      this.spans.shift();
      this.dropped++;
    }
    this.spans.push(span);
  }
  take(): ReadableSpan[] {
    const taken = this.spans;
    this.spans = [];
    return taken;
  }
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** Collected on demand (flush), never on a timer. */
class OnDemandMetricReader extends MetricReader {
  constructor() {
    // Cumulative per isolate, with service.instance.id telling isolates apart: what Prometheus-
    // style backends expect; sum the latest point of each instance for the tier's total.
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

interface Exporting {
  target: OtlpTarget;
  spans: BufferingSpanProcessor;
  reader: OnDemandMetricReader;
  metricsIntervalMs: number;
  lastMetricsExport: number;
}

let propagationInstalled = false;
let exporting: Exporting | undefined;
let configured: ObservabilityConfig | undefined;

/**
 * Applies a tier's observability configuration to this isolate (idempotent per configuration
 * object; the first one with `otlp` installs the providers, which the API allows only once).
 */
export function setupTelemetry(service: string, config: ObservabilityConfig, secrets: Record<string, string>): void {
  if (configured === config) return;
  configured = config;
  setLogLevel(config.logLevel);
  if (!propagationInstalled) {
    propagationInstalled = true;
    context.setGlobalContextManager(new AsyncLocalStorageContextManager());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  }
  if (!config.otlp || exporting) return;
  const resource = resourceFromAttributes({
    "service.name": service,
    "service.version": VERSION,
    "service.instance.id": randomToken(8),
    "cloud.provider": "cloudflare",
    "cloud.platform": "cloudflare.workers",
  });
  const spans = new BufferingSpanProcessor();
  const reader = new OnDemandMetricReader();
  trace.setGlobalTracerProvider(new TracerProvider({ resource, spanProcessors: [spans] }));
  recordSpans();
  metrics.setGlobalMeterProvider(new MeterProvider({ resource, readers: [reader] }));
  const headers = Object.fromEntries(
    Object.entries(config.otlp.headers).map(([name, ref]) => [name, secrets[ref.env] ?? ""]),
  );
  exporting = {
    target: { endpoint: config.otlp.endpoint, headers },
    spans,
    reader,
    metricsIntervalMs: config.otlp.metricsInterval,
    lastMetricsExport: Date.now(),
  };
}

async function exportNow(state: Exporting): Promise<void> {
  const spans = state.spans.take();
  const work: Promise<void>[] = [];
  if (spans.length) work.push(exportSpans(state.target, spans));
  if (Date.now() - state.lastMetricsExport >= state.metricsIntervalMs) {
    state.lastMetricsExport = Date.now();
    work.push(
      state.reader
        .collect()
        .then(({ resourceMetrics }) =>
          resourceMetrics.scopeMetrics.length ? exportMetrics(state.target, resourceMetrics) : undefined,
        ),
    );
  }
  await Promise.all(work);
}

/** Sends what is due, in the background of the current request. */
export function flushTelemetry(waitUntil: (promise: Promise<unknown>) => void): void {
  if (!exporting) return;
  if (!exporting.spans.spans.length && Date.now() - exporting.lastMetricsExport < exporting.metricsIntervalMs) return;
  waitUntil(exportNow(exporting));
}
