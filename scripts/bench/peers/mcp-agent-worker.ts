// Peer worker for scenario 8 (docs/performance.md, Peers): Cloudflare's agents McpAgent, as
// installed, serving the bench's `echo` tool over Streamable HTTP from its Durable Object (one per
// MCP session), with no authorization and no policy: what the gateway's warm tools/call is put beside.
// Never deployed: the bench bundles it with wrangler and runs it in its own workerd.
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { McpAgent } from "agents/mcp";
import { z } from "zod";

export class EchoAgent extends McpAgent {
  server = new McpServer({ name: "bench-peer-mcp-agent", version: "1.0.0" });

  init(): Promise<void> {
    // The same tool as the bench's fast upstream (scripts/bench/fast-upstream.ts): returns its text.
    this.server.registerTool(
      "echo",
      { description: "Returns its text", inputSchema: { text: z.string() } },
      ({ text }) => ({ content: [{ type: "text", text }] }),
    );
    return Promise.resolve();
  }
}

export default EchoAgent.serve("/mcp", { binding: "MCP_OBJECT" });
