// The demo's upstreams, started by `npm run dev`: the real APIs behind the gateway.
//   MCP server       http://localhost:9001/mcp   (an MCP Proxy app)
//   REST API         http://localhost:9002       (an MCP Bridge app; OpenAPI at /openapi.json)
//   audit collector  http://localhost:9003       (the gateway's audit sink: POST /audit, GET /events)
// Both APIs accept only tokens the auth tier minted for them by token exchange (audience = their
// own URL) and answer `whoami` with what the token says, so the demo shows the per-tool token.
// Each keeps the claims of every token it accepted (`received`), which the end-to-end tests
// check; the collector keeps every audit event, which `npm run agent` prints.
// The collector takes events only from the gateway, and lists them only to whoever holds the same
// secret: `Authorization: Bearer <auditToken>`, the header the gateway's sink sends
// (mcpProvider.audit.sink.headers in config/gateway.dev.yaml); anything else gets 401.
import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from "jose";
import { z } from "zod";

/** A call an upstream accepted, with the claims of the token it arrived with (verified). */
export interface ReceivedCall {
  upstream: "mcp" | "rest";
  /** The MCP method (and tool) or the HTTP method and path. */
  call: string;
  claims: JWTPayload;
}

export interface DemoUpstreams {
  mcpUrl: string;
  restUrl: string;
  /** The audit sink's URL (mcpProvider.audit.sink.url). */
  auditUrl: string;
  received: ReceivedCall[];
  /** Audit events the gateway delivered, in arrival order. */
  auditEvents: Record<string, unknown>[];
  close(): Promise<void>;
}

export interface DemoUpstreamsOptions {
  issuer: string;
  mcpPort?: number;
  restPort?: number;
  auditPort?: number;
  /**
   * The audit collector's bearer token: the gateway's sink sends `Authorization: Bearer <it>`
   * (AUDIT_SINK_AUTH), and GET /events needs it too. Without it, both answer 401.
   */
  auditToken: string;
  /** Called with each audit event as it arrives (npm run dev prints them). */
  onAuditEvent?: (event: Record<string, unknown>) => void;
}

function tokenSummary(claims: JWTPayload) {
  return {
    user: claims.sub,
    agent_chain: claims.act,
    issued_to: claims.client_id,
    audience: claims.aud,
    scope: claims.scope,
    lifetime_seconds: (claims.exp ?? 0) - (claims.iat ?? 0),
    jti: claims.jti,
  };
}

async function listen(server: Server, port: number): Promise<number> {
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return (server.address() as { port: number }).port;
}

/** The request's JSON body, or undefined when it is not JSON (the handler answers that). */
async function readJson(req: IncomingMessage): Promise<unknown> {
  let body = "";
  for await (const chunk of req) body += chunk;
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

export async function startDemoUpstreams(options: DemoUpstreamsOptions): Promise<DemoUpstreams> {
  const received: ReceivedCall[] = [];
  const jwks = createRemoteJWKSet(new URL(`${options.issuer}/jwks`));
  const verify = async (req: IncomingMessage, audience: string): Promise<JWTPayload | null> => {
    const header = req.headers.authorization ?? "";
    if (!header.startsWith("Bearer ")) return null;
    try {
      return (await jwtVerify(header.slice(7), jwks, { issuer: options.issuer, audience })).payload;
    } catch {
      return null;
    }
  };
  const unauthorized = (res: ServerResponse) => {
    res
      .writeHead(401, { "Content-Type": "application/json", "WWW-Authenticate": "Bearer" })
      .end(JSON.stringify({ error: "invalid_token" }));
  };

  // ── MCP server: one McpServer per upstream session ────────────────────────────────────────
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  let mcpAudience = "";
  const mcpServer = createServer(async (req, res) => {
    const claims = await verify(req, mcpAudience);
    if (!claims) return unauthorized(res);
    const sessionId = req.headers["mcp-session-id"];
    let transport = typeof sessionId === "string" ? sessions.get(sessionId) : undefined;
    if (!transport) {
      const created = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => void sessions.set(id, created),
      });
      const server = new McpServer({ name: "demo-upstream", version: "1.0.0" });
      server.registerTool("whoami", { description: "What the token this call arrived with says" }, async (extra) => {
        const summary = tokenSummary((extra.authInfo?.extra as JWTPayload | undefined) ?? {});
        return {
          content: [{ type: "text" as const, text: JSON.stringify(summary, null, 2) }],
          structuredContent: summary,
        };
      });
      server.registerTool(
        "echo",
        { description: "Echoes its text", inputSchema: { text: z.string() } },
        async ({ text }) => ({
          content: [{ type: "text" as const, text }],
        }),
      );
      await server.connect(created);
      transport = created;
    }
    const body = req.method === "POST" ? await readJson(req) : undefined;
    const message = body as { method?: string; params?: { name?: string } } | undefined;
    const call = message?.method
      ? [message.method, message.params?.name].filter(Boolean).join(" ")
      : (req.method ?? "");
    received.push({ upstream: "mcp", call, claims });
    (req as IncomingMessage & { auth?: unknown }).auth = {
      token: "",
      clientId: String(claims.client_id),
      scopes: [],
      extra: claims,
    };
    await transport.handleRequest(req, res, body);
  });
  const mcpPort = await listen(mcpServer, options.mcpPort ?? 9001);
  mcpAudience = `http://localhost:${mcpPort}`;

  // ── REST API with its OpenAPI document ─────────────────────────────────────────────────────
  const notes: { id: number; text: string; author: string }[] = [];
  let restAudience = "";
  const openapi = () => ({
    openapi: "3.1.0",
    info: { title: "Demo notes API", version: "1.0.0" },
    servers: [{ url: restAudience }],
    paths: {
      "/whoami": {
        get: {
          operationId: "whoami",
          summary: "What the token this call arrived with says",
          responses: { "200": { description: "ok" } },
        },
      },
      "/notes": {
        get: { operationId: "list_notes", summary: "List notes", responses: { "200": { description: "ok" } } },
        post: {
          operationId: "create_note",
          summary: "Create a note",
          requestBody: {
            required: true,
            content: {
              "application/json": {
                schema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] },
              },
            },
          },
          responses: { "201": { description: "created" } },
        },
      },
    },
  });
  const restServer = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", restAudience);
    const json = (status: number, body: unknown) =>
      res.writeHead(status, { "Content-Type": "application/json" }).end(JSON.stringify(body));
    if (req.method === "GET" && url.pathname === "/openapi.json") return json(200, openapi());
    const claims = await verify(req, restAudience);
    if (!claims) return unauthorized(res);
    received.push({ upstream: "rest", call: `${req.method} ${url.pathname}`, claims });
    if (req.method === "GET" && url.pathname === "/whoami") return json(200, tokenSummary(claims));
    if (req.method === "GET" && url.pathname === "/notes") return json(200, { notes });
    if (req.method === "POST" && url.pathname === "/notes") {
      const text = ((await readJson(req)) as { text?: unknown } | undefined)?.text;
      if (typeof text !== "string") return json(400, { error: "text is required" });
      const note = { id: notes.length + 1, text, author: String(claims.sub) };
      notes.push(note);
      return json(201, note);
    }
    return json(404, { error: "not found" });
  });
  const restPort = await listen(restServer, options.restPort ?? 9002);
  restAudience = `http://localhost:${restPort}`;

  // ── Audit collector: the gateway POSTs batches ({"events": [...]}) ───────────────────────────
  // Delivery is at least once: like any sink, the collector keeps one event per `id` (docs/audit.md).
  const auditEvents: Record<string, unknown>[] = [];
  if (!options.auditToken) throw new Error("demo upstreams: the audit collector needs a non-empty auditToken");
  const sha256 = (text: string) => createHash("sha256").update(text).digest();
  const expected = sha256(`Bearer ${options.auditToken}`);
  // Equal-length digests let timingSafeEqual compare headers of any length.
  const authorized = (req: IncomingMessage) => timingSafeEqual(sha256(req.headers.authorization ?? ""), expected);
  const auditIds = new Set<unknown>();
  const auditServer = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://collector");
    if (!authorized(req)) {
      req.resume();
      return res
        .writeHead(401, { "Content-Type": "application/json", "WWW-Authenticate": 'Bearer realm="audit collector"' })
        .end(JSON.stringify({ error: "unauthorized" }));
    }
    if (req.method === "POST" && url.pathname === "/audit") {
      const { events = [] } = ((await readJson(req)) ?? {}) as { events?: Record<string, unknown>[] };
      for (const event of events) {
        if (auditIds.has(event.id)) continue;
        auditIds.add(event.id);
        auditEvents.push(event);
        options.onAuditEvent?.(event);
      }
      return res.writeHead(204).end();
    }
    if (req.method === "GET" && url.pathname === "/events") {
      const session = url.searchParams.get("session_id");
      const events = session ? auditEvents.filter((event) => event.session_id === session) : auditEvents;
      return res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ events }));
    }
    res.writeHead(404).end();
  });
  const auditPort = await listen(auditServer, options.auditPort ?? 9003);

  const servers = [mcpServer, restServer, auditServer];
  return {
    mcpUrl: `${mcpAudience}/mcp`,
    restUrl: restAudience,
    auditUrl: `http://localhost:${auditPort}/audit`,
    received,
    auditEvents,
    close: async () => {
      await Promise.all([...sessions.values()].map((t) => t.close()));
      for (const server of servers) server.closeAllConnections();
      await Promise.all(servers.map((server) => new Promise((r) => server.close(r))));
    },
  };
}
