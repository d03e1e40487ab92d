// The smallest MCP client over Streamable HTTP (MCP 2025-11-25, "Transports") that a chaos agent
// needs: one POST per message, every answer sorted into one outcome label. The MCP SDK's Client
// turns each of these answers into the same thrown error; the drill's table needs to tell a 503
// from a 401, a JSON-RPC error from a reset connection, and a request that never reached the
// gateway (connection refused) from one that did.
export const PROTOCOL_VERSION = "2025-11-25";

export interface McpAnswer {
  /** "ok", or what went wrong: "HTTP 503 temporarily_unavailable", "JSON-RPC error -32603", "tool error", "connection lost (ECONNRESET)", "timeout", "connection refused". */
  outcome: string;
  /** False when the request never reached the gateway (connection refused): nothing was accepted. */
  reached: boolean;
  /** The gateway answered with a JSON-RPC message (so it handled, and audited, a tools/call). */
  answered: boolean;
  status?: number;
  sessionId?: string;
  result?: Record<string, unknown>;
}

/** The JSON-RPC message of a reply: a JSON body, or the `data:` of an SSE stream's message event. */
function message(
  contentType: string,
  body: string,
): { result?: Record<string, unknown>; error?: { code: number; message: string } } | undefined {
  try {
    if (!contentType.includes("text/event-stream")) return JSON.parse(body);
    // A reply stream carries one response (MCP "Sending Messages to the Server"); notifications
    // that precede it have no `result` or `error` and are skipped.
    for (const block of body.split(/\r?\n\r?\n/)) {
      const data = block
        .split(/\r?\n/)
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).trimStart())
        .join("\n");
      if (!data) continue;
      const parsed = JSON.parse(data) as { result?: unknown; error?: unknown };
      if ("result" in parsed || "error" in parsed) return parsed as ReturnType<typeof message>;
    }
  } catch {
    // not JSON: reported as such below
  }
  return undefined;
}

/** The OAuth error code of a refusal (RFC 6750 §3 WWW-Authenticate, or an OAuth JSON body), as " <code>". */
function errorCode(res: Response, text: string): string {
  const challenge = /error="([^"]+)"/.exec(res.headers.get("WWW-Authenticate") ?? "");
  if (challenge) return ` ${challenge[1]}`;
  try {
    const error = (JSON.parse(text) as { error?: unknown }).error;
    return typeof error === "string" ? ` ${error}` : "";
  } catch {
    return "";
  }
}

/** A tool error's text as a short label that tallies: the cause the gateway names, without tool names, URLs or numbers. */
function toolErrorText(result: Record<string, unknown>): string {
  const text = ((result.content ?? []) as { text?: string }[]).map((c) => c.text ?? "").join(" ");
  const exchange = /token exchange refused \(([^)]+)\)/.exec(text);
  if (exchange) return `token exchange refused (${exchange[1]})`;
  if (/unreachable/.test(text)) return "upstream unreachable";
  if (/no answer within|did not answer within/.test(text)) return "upstream timeout";
  const general = text
    .replace(/^(Authorization for \S+ failed|The \S+ app is unavailable|The tool \S+ is unavailable): /, "")
    .replace(/\b\w+__\w+\b/g, "<tool>")
    .replace(/https?:\/\/\S+/g, "<url>")
    .replace(/\d+/g, "N")
    .replace(/\s+/g, " ")
    .trim();
  return general.length > 60 ? `${general.slice(0, 59)}…` : general;
}

/** What a thrown fetch error means for the caller. */
function failure(err: unknown): McpAnswer {
  const cause = (err as { cause?: { code?: string } }).cause;
  if ((err as Error).name === "TimeoutError") return { outcome: "timeout", reached: true, answered: false };
  if (cause?.code === "ECONNREFUSED") return { outcome: "connection refused", reached: false, answered: false };
  return { outcome: `connection lost${cause?.code ? ` (${cause.code})` : ""}`, reached: true, answered: false };
}

export interface McpPost {
  url: string;
  token: string;
  sessionId?: string;
  body: Record<string, unknown>;
  timeoutMs: number;
}

/** An MCP `initialize` (no session yet) as client `clientName`; the answer carries the new session's id. */
export function initializeMcp(url: string, token: string, clientName: string, timeoutMs: number): Promise<McpAnswer> {
  return postMcp({
    url,
    token,
    timeoutMs,
    body: {
      jsonrpc: "2.0",
      id: 0,
      method: "initialize",
      params: {
        protocolVersion: PROTOCOL_VERSION,
        capabilities: {},
        clientInfo: { name: clientName, version: "1.0.0" },
      },
    },
  });
}

export async function postMcp({ url, token, sessionId, body, timeoutMs }: McpPost): Promise<McpAnswer> {
  const headers: Record<string, string> = {
    Authorization: `Bearer ${token}`,
    "Content-Type": "application/json",
    Accept: "application/json, text/event-stream",
  };
  if (sessionId) Object.assign(headers, { "Mcp-Session-Id": sessionId, "MCP-Protocol-Version": PROTOCOL_VERSION });
  try {
    const res = await fetch(url, {
      method: "POST",
      headers,
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    const returned = res.headers.get("Mcp-Session-Id") ?? undefined;
    if (res.status === 202) return { outcome: "ok", reached: true, answered: false, status: 202 };
    if (res.status !== 200) {
      return {
        outcome: `HTTP ${res.status}${errorCode(res, text)}`,
        reached: true,
        answered: false,
        status: res.status,
      };
    }
    const reply = message(res.headers.get("Content-Type") ?? "", text);
    if (!reply) return { outcome: "unreadable reply", reached: true, answered: false, status: 200 };
    if (reply.error)
      return {
        outcome: `JSON-RPC error ${reply.error.code}`,
        reached: true,
        answered: true,
        status: 200,
        ...(returned ? { sessionId: returned } : {}),
      };
    if (reply.result?.isError)
      return {
        outcome: `tool error: ${toolErrorText(reply.result)}`,
        reached: true,
        answered: true,
        status: 200,
        result: reply.result,
      };
    return {
      outcome: "ok",
      reached: true,
      answered: true,
      status: 200,
      ...(returned ? { sessionId: returned } : {}),
      ...(reply.result ? { result: reply.result } : {}),
    };
  } catch (err) {
    return failure(err);
  }
}
