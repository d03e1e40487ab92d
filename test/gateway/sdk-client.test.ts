// The gateway as an independent client sees it: the MCP TypeScript SDK's Client over its
// Streamable HTTP transport.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../helpers/gateway-stack.js";

describe("the MCP SDK client against the gateway", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack.dispose());

  it("initializes, lists tools, pings and terminates its session", async () => {
    const token = await stack.token();
    const gateway = stack.as(token);
    const transport = new StreamableHTTPClientTransport(new URL(`${gateway.url}/mcp`), {
      requestInit: { headers: { Authorization: `Bearer ${token}` } },
    });
    const client = new Client({ name: "sdk-test", version: "1.0.0" });
    await client.connect(transport);
    expect(transport.sessionId).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(client.getServerVersion()?.name).toBe("ai-identity-gateway");
    expect(await client.listTools()).toEqual({ tools: [] });
    await client.ping();
    const sessionId = transport.sessionId!;
    await transport.terminateSession();
    await client.close();

    const after = await gateway.fetch("/mcp", {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json, text/event-stream",
        "Mcp-Session-Id": sessionId,
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
    });
    expect(after.status).toBe(404);
  });
});
