// The instruments both tiers record (docs/observability.md documents each). Created on first
// use from the global meter, so with no exporter configured they are the API's no-ops.
import { metrics, type Counter, type Gauge, type Histogram, type UpDownCounter } from "@opentelemetry/api";
import { VERSION } from "../version.js";

interface Instruments {
  httpServerDuration: Histogram;
  mcpOperationDuration: Histogram;
  sessionsActive: UpDownCounter;
  sessionsCreated: Counter;
  toolInvocations: Counter;
  tokenExchangeDuration: Histogram;
  policyDuration: Histogram;
  upstreamDuration: Histogram;
  tokensIssued: Counter;
  redisErrors: Counter;
  redisDuration: Histogram;
  auditBacklog: Gauge;
  auditDropped: Counter;
}

/** Seconds, as the HTTP semantic conventions' duration histograms use. */
const SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

let instruments: Instruments | undefined;
let provider: unknown;

export function telemetryMetrics(): Instruments {
  // Recreated if the global provider changed (it is installed once per isolate, at setup).
  const current = metrics.getMeterProvider();
  if (instruments && provider === current) return instruments;
  provider = current;
  const meter = metrics.getMeter("ai-identity-gateway", VERSION);
  const seconds = (name: string, description: string) =>
    meter.createHistogram(name, { unit: "s", description, advice: { explicitBucketBoundaries: SECONDS } });
  instruments = {
    httpServerDuration: seconds(
      "http.server.request.duration",
      "Duration of HTTP server requests (semantic conventions)",
    ),
    mcpOperationDuration: seconds(
      "mcp.server.operation.duration",
      "Duration of an MCP request handled by the gateway (semantic conventions)",
    ),
    sessionsActive: meter.createUpDownCounter("mcp.sessions.active", {
      unit: "{session}",
      description: "MCP sessions open (created minus ended, per isolate)",
    }),
    sessionsCreated: meter.createCounter("mcp.sessions.created", {
      unit: "{session}",
      description: "MCP sessions created",
    }),
    toolInvocations: meter.createCounter("tool.invocations", {
      unit: "{call}",
      description: "tools/call requests, by app, tool, decision and outcome",
    }),
    tokenExchangeDuration: seconds(
      "token_exchange.duration",
      "RFC 8693 token exchanges made by the gateway, by outcome",
    ),
    policyDuration: seconds("policy.duration", "OPA policy evaluation for a tools/call"),
    upstreamDuration: seconds(
      "upstream.duration",
      "Calls to an app's upstream (MCP server or REST API), by app and outcome",
    ),
    tokensIssued: meter.createCounter("auth.tokens.issued", {
      unit: "{token}",
      description: "Access tokens issued by the auth tier, by grant type",
    }),
    redisErrors: meter.createCounter("redis.errors", {
      unit: "{error}",
      description: "Failed Redis operations in the auth tier, by operation",
    }),
    redisDuration: seconds("db.client.operation.duration", "Redis operations of the auth tier (semantic conventions)"),
    auditBacklog: meter.createGauge("audit.outbox.backlog", {
      unit: "{event}",
      description: "Audit events waiting in an outbox shard for the sink, by shard",
    }),
    auditDropped: meter.createCounter("audit.events.dropped", {
      unit: "{event}",
      description: "Audit events dropped before the sink acknowledged them, by reason",
    }),
  };
  return instruments;
}

/** Seconds since `startMs` (Date.now()), for duration histograms. */
export function secondsSince(startMs: number): number {
  return (Date.now() - startMs) / 1000;
}
