// Hand-built Streamable HTTP requests, for tests that check the transport byte by byte.
// (Tests of ordinary use drive the gateway with the MCP SDK's own Client instead.)
import { createParser } from "eventsource-parser";
import type { RunningWorker } from "./workers.js";

export const ACCEPT_BOTH = "application/json, text/event-stream";
export const LATEST = "2025-11-25";

export function initializeRequest(
  protocolVersion = LATEST,
  id: number | string = 1,
  capabilities: Record<string, unknown> = {},
) {
  return {
    jsonrpc: "2.0",
    id,
    method: "initialize",
    params: { protocolVersion, capabilities, clientInfo: { name: "spec-test", version: "1.0.0" } },
  };
}

export function postMcp(
  gateway: RunningWorker,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return gateway.fetch("/mcp", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: ACCEPT_BOTH, ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** Opens a session the way a client does: initialize, then notifications/initialized. */
export async function openSession(
  gateway: RunningWorker,
  protocolVersion = LATEST,
  capabilities: Record<string, unknown> = {},
): Promise<string> {
  const res = await postMcp(gateway, initializeRequest(protocolVersion, 1, capabilities));
  if (res.status !== 200) throw new Error(`initialize failed: ${res.status} ${await res.text()}`);
  const sessionId = res.headers.get("Mcp-Session-Id");
  if (!sessionId) throw new Error("initialize returned no Mcp-Session-Id");
  const initialized = await postMcp(
    gateway,
    { jsonrpc: "2.0", method: "notifications/initialized" },
    { "Mcp-Session-Id": sessionId, "MCP-Protocol-Version": protocolVersion },
  );
  if (initialized.status !== 202) throw new Error(`notifications/initialized failed: ${initialized.status}`);
  return sessionId;
}

/** Sends one message on a session, with the headers a 2025-11-25 client sends. */
export function postOnSession(
  gateway: RunningWorker,
  sessionId: string,
  body: unknown,
  headers: Record<string, string> = {},
) {
  return postMcp(gateway, body, { "Mcp-Session-Id": sessionId, "MCP-Protocol-Version": LATEST, ...headers });
}

export function deleteSession(gateway: RunningWorker, sessionId: string): Promise<Response> {
  return gateway.fetch("/mcp", {
    method: "DELETE",
    headers: { "Mcp-Session-Id": sessionId, "MCP-Protocol-Version": LATEST },
  });
}

/** The JSON-RPC messages of an SSE body: the data of each event that has any (eventsource-parser). */
export function parseSse(text: string): unknown[] {
  const messages: unknown[] = [];
  const parser = createParser({
    onEvent: (event) => {
      if (event.data) messages.push(JSON.parse(event.data));
    },
  });
  parser.feed(text);
  return messages;
}
