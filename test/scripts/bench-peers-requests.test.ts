// The requests scenario 8 sends (scripts/bench/peers/requests.ts) count a wrong answer or a stalled
// peer as an error, never as a request served: a peer that answers an OAuth error, something that
// is not JSON, or nothing at all fails the measurement instead of flattering or hanging it.
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpClient } from "../../scripts/bench/load.js";
import { echoCall, rpcMessage, tokenRequest } from "../../scripts/bench/peers/requests.js";

describe("bench peers: requests", () => {
  let server: Server;
  let base = "";
  const http = httpClient(4);

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === "/stall") return; // never answers
      if (req.url === "/oauth-error")
        return res
          .writeHead(400, { "Content-Type": "application/json" })
          .end(JSON.stringify({ error: "invalid_grant", error_description: "used" }));
      if (req.url === "/html") return res.writeHead(200, { "Content-Type": "text/html" }).end("<html>");
      if (req.url === "/sse")
        return res
          .writeHead(200, { "Content-Type": "text/event-stream" })
          .end(
            `event: message\ndata: ${JSON.stringify({ jsonrpc: "2.0", id: 1, result: { content: [{ type: "text", text: "wrong" }] } })}\n\n`,
          );
      res.writeHead(404).end();
    }).listen(0, "127.0.0.1");
    await once(server, "listening");
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    http.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it("an OAuth error answer is an error carrying its code", async () => {
    await expect(tokenRequest(http, `${base}/oauth-error`, "Basic x", {})).rejects.toThrow(/400: invalid_grant used/);
  });

  it("a 200 that is not a token response is an error", async () => {
    await expect(tokenRequest(http, `${base}/html`, "Basic x", {})).rejects.toThrow(/HTTP 200: <html>/);
  });

  it("a peer that never answers is an error, not a hang", async () => {
    await expect(tokenRequest(http, `${base}/stall`, "Basic x", {}, 200)).rejects.toThrow(/no answer within 200 ms/);
  });

  it("a tool answer sent as an SSE event is read, and one that does not echo is an error", async () => {
    const session = { url: `${base}/sse`, id: "s", headers: {} };
    expect(await echoCall(http, session, "echo", "right")).toMatch(/unexpected answer/);
    expect(rpcMessage("text/event-stream", 'data: {"jsonrpc":"2.0","id":1,"result":{}}\n\n')).toEqual({
      jsonrpc: "2.0",
      id: 1,
      result: {},
    });
    expect(() => rpcMessage("text/event-stream", "event: ping\n\n")).toThrow(/no JSON-RPC message/);
  });
});
