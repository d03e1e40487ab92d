// An MCP server that implements what the MCP conformance suite's server scenarios call
// (@modelcontextprotocol/conformance: each scenario's description names the tool, prompt or
// resource it expects and what it must return). Built on the SDK's low-level Server so every
// listing is exactly what is written here (json_schema_2020_12_tool keeps its 2020-12 keywords),
// served over stateful Streamable HTTP with an event store, so streams can be resumed
// (test_reconnection closes its stream mid-call). The end-to-end suite runs the conformance
// scenarios against it directly and through the gateway.
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { InMemoryEventStore } from "@modelcontextprotocol/sdk/examples/shared/inMemoryEventStore.js";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import {
  CallToolRequestSchema,
  CompleteRequestSchema,
  CreateMessageResultSchema,
  ElicitResultSchema,
  ErrorCode,
  GetPromptRequestSchema,
  isInitializeRequest,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
  type CallToolResult,
  type ServerNotification,
  type ServerRequest,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js";

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** A 1×1 red PNG. */
const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8AARAAA//8DAQEAGEsrigAAAABJRU5ErkJggg==";

/** A valid WAV file: 16-bit mono PCM at 8 kHz, eight samples of silence. */
function wav(): string {
  const samples = 8;
  const buffer = Buffer.alloc(44 + samples * 2);
  buffer.write("RIFF", 0);
  buffer.writeUInt32LE(36 + samples * 2, 4);
  buffer.write("WAVEfmt ", 8);
  buffer.writeUInt32LE(16, 16);
  buffer.writeUInt16LE(1, 20);
  buffer.writeUInt16LE(1, 22);
  buffer.writeUInt32LE(8000, 24);
  buffer.writeUInt32LE(16000, 28);
  buffer.writeUInt16LE(2, 32);
  buffer.writeUInt16LE(16, 34);
  buffer.write("data", 36);
  buffer.writeUInt32LE(samples * 2, 40);
  return buffer.toString("base64");
}

const noArguments: Tool["inputSchema"] = { type: "object", properties: {} };
const TOOLS: Tool[] = [
  { name: "test_simple_text", description: "Returns simple text", inputSchema: noArguments },
  { name: "test_image_content", description: "Returns an image", inputSchema: noArguments },
  { name: "test_audio_content", description: "Returns audio", inputSchema: noArguments },
  { name: "test_embedded_resource", description: "Returns an embedded resource", inputSchema: noArguments },
  {
    name: "test_multiple_content_types",
    description: "Returns text, an image and a resource",
    inputSchema: noArguments,
  },
  { name: "test_tool_with_logging", description: "Logs three messages while it runs", inputSchema: noArguments },
  { name: "test_tool_with_progress", description: "Reports progress while it runs", inputSchema: noArguments },
  { name: "test_error_handling", description: "Always fails", inputSchema: noArguments },
  {
    name: "test_sampling",
    description: "Asks the client's LLM",
    inputSchema: { type: "object", properties: { prompt: { type: "string" } }, required: ["prompt"] },
  },
  {
    name: "test_elicitation",
    description: "Asks the user",
    inputSchema: { type: "object", properties: { message: { type: "string" } }, required: ["message"] },
  },
  {
    name: "test_elicitation_sep1034_defaults",
    description: "Asks the user, with defaults (SEP-1034)",
    inputSchema: noArguments,
  },
  {
    name: "test_elicitation_sep1330_enums",
    description: "Asks the user, with every enum form (SEP-1330)",
    inputSchema: noArguments,
  },
  {
    name: "test_reconnection",
    description: "Closes its SSE stream mid-call; the answer comes on the resumed stream (SEP-1699)",
    inputSchema: noArguments,
  },
  {
    name: "json_schema_2020_12_tool",
    description: "Tool with JSON Schema 2020-12 features",
    inputSchema: {
      $schema: "https://json-schema.org/draft/2020-12/schema",
      type: "object",
      $defs: { address: { type: "object", properties: { street: { type: "string" }, city: { type: "string" } } } },
      properties: { name: { type: "string" }, address: { $ref: "#/$defs/address" } },
      additionalProperties: false,
    },
  },
];

const textResult = (text: string): CallToolResult => ({ content: [{ type: "text", text }] });
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function callTool(
  name: string,
  args: Record<string, unknown>,
  extra: Extra,
  progressToken: string | number | undefined,
): Promise<CallToolResult> {
  switch (name) {
    case "test_simple_text":
      return textResult("This is a simple text response for testing.");
    case "test_image_content":
      return { content: [{ type: "image", data: PNG, mimeType: "image/png" }] };
    case "test_audio_content":
      return { content: [{ type: "audio", data: wav(), mimeType: "audio/wav" }] };
    case "test_embedded_resource":
      return {
        content: [
          {
            type: "resource",
            resource: {
              uri: "test://embedded-resource",
              mimeType: "text/plain",
              text: "This is an embedded resource content.",
            },
          },
        ],
      };
    case "test_multiple_content_types":
      return {
        content: [
          { type: "text", text: "Multiple content types test:" },
          { type: "image", data: PNG, mimeType: "image/png" },
          {
            type: "resource",
            resource: {
              uri: "test://mixed-content-resource",
              mimeType: "application/json",
              text: JSON.stringify({ test: "data", value: 123 }),
            },
          },
        ],
      };
    case "test_tool_with_logging":
      for (const [i, data] of [
        "Tool execution started",
        "Tool processing data",
        "Tool execution completed",
      ].entries()) {
        if (i > 0) await pause(50);
        await extra.sendNotification({ method: "notifications/message", params: { level: "info", data } });
      }
      return textResult("Logged three messages.");
    case "test_tool_with_progress":
      for (const [i, progress] of [0, 50, 100].entries()) {
        if (i > 0) await pause(50);
        if (progressToken !== undefined)
          await extra.sendNotification({
            method: "notifications/progress",
            params: { progressToken, progress, total: 100 },
          });
      }
      return textResult("Reported progress 0, 50 and 100 of 100.");
    case "test_error_handling":
      return {
        isError: true,
        content: [{ type: "text", text: "This tool intentionally returns an error for testing" }],
      };
    case "test_sampling": {
      const answer = await extra.sendRequest(
        {
          method: "sampling/createMessage",
          params: {
            messages: [{ role: "user", content: { type: "text", text: String(args.prompt) } }],
            maxTokens: 100,
          },
        },
        CreateMessageResultSchema,
      );
      return textResult(`LLM response: ${answer.content.type === "text" ? answer.content.text : answer.content.type}`);
    }
    case "test_elicitation":
      return elicit(
        extra,
        String(args.message),
        {
          username: { type: "string", description: "User's response" },
          email: { type: "string", description: "User's email address" },
        },
        ["username", "email"],
      );
    case "test_elicitation_sep1034_defaults":
      return elicit(extra, "Please review your details", {
        name: { type: "string", default: "John Doe" },
        age: { type: "integer", default: 30 },
        score: { type: "number", default: 95.5 },
        status: { type: "string", enum: ["active", "inactive", "pending"], default: "active" },
        verified: { type: "boolean", default: true },
      });
    case "test_elicitation_sep1330_enums":
      return elicit(extra, "Choose options", {
        untitledSingle: { type: "string", enum: ["option1", "option2", "option3"] },
        titledSingle: {
          type: "string",
          oneOf: [
            { const: "value1", title: "First Option" },
            { const: "value2", title: "Second Option" },
            { const: "value3", title: "Third Option" },
          ],
        },
        legacyEnum: {
          type: "string",
          enum: ["opt1", "opt2", "opt3"],
          enumNames: ["Option One", "Option Two", "Option Three"],
        },
        untitledMulti: { type: "array", items: { type: "string", enum: ["option1", "option2", "option3"] } },
        titledMulti: {
          type: "array",
          items: {
            anyOf: [
              { const: "value1", title: "First Choice" },
              { const: "value2", title: "Second Choice" },
              { const: "value3", title: "Third Choice" },
            ],
          },
        },
      });
    case "test_reconnection":
      // SEP-1699: the server may close a request's stream; the client resumes with Last-Event-ID.
      await pause(50);
      extra.closeSSEStream?.();
      await pause(100);
      return textResult("Answered after the stream was closed.");
    case "json_schema_2020_12_tool":
      return textResult(`Hello ${String(args.name ?? "")}`);
    default:
      throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${name}`);
  }
}

async function elicit(
  extra: Extra,
  message: string,
  properties: Record<string, unknown>,
  required?: string[],
): Promise<CallToolResult> {
  const answer = await extra.sendRequest(
    {
      method: "elicitation/create",
      params: { message, requestedSchema: { type: "object", properties, ...(required ? { required } : {}) } as never },
    },
    ElicitResultSchema,
  );
  return textResult(`User response: action=${answer.action}, content=${JSON.stringify(answer.content ?? {})}`);
}

const RESOURCES = [
  { uri: "test://static-text", name: "static-text", description: "A static text resource", mimeType: "text/plain" },
  {
    uri: "test://static-binary",
    name: "static-binary",
    description: "A static binary resource",
    mimeType: "image/png",
  },
  {
    uri: "test://watched-resource",
    name: "watched-resource",
    description: "A resource to subscribe to",
    mimeType: "text/plain",
  },
];

function readResource(uri: string) {
  if (uri === "test://static-text")
    return [{ uri, mimeType: "text/plain", text: "This is the content of the static text resource." }];
  if (uri === "test://static-binary") return [{ uri, mimeType: "image/png", blob: PNG }];
  if (uri === "test://watched-resource") return [{ uri, mimeType: "text/plain", text: "Watched resource content." }];
  const id = /^test:\/\/template\/([^/]+)\/data$/.exec(uri)?.[1];
  if (id)
    return [
      {
        uri,
        mimeType: "application/json",
        text: JSON.stringify({ id, templateTest: true, data: `Data for ID: ${id}` }),
      },
    ];
  throw new McpError(ErrorCode.InvalidParams, `Resource not found: ${uri}`);
}

const PROMPTS = [
  { name: "test_simple_prompt", description: "A prompt without arguments" },
  {
    name: "test_prompt_with_arguments",
    description: "A prompt with two arguments",
    arguments: [
      { name: "arg1", description: "First test argument", required: true },
      { name: "arg2", description: "Second test argument", required: true },
    ],
  },
  {
    name: "test_prompt_with_embedded_resource",
    description: "A prompt embedding a resource",
    arguments: [{ name: "resourceUri", description: "URI of the resource to embed", required: true }],
  },
  { name: "test_prompt_with_image", description: "A prompt with an image" },
];

function getPrompt(name: string, args: Record<string, string>) {
  switch (name) {
    case "test_simple_prompt":
      return {
        messages: [
          { role: "user" as const, content: { type: "text" as const, text: "This is a simple prompt for testing." } },
        ],
      };
    case "test_prompt_with_arguments":
      return {
        messages: [
          {
            role: "user" as const,
            content: { type: "text" as const, text: `Prompt with arguments: arg1='${args.arg1}', arg2='${args.arg2}'` },
          },
        ],
      };
    case "test_prompt_with_embedded_resource":
      return {
        messages: [
          {
            role: "user" as const,
            content: {
              type: "resource" as const,
              resource: {
                uri: args.resourceUri ?? "test://embedded",
                mimeType: "text/plain",
                text: "Embedded resource content for testing.",
              },
            },
          },
          {
            role: "user" as const,
            content: { type: "text" as const, text: "Please process the embedded resource above." },
          },
        ],
      };
    case "test_prompt_with_image":
      return {
        messages: [
          { role: "user" as const, content: { type: "image" as const, data: PNG, mimeType: "image/png" } },
          { role: "user" as const, content: { type: "text" as const, text: "Please analyze the image above." } },
        ],
      };
    default:
      throw new McpError(ErrorCode.InvalidParams, `Unknown prompt: ${name}`);
  }
}

function conformanceServer(): Server {
  const server = new Server(
    { name: "conformance-upstream", version: "1.0.0" },
    { capabilities: { tools: {}, resources: { subscribe: true }, prompts: {}, logging: {}, completions: {} } },
  );
  const subscriptions = new Set<string>();
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: TOOLS }));
  server.setRequestHandler(CallToolRequestSchema, (request, extra) =>
    callTool(request.params.name, request.params.arguments ?? {}, extra, request.params._meta?.progressToken),
  );
  server.setRequestHandler(ListResourcesRequestSchema, () => ({ resources: RESOURCES }));
  server.setRequestHandler(ListResourceTemplatesRequestSchema, () => ({
    resourceTemplates: [
      {
        uriTemplate: "test://template/{id}/data",
        name: "template",
        description: "Data by id",
        mimeType: "application/json",
      },
    ],
  }));
  server.setRequestHandler(ReadResourceRequestSchema, (request) => ({ contents: readResource(request.params.uri) }));
  server.setRequestHandler(SubscribeRequestSchema, (request) => (subscriptions.add(request.params.uri), {}));
  server.setRequestHandler(UnsubscribeRequestSchema, (request) => (subscriptions.delete(request.params.uri), {}));
  server.setRequestHandler(ListPromptsRequestSchema, () => ({ prompts: PROMPTS }));
  server.setRequestHandler(GetPromptRequestSchema, (request) =>
    getPrompt(request.params.name, request.params.arguments ?? {}),
  );
  server.setRequestHandler(CompleteRequestSchema, (request) => {
    const values = ["paris", "park", "party"].filter((value) => value.startsWith(request.params.argument.value));
    return { completion: { values, total: values.length, hasMore: false } };
  });
  return server;
}

export interface ConformanceServer {
  /** The MCP endpoint, http://localhost:<port>/mcp (the DNS-rebinding scenario needs a localhost URL). */
  url: string;
  close(): Promise<void>;
}

export async function startConformanceServer(): Promise<ConformanceServer> {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  let port = 0;
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const sessionId = req.headers["mcp-session-id"];
    const existing = typeof sessionId === "string" ? sessions.get(sessionId) : undefined;
    if (existing) return existing.handleRequest(req, res);
    let body: unknown;
    if (req.method === "POST") {
      let text = "";
      for await (const chunk of req) text += chunk;
      body = JSON.parse(text || "null");
    }
    if (sessionId !== undefined || !isInitializeRequest(body)) {
      res.writeHead(sessionId === undefined ? 400 : 404, { "Content-Type": "application/json" });
      return res.end(
        JSON.stringify({
          jsonrpc: "2.0",
          id: null,
          error: {
            code: -32000,
            message: sessionId === undefined ? "Bad Request: no session id" : "Session not found",
          },
        }),
      );
    }
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => void sessions.set(id, transport),
      eventStore: new InMemoryEventStore(),
      retryInterval: 100,
      // MCP transports, "Security Warning": a local server validates Host and Origin.
      enableDnsRebindingProtection: true,
      allowedHosts: [`localhost:${port}`, `127.0.0.1:${port}`],
      allowedOrigins: [`http://localhost:${port}`, `http://127.0.0.1:${port}`],
    });
    transport.onclose = () => void (transport.sessionId && sessions.delete(transport.sessionId));
    await conformanceServer().connect(transport);
    await transport.handleRequest(req, res, body);
  };
  const http = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(err));
    });
  }).listen(0, "127.0.0.1");
  await once(http, "listening");
  port = (http.address() as AddressInfo).port;
  return {
    url: `http://localhost:${port}/mcp`,
    async close() {
      await Promise.all([...sessions.values()].map((transport) => transport.close()));
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
    },
  };
}
