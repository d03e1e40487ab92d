// Structured JSON logs, one object per line: Workers Logs and Logpush index the fields, and
// trace_id / span_id tie each line to its trace. Callers pass facts, never tokens or secrets.
import { currentSpanId, currentTraceId } from "./telemetry/spans.js";

export type LogLevel = "debug" | "info" | "warn" | "error";

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
let threshold: number = RANK.info;

/** From the tier's `observability.logLevel`, applied at startup. */
export function setLogLevel(level: LogLevel): void {
  threshold = RANK[level];
}

export function log(level: LogLevel, event: string, fields: Record<string, unknown> = {}): void {
  if (RANK[level] < threshold) return;
  const traceId = currentTraceId();
  const trace = traceId ? { trace_id: traceId, span_id: currentSpanId() } : {};
  const line = JSON.stringify({ time: new Date().toISOString(), level, event, ...trace, ...fields });
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}
