// Protocol errors as types (as node-oidc-provider's errors.js does). They are thrown
// anywhere and turned into their wire format in exactly one place per tier (its onError).
import type { ConfigIssue } from "./config-loader.js";

/** RFC 6749 §5.2 error response. */
export class OAuthError extends Error {
  constructor(
    readonly error: string,
    readonly description: string,
    readonly status: 400 | 401 | 403 | 404 | 405 | 413 | 415 | 429 | 500 | 503 = 400,
    readonly headers: Record<string, string> = {},
  ) {
    super(`${error}: ${description}`);
    this.name = "OAuthError";
  }
}

/** JSON-RPC 2.0 error codes (JSON-RPC 2.0 §5.1) and the MCP transport's server-defined range. */
export const JsonRpcCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** Transport-level rejections (bad headers, unknown session); MCP servers use -32000..-32099. */
  ServerError: -32000,
  /** The gateway's policy denied a prompt or resource request (tool calls get a tool error result instead). */
  PolicyDenied: -32003,
} as const;

/**
 * A JSON-RPC error, optionally raised at the HTTP transport level, in which case it carries
 * the HTTP status the Streamable HTTP transport prescribes (400, 404, 406, 413, 415...).
 */
export class JsonRpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly httpStatus = 400,
    readonly data?: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "JsonRpcError";
  }
}

/** A tier started with a configuration that does not validate. */
export class ConfigError extends Error {
  constructor(readonly tier: "auth" | "gateway", readonly issues: ConfigIssue[]) {
    super(`invalid ${tier} configuration`);
    this.name = "ConfigError";
  }
}
