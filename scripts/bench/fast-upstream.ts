// The "fast local upstream" of the gateway scenarios: an MCP server over Streamable HTTP on
// node:http that answers in plain JSON (no SSE, no SDK, no validation), so that what it costs is
// next to nothing and the same for a direct call and a call through the gateway. One tool, `echo`.
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface FastUpstream {
  /** The MCP endpoint, e.g. http://127.0.0.1:41235/mcp */
  url: string;
  /** tools/call requests answered so far, and how many carried no bearer token (must stay 0). */
  calls: number;
  unauthenticated: number;
  close(): Promise<void>;
}

const ECHO_TOOL = {
  name: "echo",
  description: "Returns its text",
  inputSchema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] },
};

interface Message {
  id?: string | number;
  method?: string;
  params?: { protocolVersion?: string; arguments?: { text?: unknown } };
}

function answer(res: ServerResponse, id: Message["id"], result: unknown, headers: Record<string, string> = {}): void {
  res
    .writeHead(200, { "Content-Type": "application/json", ...headers })
    .end(JSON.stringify({ jsonrpc: "2.0", id, result }));
}

export async function startFastUpstream(): Promise<FastUpstream> {
  const upstream: FastUpstream = { url: "", calls: 0, unauthenticated: 0, close: async () => undefined };
  const handle = (req: IncomingMessage, res: ServerResponse, body: string) => {
    let message: Message;
    try {
      message = JSON.parse(body) as Message;
    } catch {
      res.writeHead(400).end();
      return;
    }
    // Notifications (and responses) get 202 with no body (MCP transports, "Sending Messages").
    if (message.id === undefined) return void res.writeHead(202).end();
    switch (message.method) {
      case "initialize":
        return answer(
          res,
          message.id,
          {
            protocolVersion: message.params?.protocolVersion ?? "2025-11-25",
            capabilities: { tools: {} },
            serverInfo: { name: "fast-upstream", version: "1.0.0" },
          },
          { "Mcp-Session-Id": randomUUID() },
        );
      case "tools/list":
        return answer(res, message.id, { tools: [ECHO_TOOL] });
      case "tools/call":
        upstream.calls++;
        if (!req.headers.authorization) upstream.unauthenticated++;
        return answer(res, message.id, {
          content: [{ type: "text", text: String(message.params?.arguments?.text ?? "") }],
        });
      case "ping":
        return answer(res, message.id, {});
      default:
        res
          .writeHead(200, { "Content-Type": "application/json" })
          .end(
            JSON.stringify({ jsonrpc: "2.0", id: message.id, error: { code: -32601, message: "Method not found" } }),
          );
    }
  };
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (body += chunk));
    req.on("end", () => handle(req, res, body));
  });
  // Long keep-alive: the gateway and the load generator both reuse their connections.
  server.keepAliveTimeout = 60_000;
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  upstream.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
  upstream.close = async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  };
  return upstream;
}
