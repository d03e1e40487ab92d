// Structured log lines (src/core/log.ts): a line prepared now and written later says what was
// true when it was prepared (its time and trace), so writing audit lines after the reply has
// left (src/gateway/session/session-audit.ts) changes when they are written, not what they say.
import { context, trace, TraceFlags } from "@opentelemetry/api";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { log, prepareLog, setLogLevel } from "../../src/core/log.js";
import { AsyncLocalStorageContextManager } from "../../src/core/telemetry/context-manager.js";

const TRACE_ID = "0af7651916cd43dd8448eb211c80319c";
const SPAN_ID = "b7ad6b7169203331";

beforeAll(() => context.setGlobalContextManager(new AsyncLocalStorageContextManager()));
afterAll(() => context.disable());

let printed: string[] = [];
beforeAll(() => {
  for (const method of ["log", "warn", "error"] as const)
    vi.spyOn(console, method).mockImplementation((line: string) => void printed.push(`${method} ${line}`));
});
afterEach(() => {
  printed = [];
  setLogLevel("info");
  vi.useRealTimers();
});

function inTrace<T>(fn: () => T): T {
  const span = trace.wrapSpanContext({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: TraceFlags.SAMPLED });
  return context.with(trace.setSpan(context.active(), span), fn);
}

describe("a prepared log line", () => {
  it("is written only when called, with the time and trace it was prepared under", () => {
    vi.useFakeTimers({ now: new Date("2026-01-02T03:04:05.000Z") });
    const write = inTrace(() => prepareLog("info", "audit.tool_call", { tool: "github__echo" }));
    expect(printed).toEqual([]);
    vi.setSystemTime(new Date("2026-01-02T03:04:09.000Z"));
    write!();
    expect(printed).toHaveLength(1);
    expect(printed[0]!.startsWith("log ")).toBe(true);
    expect(JSON.parse(printed[0]!.slice(4))).toEqual({
      time: "2026-01-02T03:04:05.000Z",
      level: "info",
      event: "audit.tool_call",
      trace_id: TRACE_ID,
      span_id: SPAN_ID,
      tool: "github__echo",
    });
  });

  it("reads the same as the line log() writes at once", () => {
    vi.useFakeTimers({ now: new Date("2026-01-02T03:04:05.000Z") });
    inTrace(() => {
      log("warn", "outbound.token_refused", { app: "github" });
      prepareLog("warn", "outbound.token_refused", { app: "github" })!();
    });
    expect(printed).toHaveLength(2);
    expect(printed[0]).toBe(printed[1]);
    expect(printed[0]!.startsWith("warn ")).toBe(true);
  });

  it("is nothing below the configured level", () => {
    setLogLevel("warn");
    expect(prepareLog("info", "mcp.session.created")).toBeUndefined();
    log("info", "mcp.session.created");
    expect(printed).toEqual([]);
  });
});
