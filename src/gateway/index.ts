// Gateway worker: the MCP Provider (docs/mcp-endpoint.md). A stateless Hono front; each MCP session
// lives in its own McpSession Durable Object, and each principal's context for MCP 2026-07-28
// requests (which have no session) in its own PrincipalContext Durable Object.
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { secureHeaders } from "hono/secure-headers";
import { drainBody } from "../core/drain-body.js";
import { ConfigError, GatewayErrorCode, JsonRpcError } from "../core/errors.js";
import { strictTransportSecurityOverHttps } from "../core/strict-transport-security.js";
import { httpServerTelemetry } from "../core/telemetry/http-server.js";
import { setupTelemetry } from "../core/telemetry/telemetry.js";
import type { GatewayApp } from "./app-types.js";
import { authenticate } from "./auth/bearer.js";
import { getProtectedResourceMetadata, isMetadataPath } from "./auth/protected-resource.js";
import { loadGatewayConfig } from "./config.js";
import { renderGatewayError } from "./errors.js";
import { checkOrigin, handleDelete, handleGet, handlePost } from "./mcp/http-transport.js";
import { refuseModernStream } from "./mcp/modern-transport.js";
import { getStatus } from "./status.js";

export { McpSession } from "../../durable-objects/mcp-session.js";
export { AuditOutbox } from "../../durable-objects/audit-outbox.js";
export { PrincipalLimits } from "../../durable-objects/principal-limits.js";
export { PrincipalContext } from "../../durable-objects/principal-context.js";

const app = new Hono<GatewayApp>();

// Nothing here is a page: answers are JSON or event streams, never to be sniffed as something
// else, framed or rendered with anything loaded. Browser-based MCP clients read them cross-origin
// under CORS (below), so no Cross-Origin-Resource-Policy or -Opener-Policy.
app.use(
  secureHeaders({
    contentSecurityPolicy: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
    xFrameOptions: "DENY",
    crossOriginResourcePolicy: false,
    crossOriginOpenerPolicy: false,
    // Only over https (RFC 6797 §7.2): added below.
    strictTransportSecurity: false,
  }),
);
app.use(strictTransportSecurityOverHttps());

app.use(async (c, next) => {
  const loaded = loadGatewayConfig(c.env);
  if (!loaded.ok) throw new ConfigError("gateway", loaded.issues);
  setupTelemetry("ai-identity-gateway", loaded.config.provider.observability, loaded.config.secrets);
  c.set("config", loaded.config);
  await next();
});

app.use(
  httpServerTelemetry((c, path) => {
    const provider = c.get("config").provider;
    return path === "/status" || path === provider.transports.stream.endpointPath || isMetadataPath(provider, path);
  }),
);

app.get("/status", getStatus);

// RFC 9728 metadata (root and path-suffixed forms); the path comes from configuration. Any
// origin may read it: browser-based MCP clients start their OAuth discovery here.
const metadataCors = cors({ origin: "*", allowMethods: ["GET"], maxAge: 600 });
app.use(async (c, next) => {
  if (!isMetadataPath(c.get("config").provider, c.req.path)) return next();
  return metadataCors(c, async () => {
    c.res =
      c.req.method === "GET"
        ? getProtectedResourceMetadata(c)
        : new Response(null, { status: 405, headers: { Allow: "GET" } });
  });
});

// The MCP endpoint answers browsers only from allowed origins (the same list the Origin check
// uses), and lets them read the session and auth challenge headers.
app.use(async (c, next) => {
  const stream = c.get("config").provider.transports.stream;
  if (c.req.path !== stream.endpointPath) return next();
  return cors({
    origin: (origin) => (stream.allowedOrigins.includes(origin) ? origin : null),
    allowMethods: ["GET", "POST", "DELETE"],
    allowHeaders: [
      "Authorization",
      "Content-Type",
      "Accept",
      stream.session.headerName,
      "MCP-Protocol-Version",
      "Last-Event-ID",
      "traceparent",
      // MCP 2026-07-28 request metadata (transports/streamable-http, "Request Metadata").
      "Mcp-Method",
      "Mcp-Name",
      // Mcp-Param-{Name} headers are named by each tool's inputSchema (x-mcp-header): a
      // preflight may ask for any of them.
      ...paramHeadersAskedFor(c.req.header("Access-Control-Request-Headers")),
    ],
    exposeHeaders: [stream.session.headerName, "WWW-Authenticate"],
    maxAge: 600,
  })(c, next);
});

/** The Mcp-Param-* headers a CORS preflight asks for (RFC 9110 §5.1 tokens only). */
function paramHeadersAskedFor(requested: string | undefined): string[] {
  return (requested ?? "")
    .split(",")
    .map((name) => name.trim())
    .filter((name) => /^mcp-param-[!#$%&'*+\-.^_`|~0-9a-z]+$/i.test(name));
}

// The MCP endpoint's path comes from configuration, so it is matched here rather than routed.
app.use(async (c, next) => {
  const stream = c.get("config").provider.transports.stream;
  if (c.req.path !== stream.endpointPath) return next();
  checkOrigin(c);
  if (c.req.method !== "POST" && c.req.method !== "GET" && c.req.method !== "DELETE") {
    throw new JsonRpcError(GatewayErrorCode.ServerError, "Method Not Allowed", 405, undefined, {
      Allow: "GET, POST, DELETE",
    });
  }
  // MCP authorization: every request to the endpoint carries a valid bearer token.
  const caller = await authenticate(c);
  switch (c.req.method) {
    case "POST":
      return bodyLimit({
        maxSize: stream.maxRequestBytes,
        onError: async () => {
          await drainBody(c.req.raw);
          throw new JsonRpcError(
            GatewayErrorCode.ServerError,
            `Payload Too Large: the limit is ${stream.maxRequestBytes} bytes`,
            413,
          );
        },
      })(c, async () => {
        c.res = await handlePost(c, caller);
      });
    case "DELETE":
      refuseModernStream(c);
      return handleDelete(c, caller);
    default:
      refuseModernStream(c);
      return handleGet(c, caller.principal);
  }
});

app.notFound((c) => renderGatewayError(new JsonRpcError(GatewayErrorCode.ServerError, "Not Found", 404), c));
app.onError(renderGatewayError);

export default app;
