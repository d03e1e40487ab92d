// Header checks of the MCP Streamable HTTP transport, as pure functions of header values.
import { GatewayErrorCode, JsonRpcError } from "../../core/errors.js";
import { isSupportedProtocolVersion, VERSION_WHEN_HEADER_ABSENT } from "./protocol.js";

export type ResponseFormat = "json" | "sse";

/** Media types in an Accept header, lower-cased, without parameters, skipping q=0. */
function acceptedTypes(accept: string): string[] {
  return accept
    .split(",")
    .map((part) => part.trim().toLowerCase().split(";"))
    .filter(([, ...params]) => !params.some((p) => /^\s*q\s*=\s*0(\.0*)?\s*$/.test(p)))
    .map(([type]) => type!.trim());
}

/**
 * Clients list both application/json and text/event-stream; we answer with JSON when it is
 * accepted (one body, no stream to hold open) and with SSE when only the stream is. Neither
 * → 406 Not Acceptable (RFC 9110 §15.5.7).
 */
export function chooseResponseFormat(accept: string | undefined): ResponseFormat {
  const types = acceptedTypes(accept ?? "");
  if (types.some((t) => t === "application/json" || t === "application/*" || t === "*/*")) return "json";
  if (types.includes("text/event-stream")) return "sse";
  throw new JsonRpcError(
    GatewayErrorCode.ServerError,
    "Not Acceptable: Accept must list application/json and text/event-stream",
    406,
  );
}

/** Whether the client takes an SSE answer (it then receives related notifications before the response). */
export function acceptsEventStream(accept: string | undefined): boolean {
  return acceptedTypes(accept ?? "").includes("text/event-stream");
}

/** POST bodies are JSON-RPC in JSON; anything else → 415 Unsupported Media Type (RFC 9110 §15.5.16). */
export function requireJsonContentType(contentType: string | undefined): void {
  const type = contentType?.split(";")[0]?.trim().toLowerCase();
  if (type !== "application/json") {
    throw new JsonRpcError(
      GatewayErrorCode.ServerError,
      "Unsupported Media Type: Content-Type must be application/json",
      415,
    );
  }
}

/**
 * MCP 2025-06-18+ "Protocol Version Header": an invalid or unsupported MCP-Protocol-Version
 * MUST get 400 Bad Request; without one the server assumes 2025-03-26.
 */
export function readProtocolVersionHeader(value: string | undefined): string {
  if (value === undefined) return VERSION_WHEN_HEADER_ABSENT;
  if (!isSupportedProtocolVersion(value.trim())) {
    throw new JsonRpcError(
      GatewayErrorCode.ServerError,
      `Bad Request: unsupported MCP-Protocol-Version: ${value.slice(0, 32)}`,
      400,
    );
  }
  return value.trim();
}

/**
 * MCP Streamable HTTP, "Security Warning": servers MUST validate Origin to prevent DNS
 * rebinding; an Origin that is present and not allowed gets 403 Forbidden.
 */
export function requireAllowedOrigin(origin: string | undefined, resource: string, allowed: readonly string[]): void {
  if (origin === undefined) return;
  // The gateway's own origin is its configured resource's, never the request's: a rebinding
  // page reaches the gateway under the attacker's host name, and Host would vouch for it.
  if (origin === new URL(resource).origin || allowed.includes(origin)) return;
  throw new JsonRpcError(GatewayErrorCode.ServerError, "Forbidden: Origin not allowed", 403);
}
