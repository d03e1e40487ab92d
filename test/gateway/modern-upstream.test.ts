// A legacy agent reaches a modern upstream through the gateway, end to end in workerd: the MCP
// SDK's v1 Client (protocol 2025-11-25, its own Streamable HTTP transport) calls tools of an MCP
// Proxy app whose upstream is a v2 SDK server of the 2026-07-28 era. The upstream's
// `input_required` results reach the agent as elicitation requests on its response stream, its
// answers go back upstream on the retry (MCP 2026-07-28 basic/patterns/mrtr), and the per-tool
// token exchange works as for any upstream.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ElicitRequestSchema, type CallToolResult, type ElicitResult } from "@modelcontextprotocol/sdk/types.js";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../helpers/gateway-stack.js";
import { startModernMcpServer, type ModernMcpServer } from "../helpers/modern-upstream-mcp.js";

const MODERN_API = "https://modern.api.test";

let upstream: ModernMcpServer;
let stack: Stack;
let token: string;

beforeAll(async () => {
  upstream = await startModernMcpServer();
  stack = await startStack({
    exchangeAudiences: [MODERN_API],
    apps: [
      {
        name: "modern",
        type: "mcpProxy",
        upstream: { stream: { url: upstream.url } },
        timeout: "2s",
        authorization: {
          outbound: {
            type: "tokenExchange",
            tokenExchange: {
              idp: "auth",
              audience: MODERN_API,
              defaults: { ttl: "10s", scopes: [{ name: "tools:read" }] },
            },
          },
        },
      },
    ],
  });
  token = await stack.token("agent-a");
});
afterAll(async () => {
  await stack?.dispose();
  await upstream?.close();
});

/** A v1 SDK agent on its own session, answering elicitations with `answer` when it declares elicitation. */
async function connectAgent(answer?: (params: unknown) => Promise<ElicitResult>): Promise<Client> {
  const gateway = stack.as(token);
  const transport = new StreamableHTTPClientTransport(new URL(`${gateway.url}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  const client = new Client(
    { name: "legacy-agent", version: "1.0.0" },
    { capabilities: answer ? { elicitation: {} } : {} },
  );
  if (answer) client.setRequestHandler(ElicitRequestSchema, (request) => answer(request.params));
  await client.connect(transport);
  return client;
}

const textOf = (result: unknown) => ((result as CallToolResult).content[0] as { text: string }).text;

describe("a 2025-11-25 agent on a 2026-07-28 upstream", () => {
  it("answers the upstream's elicitation on its own stream and gets the final result", async () => {
    const questions: unknown[] = [];
    const client = await connectAgent(async (params) => {
      questions.push(params);
      return { action: "accept", content: { name: "Ada" } };
    });
    try {
      const result = await client.callTool({ name: "modern__ask_name", arguments: {} });
      expect(textOf(result)).toBe('accept: {"name":"Ada"}');
      expect(questions).toEqual([expect.objectContaining({ message: "Your name?" })]);
      expect(upstream.mintedStates.size).toBe(0);
    } finally {
      await client.close();
    }
  });

  it("probes the upstream's era once, tries initialize once (refused: modern only), and every session after speaks 2026-07-28 without a handshake", async () => {
    for (let session = 0; session < 2; session++) {
      const client = await connectAgent();
      try {
        const { tools } = await client.listTools();
        expect(tools.map((t) => t.name)).toContain("modern__echo");
        expect(tools.map((t) => t.name)).not.toContain("modern__bad_header");
        expect(textOf(await client.callTool({ name: "modern__echo", arguments: { text: "hi" } }))).toBe("hi");
      } finally {
        await client.close();
      }
    }
    const methods = upstream.requests.map((r) => r.rpcMethod);
    expect(methods.filter((m) => m === "server/discover")).toHaveLength(1);
    // The first session tried the legacy side (a dual-era upstream would have taken it); none after.
    expect(methods.filter((m) => m === "initialize")).toHaveLength(1);
    expect(upstream.requests.every((r) => r.headers["mcp-session-id"] === undefined)).toBe(true);
  });

  it("sends the exchanged token for the app's audience, never the agent's own", async () => {
    const client = await connectAgent();
    try {
      await client.callTool({ name: "modern__echo", arguments: { text: "who" } });
    } finally {
      await client.close();
    }
    const call = upstream.requests.filter((r) => r.rpcMethod === "tools/call").at(-1)!;
    const sent = call.headers.authorization!.replace(/^Bearer /, "");
    expect(sent).not.toBe(token);
    expect(decodeJwt(sent).aud).toBe(MODERN_API);
  });

  it("gives an agent that did not declare elicitation a tool error, and asks it nothing", async () => {
    const client = await connectAgent();
    try {
      const result = (await client.callTool({ name: "modern__ask_name", arguments: {} })) as CallToolResult;
      expect(result.isError).toBe(true);
      expect(textOf(result)).toContain("-32021");
    } finally {
      await client.close();
    }
  });

  it("ends the call with a tool error at the app's timeout when the agent never answers", async () => {
    const client = await connectAgent(() => new Promise<ElicitResult>(() => undefined));
    try {
      const result = (await client.callTool({ name: "modern__ask_name", arguments: {} })) as CallToolResult;
      expect(result.isError).toBe(true);
      expect(textOf(result)).toContain("the agent did not answer elicitation/create within the timeout of 2000 ms");
    } finally {
      await client.close();
    }
  });

  it("ends the call with a tool error when the upstream asks for input forever", async () => {
    let asked = 0;
    const client = await connectAgent(async () => (asked++, { action: "accept", content: { ok: true } }));
    try {
      const result = (await client.callTool({ name: "modern__ask_forever", arguments: {} })) as CallToolResult;
      expect(result.isError).toBe(true);
      expect(textOf(result)).toContain("upstream still asked for input after 8 requests of tools/call");
      expect(asked).toBe(7);
    } finally {
      await client.close();
    }
  });

  it("ends the call with a tool error when the upstream hangs", async () => {
    const client = await connectAgent();
    try {
      const result = (await client.callTool({ name: "modern__hang", arguments: {} })) as CallToolResult;
      expect(result.isError).toBe(true);
      expect(textOf(result)).toContain("upstream did not answer within the timeout of 2000 ms");
    } finally {
      await client.close();
    }
  });
});
