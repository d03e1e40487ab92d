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
    upstreamStatus: number,
  ) {
    super(app, message, upstreamStatus);
    this.name = "UpstreamJsonRpcError";
  }
}
