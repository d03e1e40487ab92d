// How an upstream operation fails, for every layer that reads it: the HTTP client of MCP
// upstreams (streamable-http-client.ts) raises these, the apps raise and pass them on, and the
// session's call pipeline turns them into outcomes. The lowest layer of the apps, importing none.

/**
 * An upstream that cannot be reached or answers garbage. Reported in its own error (a tool
 * error result, or a note in the tool list) without breaking the other apps.
 */
export class UpstreamError extends Error {
  constructor(
    readonly app: string,
    message: string,
    readonly upstreamStatus?: number,
    /**
     * The JSON-RPC error an HTTP error status carried in its body, if any: a 2026-07-28 server
     * says what it refused that way (MCP 2026-07-28 basic/transports/streamable-http,
     * "Backward Compatibility"), e.g. an unsupported protocol version or a header mismatch.
     */
    readonly rpcError?: { code: number; message: string; data?: unknown },
  ) {
    super(message);
    this.name = "UpstreamError";
  }
}

/** A JSON-RPC error the upstream answered (e.g. an unknown prompt or resource), code kept. */
export class UpstreamJsonRpcError extends UpstreamError {
  constructor(
    app: string,
    readonly code: number,
    message: string,
    readonly data: unknown,
    /** Absent when the gateway itself refused on the upstream's behalf (nothing was sent). */
    upstreamStatus?: number,
  ) {
    super(app, message, upstreamStatus);
    this.name = "UpstreamJsonRpcError";
  }
}

/**
 * A refusal the agent gets as a JSON-RPC error even on a tool call (not a tool error result):
 * MissingRequiredClientCapability for a 2026-07-28 agent (MCP 2026-07-28 basic/patterns/mrtr).
 */
export class UpstreamProtocolError extends UpstreamJsonRpcError {}

/**
 * Why an operation's signal aborts when the agent cancelled the request it serves (MCP
 * 2026-07-28 basic/patterns/cancellation: closing the response stream; MCP 2025-11-25
 * basic/utilities/cancellation: `notifications/cancelled`), as opposed to its app's timeout.
 */
export class RequestCancelled extends Error {
  override readonly name = "RequestCancelled";
  constructor(message = "the agent cancelled the request") {
    super(message);
  }
}

/** The operation stopped because the agent cancelled its request; the upstream was told (streamable-http-client.ts). */
export class UpstreamCancelled extends UpstreamError {
  constructor(app: string) {
    super(app, "the agent cancelled the request");
    this.name = "UpstreamCancelled";
  }
}
