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
  prepareLog(level, event, fields)?.();
}

/**
 * A log line whose facts (time, trace and span, fields) are taken now and which is written when
 * the returned function is called: for lines that need not be out before a reply, so that their
 * serialization and write happen after it. Undefined when the level is below the threshold.
 */
export function prepareLog(
  level: LogLevel,
  event: string,
  fields: Record<string, unknown> = {},
): (() => void) | undefined {
  if (RANK[level] < threshold) return undefined;
  const time = new Date().toISOString();
  const traceId = currentTraceId();
  const trace = traceId ? { trace_id: traceId, span_id: currentSpanId() } : {};
  return () => {
    const line = JSON.stringify({ time, level, event, ...trace, ...fields });
    if (level === "error") console.error(line);
    else if (level === "warn") console.warn(line);
    else console.log(line);
  };
}
