// The principal's context object for MCP 2026-07-28 requests, exported where the gateway's
// objects are declared (wrangler.gateway.toml binds PRINCIPAL_CONTEXT to PrincipalContext). Its
// home is src/gateway/session/ (principal-context.ts there), beside the session object.
export { PrincipalContext } from "../src/gateway/session/principal-context.js";
