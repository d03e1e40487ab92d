// Agents and upstreams of both MCP eras through one gateway, each with a round trip of input
// across the eras (MCP 2026-07-28 basic/patterns/mrtr; docs/mcp-endpoint.md and docs/apps.md):
// a 2026-07-28 agent (the v2 SDK client, its auto-fulfilment of `input_required`) on a 2025-era
// upstream that elicits and samples during a call, and a 2025-11-25 agent (the v1 SDK client,
// server-to-client requests on its stream) on a 2026-07-28 upstream that answers `input_required`.
// The production checklist itself runs in checklist.test.ts (v1, 2025-11-25) and
// checklist-v2-client.test.ts (v2, 2026-07-28).
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from "@modelcontextprotocol/client";
import { Client as LegacyClient } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport as LegacyTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  type CallToolResult,
} from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../helpers/gateway-stack.js";
import { startModernMcpServer, type ModernMcpServer } from "../helpers/modern-upstream-mcp.js";
import { startRecordingMcpServer, type RecordingMcpServer } from "../helpers/upstream-mcp.js";

const MODERN = "2026-07-28";

let modernUpstream: ModernMcpServer;
let legacyUpstream: RecordingMcpServer;
let stack: Stack;
let token: string;

beforeAll(async () => {
  [modernUpstream, legacyUpstream] = await Promise.all([startModernMcpServer(), startRecordingMcpServer()]);
  stack = await startStack({
    apps: [
      { name: "modern", type: "mcpProxy", upstream: { stream: { url: modernUpstream.url } }, timeout: "5s" },
      { name: "legacy", type: "mcpProxy", upstream: { stream: { url: legacyUpstream.url } }, timeout: "5s" },
    ],
  });
  token = await stack.token("agent-a");
}, 120_000);
afterAll(async () => {
  await stack?.dispose();
  await Promise.all([modernUpstream?.close(), legacyUpstream?.close()]);
});

const text = (result: unknown) => ((result as CallToolResult).content[0] as { text: string }).text;
const url = () => new URL(`${stack.as(token).url}/mcp`);
const auth = () => ({ requestInit: { headers: { Authorization: `Bearer ${token}` } } });

describe("a 2026-07-28 agent on a 2025-era upstream", () => {
  it("answers the upstream's elicitation as an input_required round trip and gets the call's result", async () => {
    const client = new ModernClient(
      { name: "modern-agent", version: "1.0.0" },
      { capabilities: { elicitation: {} }, versionNegotiation: { mode: { pin: MODERN } } },
    );
    const asked: unknown[] = [];
    client.setRequestHandler("elicitation/create", (request) => {
      asked.push(request.params);
      return { action: "accept", content: { name: "Ada" } };
    });
    await client.connect(new ModernTransport(url(), auth()));
    try {
      expect(client.getNegotiatedProtocolVersion()).toBe(MODERN);
      const result = await client.callTool({ name: "legacy__ask_client", arguments: { question: "Your name?" } });
      expect(text(result)).toBe('accept: {"name":"Ada"}');
      expect(asked).toEqual([expect.objectContaining({ message: "Your name?" })]);
      // The upstream heard a 2025 session: initialize, then its own elicitation answered on it.
      const methods = legacyUpstream.requests.map((r) => r.rpcMethod);
      expect(methods).toContain("initialize");
    } finally {
      await client.close();
    }
  });

  it("answers sampling on a 2026-07-28 upstream too, on the same client", async () => {
    const client = new ModernClient(
      { name: "modern-agent", version: "1.0.0" },
      { capabilities: { sampling: {} }, versionNegotiation: { mode: { pin: MODERN } } },
    );
    client.setRequestHandler("sampling/createMessage", () => ({
      role: "assistant",
      content: { type: "text", text: "4" },
      model: "test-model",
    }));
    await client.connect(new ModernTransport(url(), auth()));
    try {
      expect(text(await client.callTool({ name: "modern__sample", arguments: {} }))).toContain('"4"');
    } finally {
      await client.close();
    }
  });
});

describe("a 2025-11-25 agent on a 2026-07-28 upstream", () => {
  it("answers the upstream's input_required as elicitation and sampling requests on its own stream", async () => {
    const client = new LegacyClient(
      { name: "legacy-agent", version: "1.0.0" },
      { capabilities: { elicitation: {}, sampling: {} } },
    );
    client.setRequestHandler(ElicitRequestSchema, async () => ({ action: "accept", content: { name: "Grace" } }));
    client.setRequestHandler(CreateMessageRequestSchema, async () => ({
      role: "assistant",
      content: { type: "text", text: "four" },
      model: "test-model",
    }));
    await client.connect(new LegacyTransport(url(), auth()));
    try {
      expect(client.getServerVersion()?.name).toBe("ai-identity-gateway");
      expect(text(await client.callTool({ name: "modern__ask_name", arguments: {} }))).toBe('accept: {"name":"Grace"}');
      expect(text(await client.callTool({ name: "modern__sample", arguments: {} }))).toContain('"four"');
    } finally {
      await client.close();
    }
  });
});
