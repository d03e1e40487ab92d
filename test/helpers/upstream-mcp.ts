// Upstream MCP servers for the MCP Proxy app, started by the tests on 127.0.0.1:
// - a recording server built with the MCP SDK's McpServer (stateful Streamable HTTP), which
//   keeps every request's Authorization header and JSON-RPC method so tests can assert exactly
//   what the gateway sent;
// - the reference "everything" server (@modelcontextprotocol/server-everything), run as its own
//   process with its own CLI, as an implementation the gateway's code never saw;
// - a plain HTTP server answering whatever a test wants (garbage, errors).
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import {
  EmptyResultSchema,
  isInitializeRequest,
  ElicitResultSchema,
  ListToolsRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
  type CallToolResult,
  type ServerNotification,
  type ServerRequest,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { freePort } from "./workers.js";

export interface RecordedRequest {
  /** POST, GET or DELETE. */
  httpMethod: string;
  /** The JSON-RPC method of a POSTed request or notification; "(response)" for a client's answer. */
  rpcMethod?: string;
  params?: unknown;
  authorization?: string;
  sessionId?: string;
  protocolVersion?: string;
  traceparent?: string;
}

export interface RecordingMcpServer {
  /** The MCP endpoint, e.g. http://127.0.0.1:41235/mcp */
  url: string;
  /** Every HTTP request received, one entry per JSON-RPC message for POSTs, in order. */
  requests: RecordedRequest[];
  /**
   * Emits notifications/tools/list_changed: on every open standalone (GET) stream, and on the
   * response stream of the next tool call of each session (where a client without a GET
   * stream sees it).
   */
  announceToolListChange(): void;
  /**
   * Sends notifications/resources/updated for `uri` from every session, as SDK servers do: on the
   * session's standalone (GET) stream when one is open, and nowhere when none is.
   */
  sendResourceUpdated(uri: string): Promise<void>;
  /** The standalone (GET) streams open now. */
  readonly openStreams: number;
  /** The session ids of the standalone (GET) streams open now. */
  openStreamSessions(): string[];
  /** Ends every open standalone (GET) stream from the server's side, as a dropped connection does. */
  dropStreams(): void;
  /** Forgets every session, as a restarted server does: old session ids get 404. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export interface RecordingMcpServerOptions {
  /** Tools per tools/list page; all on one page by default. */
  pageSize?: number;
  /** Answer requests with application/json instead of text/event-stream. */
  jsonResponse?: boolean;
  /** The scheme of its resource URIs (`thing://readme`), so two of these behind one gateway list different resources. */
  resourceScheme?: string;
  /**
   * Runs before the MCP transport sees a request (after it is recorded), e.g. to check the
   * bearer token as a protected upstream does; returns false when it has answered the request itself.
   */
  gate?: (
    req: IncomingMessage,
    res: ServerResponse,
    message: { method?: string; params?: unknown } | undefined,
  ) => boolean | Promise<boolean>;
  /**
   * What an unknown session id gets: 404 (the default, as the transports spec says), or what a
   * server that keeps one SDK transport per process answers once it restarted: the request goes
   * to a fresh, uninitialized StreamableHTTPServerTransport, which answers 400 "Bad Request:
   * Server not initialized" itself.
   */
  unknownSession?: "notFound" | "uninitializedTransport";
  /**
   * Also serve `ask_then_hang` (elicits, then never answers until the client goes away: a hang
   * mid-round) and `ask_repeatedly` (elicits until refused, up to 20 times).
   */
  roundTools?: boolean;
}

interface Session {
  server: McpServer;
  transport: StreamableHTTPServerTransport;
  listChangePending: boolean;
}

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;
interface ToolSpec {
  description: string;
  input: z.ZodObject;
  output?: z.ZodObject;
  run(args: never, extra: Extra): CallToolResult | Promise<CallToolResult>;
}
/** Typed arguments for `run`, erased in the table. */
const tool = <S extends z.ZodObject>(spec: {
  description: string;
  input: S;
  output?: z.ZodObject;
  run(args: z.output<S>, extra: Extra): CallToolResult | Promise<CallToolResult>;
}): ToolSpec => spec;

/** The recording server's tools (one set per session: create_issue counts per session). */
function toolSpecs(options: RecordingMcpServerOptions = {}): Record<string, ToolSpec> {
  let issues = 0;
  return {
    echo: tool({
      description: "Returns its text",
      input: z.object({ text: z.string() }),
      run: ({ text }) => ({ content: [{ type: "text", text }] }),
    }),
    add: tool({
      description: "Adds two numbers",
      input: z.object({ a: z.number(), b: z.number() }),
      output: z.object({ sum: z.number() }),
      run: ({ a, b }) => ({ content: [{ type: "text", text: String(a + b) }], structuredContent: { sum: a + b } }),
    }),
    fail: tool({
      description: "Always fails",
      input: z.object({}),
      run: () => ({ isError: true, content: [{ type: "text", text: "the tool failed on purpose" }] }),
    }),
    slow: tool({
      description: "Reports progress once when asked to, then answers after ms milliseconds (or when cancelled)",
      input: z.object({ ms: z.number() }),
      run: async ({ ms }, extra) => {
        const progressToken = extra._meta?.progressToken;
        if (progressToken !== undefined)
          await extra.sendNotification({ method: "notifications/progress", params: { progressToken, progress: 0 } });
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, ms).unref();
          extra.signal.addEventListener("abort", () => (clearTimeout(timer), resolve()));
        });
        return { content: [{ type: "text", text: `waited ${ms} ms` }] };
      },
    }),
    list_things: tool({
      description: "Lists things",
      input: z.object({}),
      run: () => ({ content: [{ type: "text", text: "apple, pear" }], _meta: { "test.example/page": 1 } }),
    }),
    create_issue: tool({
      description: "Creates an issue",
      input: z.object({ title: z.string(), body: z.string().optional() }),
      run: ({ title }) => ({ content: [{ type: "text", text: `created issue #${++issues}: ${title}` }] }),
    }),
    report: tool({
      description: "Reports progress (when the caller asked for it) and logs a message before answering",
      input: z.object({ steps: z.number() }),
      run: async ({ steps }, extra) => {
        const progressToken = extra._meta?.progressToken;
        for (let progress = 1; progress <= steps; progress++) {
          if (progressToken !== undefined)
            await extra.sendNotification({
              method: "notifications/progress",
              params: { progressToken, progress, total: steps },
            });
        }
        await extra.sendNotification({
          method: "notifications/message",
          params: { level: "info", logger: "report", data: `reported ${steps} steps` },
        });
        return { content: [{ type: "text", text: `done in ${steps} steps` }] };
      },
    }),
    ask_client: tool({
      description: "Asks the user a question through the client (elicitation) and answers with the reply",
      input: z.object({ question: z.string() }),
      run: async ({ question }, extra) => {
        const answer = await extra.sendRequest(
          {
            method: "elicitation/create",
            params: {
              message: question,
              requestedSchema: { type: "object", properties: { name: { type: "string" } } },
            },
          },
          ElicitResultSchema,
        );
        return { content: [{ type: "text", text: `${answer.action}: ${JSON.stringify(answer.content ?? {})}` }] };
      },
    }),
    ...(options.roundTools
      ? {
          ask_repeatedly: tool({
            description: "Asks the user again and again until the client refuses, at most 20 times",
            input: z.object({}),
            run: async (_args, extra) => {
              for (let asked = 0; asked < 20; asked++) {
                try {
                  await extra.sendRequest(
                    {
                      method: "elicitation/create",
                      params: { message: `Again (${asked + 1})?`, requestedSchema: { type: "object", properties: {} } },
                    },
                    ElicitResultSchema,
                  );
                } catch (err) {
                  return {
                    isError: true,
                    content: [{ type: "text", text: `refused after ${asked}: ${(err as Error).message}` }],
                  };
                }
              }
              return { content: [{ type: "text", text: "answered 20 times" }] };
            },
          }),
          ask_then_hang: tool({
            description: "Asks the user a question, then hangs until the client goes away",
            input: z.object({}),
            run: async (_args, extra) => {
              await extra.sendRequest(
                {
                  method: "elicitation/create",
                  params: { message: "Hang?", requestedSchema: { type: "object", properties: {} } },
                },
                ElicitResultSchema,
              );
              await new Promise<void>((resolve) => extra.signal.addEventListener("abort", () => resolve()));
              return { content: [{ type: "text", text: "gone" }] };
            },
          }),
        }
      : {}),
    ping_client: tool({
      description: "Pings the client during the call",
      input: z.object({}),
      run: async (_args, extra) => {
        await extra.sendRequest({ method: "ping" }, EmptyResultSchema);
        return { content: [{ type: "text", text: "the client answered ping" }] };
      },
    }),
  };
}

export async function startRecordingMcpServer(options: RecordingMcpServerOptions = {}): Promise<RecordingMcpServer> {
  const requests: RecordedRequest[] = [];
  const sessions = new Map<string, Session>();
  const streams = new Map<ServerResponse, string>();

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const body = req.method === "POST" ? await readJson(req) : undefined;
    const header = (name: string) => req.headers[name] as string | undefined;
    const seen = {
      httpMethod: req.method ?? "",
      authorization: header("authorization"),
      sessionId: header("mcp-session-id"),
      protocolVersion: header("mcp-protocol-version"),
      traceparent: header("traceparent"),
    };
    for (const message of Array.isArray(body) ? body : body === undefined ? [undefined] : [body]) {
      const rpc = message as { method?: string; params?: unknown } | undefined;
      requests.push({ ...seen, rpcMethod: rpc ? (rpc.method ?? "(response)") : undefined, params: rpc?.params });
    }

    if (
      options.gate &&
      !(await options.gate(
        req,
        res,
        Array.isArray(body) ? undefined : (body as { method?: string; params?: unknown } | undefined),
      ))
    )
      return;

    const sessionId = seen.sessionId;
    if (sessionId) {
      const session = sessions.get(sessionId);
      if (!session && options.unknownSession === "uninitializedTransport") {
        const fresh = createToolServer(() => ({ server: fresh, transport: newTransport(), listChangePending: false }));
        const transport = newTransport();
        await fresh.connect(transport);
        return transport.handleRequest(req, res, body);
      }
      // MCP 2025-11-25 transports, "Session Management": an unknown session id gets 404.
      if (!session) return sendJsonRpcError(res, 404, "Session not found");
      if (req.method === "GET") {
        streams.set(res, sessionId);
        res.on("close", () => streams.delete(res));
      }
      return session.transport.handleRequest(req, res, body);
    }
    if (req.method !== "POST" || !isInitializeRequest(body))
      return sendJsonRpcError(res, 400, "Bad Request: no session id");
    const session: Session = {
      server: createToolServer(() => session),
      transport: newTransport(),
      listChangePending: false,
    };
    await session.server.connect(session.transport);
    await session.transport.handleRequest(req, res, body);
    if (session.transport.sessionId) sessions.set(session.transport.sessionId, session);
  };
  const newTransport = () =>
    new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      enableJsonResponse: options.jsonResponse,
    });

  const createToolServer = (session: () => Session) => {
    const server = new McpServer({ name: "recording-upstream", version: "1.0.0" }, { capabilities: { logging: {} } });
    const specs = toolSpecs(options);
    for (const [name, spec] of Object.entries(specs)) {
      const config = {
        description: spec.description,
        inputSchema: spec.input,
        ...(spec.output ? { outputSchema: spec.output } : {}),
      };
      server.registerTool(name, config, async (args: unknown, extra: Extra) => {
        // A pending list change goes out first, on this call's own response stream.
        if (session().listChangePending) {
          session().listChangePending = false;
          await extra.sendNotification({ method: "notifications/tools/list_changed" });
        }
        return spec.run(args as never, extra);
      });
    }
    // McpServer lists all tools at once; this handler pages them (server/utilities/pagination).
    const listed: Tool[] = Object.entries(specs).map(([name, spec]) => ({
      name,
      description: spec.description,
      inputSchema: z.toJSONSchema(spec.input, { io: "input" }) as Tool["inputSchema"],
      ...(spec.output ? { outputSchema: z.toJSONSchema(spec.output) as Tool["outputSchema"] } : {}),
    }));
    server.server.setRequestHandler(ListToolsRequestSchema, (request) => {
      const size = options.pageSize ?? listed.length;
      const start = request.params?.cursor ? Number(request.params.cursor) : 0;
      const end = start + size;
      return { tools: listed.slice(start, end), ...(end < listed.length ? { nextCursor: String(end) } : {}) };
    });

    server.registerPrompt("greet", { description: "Greets someone", argsSchema: { name: z.string() } }, ({ name }) => ({
      messages: [{ role: "user", content: { type: "text", text: `Say hello to ${name}.` } }],
    }));
    // Subscriptions are accepted and recorded (requests[]); updates are not emitted.
    server.server.registerCapabilities({ resources: { subscribe: true } });
    server.server.setRequestHandler(SubscribeRequestSchema, () => ({}));
    server.server.setRequestHandler(UnsubscribeRequestSchema, () => ({}));
    const scheme = options.resourceScheme ?? "thing";
    server.registerResource("readme", `${scheme}://readme`, { mimeType: "text/plain" }, (uri) => ({
      contents: [{ uri: uri.href, mimeType: "text/plain", text: "hello from the readme" }],
    }));
    server.registerResource(
      "item",
      new ResourceTemplate(`${scheme}://items/{id}`, { list: undefined }),
      { mimeType: "text/plain" },
      (uri, { id }) => ({
        contents: [{ uri: uri.href, mimeType: "text/plain", text: `item ${String(id)}` }],
      }),
    );
    return server;
  };

  const http = await listen((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJsonRpcError(res, 500, String(err));
    });
  });
  const closeSessions = async () => {
    const all = [...sessions.values()];
    sessions.clear();
    await Promise.all(all.map((session) => session.server.close()));
  };
  return {
    url: `${http.origin}/mcp`,
    requests,
    announceToolListChange() {
      for (const session of sessions.values()) {
        session.listChangePending = true;
        session.server.sendToolListChanged();
      }
    },
    async sendResourceUpdated(uri) {
      // Sessions a client ended are still known here; sending to them fails, as it would on a real server.
      await Promise.all(
        [...sessions.values()].map((session) =>
          session.server.server.sendResourceUpdated({ uri }).catch(() => undefined),
        ),
      );
    },
    get openStreams() {
      return streams.size;
    },
    openStreamSessions: () => [...streams.values()],
    dropStreams() {
      for (const res of streams.keys()) res.destroy();
      streams.clear();
    },
    restart: closeSessions,
    async close() {
      await closeSessions();
      await http.close();
    },
  };
}

export interface PlainHttpServer {
  /** The server's origin plus /mcp. */
  url: string;
  close(): Promise<void>;
}

/** A server that is not an MCP server: every request gets what `respond` writes. */
export async function startPlainHttpServer(respond: RequestListener): Promise<PlainHttpServer> {
  const http = await listen(respond);
  return { url: `${http.origin}/mcp`, close: http.close };
}

/** A URL nothing listens on: a port that was free a moment ago. */
export async function unreachableUrl(): Promise<string> {
  const port = await freePort();
  return `http://127.0.0.1:${port}/mcp`;
}

export interface EverythingServer {
  url: string;
  close(): Promise<void>;
}

/**
 * The reference server from modelcontextprotocol/servers, started with its own CLI
 * (`mcp-server-everything streamableHttp`), which listens on $PORT at /mcp.
 */
export async function startEverythingServer(): Promise<EverythingServer> {
  const port = await freePort();
  const entry = createRequire(import.meta.url).resolve("@modelcontextprotocol/server-everything/dist/index.js");
  const child = spawn(process.execPath, [entry, "streamableHttp"], {
    env: { ...process.env, PORT: String(port) },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  await new Promise<void>((resolve, reject) => {
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
      if (stderr.includes(`listening on port ${port}`)) resolve();
    });
    child.once("exit", (code) => reject(new Error(`server-everything exited with ${code}: ${stderr}`)));
  });
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    async close() {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      await once(child, "exit");
    },
  };
}

async function listen(listener: RequestListener): Promise<{ origin: string; close(): Promise<void> }> {
  const server: Server = createServer(listener).listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function sendJsonRpcError(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32000, message } }));
}
