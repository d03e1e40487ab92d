// The span and duration of each MCP request a session answers, named and attributed after the
// OpenTelemetry MCP semantic conventions (`{mcp.method.name} {target}`, mcp.* attributes). The
// parent is the agent's trace: MCP `_meta.traceparent` when the message carries one (it names the
// agent's own operation), else the HTTP request's, as the front passed it on.
import { telemetryMetrics, secondsSince } from "../../core/telemetry/metrics.js";
import { contextFromTraceparent, inSpan, markSpanError, SpanKind } from "../../core/telemetry/spans.js";
import type { JSONRPCMessage, JSONRPCRequest } from "./messages.js";

function metaTraceparent(request: JSONRPCRequest): string | undefined {
  const meta = (request.params as { _meta?: { traceparent?: unknown } } | undefined)?._meta;
  return typeof meta?.traceparent === "string" ? meta.traceparent : undefined;
}

function toolName(request: JSONRPCRequest): string | undefined {
  const name = (request.params as { name?: unknown } | undefined)?.name;
  return request.method === "tools/call" && typeof name === "string" ? name : undefined;
}

export async function traceRequest(
  sessionId: string,
  request: JSONRPCRequest,
  httpTraceparent: string | undefined,
  answer: () => Promise<JSONRPCMessage>,
): Promise<JSONRPCMessage> {
  const started = Date.now();
  const tool = toolName(request);
  const attributes = {
    "mcp.method.name": request.method,
    ...(tool ? { "gen_ai.tool.name": tool, "gen_ai.operation.name": "execute_tool" } : {}),
  };
  let errorType: string | undefined;
  const reply = await inSpan(
    tool ? `${request.method} ${tool}` : request.method,
    {
      kind: SpanKind.SERVER,
      attributes: { ...attributes, "mcp.session.id": sessionId, "jsonrpc.request.id": String(request.id) },
    },
    async (span) => {
      const message = await answer();
      if ("error" in message) {
        errorType = String((message.error as { code: number }).code);
        markSpanError(span, errorType);
      }
      return message;
    },
    contextFromTraceparent(metaTraceparent(request) ?? httpTraceparent),
  );
  telemetryMetrics().mcpOperationDuration.record(secondsSince(started), {
    ...attributes,
    ...(errorType ? { "error.type": errorType } : {}),
  });
  return reply;
}
