import { ErrorCode } from "@modelcontextprotocol/sdk/types.js";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { ConfigError, GatewayErrorCode, JsonRpcError } from "../core/errors.js";
import { log } from "../core/log.js";

/**
 * The one place where the gateway's errors become wire responses. The MCP endpoint speaks
 * JSON-RPC, so transport-level rejections are JSON-RPC error objects with `id: null` (the request's id when a
 * 2026-07-28 request was read far enough to know it) and the
 * HTTP status the Streamable HTTP transport names. Unexpected errors are logged, not shown.
 */
export function renderGatewayError(err: Error, c: Context): Response {
  if (err instanceof JsonRpcError) {
    return jsonRpcErrorResponse(c, err.httpStatus, err.code, err.message, err.data, err.headers, err.id);
  }
  if (err instanceof ConfigError) {
    return jsonRpcErrorResponse(c, 500, ErrorCode.InternalError, "the gateway's configuration is invalid", {
      issues: err.issues,
    });
  }
  if (err instanceof HTTPException && err.status < 500) {
    return jsonRpcErrorResponse(c, err.status, GatewayErrorCode.ServerError, err.message || "bad request");
  }
  log("error", "gateway.unhandled", { path: new URL(c.req.url).pathname, error: String(err), stack: err.stack });
  return jsonRpcErrorResponse(c, 500, ErrorCode.InternalError, "internal error");
}

function jsonRpcErrorResponse(
  c: Context,
  status: number,
  code: number,
  message: string,
  data?: unknown,
  headers: Record<string, string> = {},
  id: string | number | null = null,
): Response {
  const error = data === undefined ? { code, message } : { code, message, data };
  return new Response(JSON.stringify({ jsonrpc: "2.0", id, error }), {
    status,
    headers: { "Content-Type": "application/json", "Cache-Control": "no-store", ...headers },
  });
}
