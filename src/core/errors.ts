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

/**
 * The gateway's own JSON-RPC error codes, in the range JSON-RPC 2.0 §5.1 reserves for
 * implementation-defined server errors (-32000 to -32099). The standard codes are the MCP SDK's
 * `ErrorCode`, imported where they are used; not here, since both tiers import this module and
 * the auth tier has no use for the SDK.
 */
export const GatewayErrorCode = {
  /** Transport-level rejections (bad headers, unknown session), as the MCP SDK's servers answer them. */
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
    /** The id of the request being refused, when it could be read (MCP 2026-07-28: errors carry the request's id). */
    readonly id: string | number | null = null,
  ) {
    super(message);
    this.name = "JsonRpcError";
  }
}

/** A tier started with a configuration that does not validate. */
export class ConfigError extends Error {
  constructor(
    readonly tier: "auth" | "gateway",
    readonly issues: ConfigIssue[],
  ) {
    super(`invalid ${tier} configuration`);
    this.name = "ConfigError";
  }
}
