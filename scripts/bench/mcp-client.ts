// The agent side of the gateway scenarios: MCP over Streamable HTTP with JSON answers, on the load
// generator's keep-alive connections (the same requests an MCP client sends, without its SDK's
// per-call overhead on this machine's shared cores).
import type { Answer, HttpClient } from "./load.js";

const PROTOCOL = "2025-11-25";

export interface McpSession {
  url: string;
  id: string;
  headers: Record<string, string>;
  /** MCP 2026-07-28: no session; every request carries the `_meta` envelope and the mirrored headers. */
  modern?: boolean;
}

const MODERN = "2026-07-28";
const ENVELOPE = {
  "io.modelcontextprotocol/protocolVersion": MODERN,
  "io.modelcontextprotocol/clientInfo": { name: "bench", version: "1.0.0" },
  "io.modelcontextprotocol/clientCapabilities": {},
};

/** An agent of the 2026-07-28 era: nothing to open, its requests go to its principal's context. */
export function modernAgent(url: string, token: string): McpSession {
  return { url, id: "", headers: { Authorization: `Bearer ${token}`, "MCP-Protocol-Version": MODERN }, modern: true };
}

interface RpcAnswer {
  result?: { isError?: boolean; content?: { text?: string }[] };
  error?: { code: number; message: string };
}

function post(http: HttpClient, url: string, headers: Record<string, string>, message: unknown): Promise<Answer> {
  return http.send(
    "POST",
    url,
    { "Content-Type": "application/json", Accept: "application/json, text/event-stream", ...headers },
    JSON.stringify(message),
  );
}

/** initialize, notifications/initialized, tools/list: what a client does before its first call. */
export async function openMcpSession(http: HttpClient, url: string, token?: string): Promise<McpSession> {
  const auth: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
  const init = await post(http, url, auth, {
    jsonrpc: "2.0",
    id: 0,
    method: "initialize",
    params: { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: "bench", version: "1.0.0" } },
  });
  const id = init.headers["mcp-session-id"];
  if (init.status !== 200 || typeof id !== "string") throw new Error(`initialize failed: ${init.status} ${init.body}`);
  const session = { url, id, headers: { ...auth, "Mcp-Session-Id": id, "MCP-Protocol-Version": PROTOCOL } };
  const initialized = await post(http, url, session.headers, { jsonrpc: "2.0", method: "notifications/initialized" });
  if (initialized.status !== 202) throw new Error(`notifications/initialized failed: ${initialized.status}`);
  const list = await post(http, url, session.headers, { jsonrpc: "2.0", id: 1, method: "tools/list" });
  if (list.status !== 200) throw new Error(`tools/list failed: ${list.status} ${list.body}`);
  return session;
}

let nextId = 10;

/** One tools/call; resolves to an error description, or undefined when the tool answered. */
export async function callTool(
  http: HttpClient,
  session: McpSession,
  name: string,
  text: string,
): Promise<string | undefined> {
  const headers = session.modern
    ? { ...session.headers, "Mcp-Method": "tools/call", "Mcp-Name": name }
    : session.headers;
  const answer = await post(http, session.url, headers, {
    jsonrpc: "2.0",
    id: ++nextId,
    method: "tools/call",
    params: { name, arguments: { text }, ...(session.modern ? { _meta: ENVELOPE } : {}) },
  });
  if (answer.status !== 200) return `HTTP ${answer.status}: ${answer.body.slice(0, 200)}`;
  const body = JSON.parse(answer.body) as RpcAnswer;
  if (body.error) return `JSON-RPC ${body.error.code}: ${body.error.message}`;
  if (body.result?.isError) return `tool error: ${body.result.content?.[0]?.text ?? ""}`;
  if (body.result?.content?.[0]?.text !== text) return `unexpected answer: ${answer.body.slice(0, 200)}`;
  return undefined;
}
