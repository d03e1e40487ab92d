// The session's Durable Object class, exported where the gateway's objects are declared
// (wrangler.gateway.toml binds MCP_SESSION to McpSession). Its home, with its collaborators and
// the layering between them, is src/gateway/session/ (mcp-session.ts there).
export { McpSession } from "../src/gateway/session/mcp-session.js";
