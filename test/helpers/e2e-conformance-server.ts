// An MCP server that serves both protocol eras at one endpoint, built on the v2 SDK
// (@modelcontextprotocol/server), implementing what the MCP conformance suite's server scenarios
// call (@modelcontextprotocol/conformance 0.2: each scenario's description names the tool, prompt or
// resource it expects and what it must return; docs/testing.md, "End-to-end tests").
//
// - 2026-07-28 requests (the per-request `_meta` envelope, MCP 2026-07-28 basic/lifecycle) go to
//   the SDK's own HTTP entry, `createMcpHandler`, strict (`legacy: "reject"`): it validates the
//   envelope and the routing headers, answers `server/discover`, adds caching hints, serves
//   `subscriptions/listen` and refuses the methods the revision removed.
// - 2025-era requests (no envelope: `initialize`, then `Mcp-Session-Id`) go to a sessionful
//   Streamable HTTP transport with an event store, so streams can be resumed (test_reconnection
//   closes its stream mid-call) and server-to-client requests reach the client.
//
// One factory backs both, so the two eras cannot drift apart. Multi-round-trip tools are written
// once in the 2026 style (`inputRequired(...)`, MCP 2026-07-28 basic/patterns/mrtr); on a 2025
// session the SDK turns each embedded request into a real server-to-client request and re-enters
// the handler with the answer. Request state is signed (HMAC, the SDK's codec), so a tampered
// state is refused with -32602 before the handler runs.
//
// Node's HTTP server is bridged to the fetch-shaped handlers by hand (a few lines; the SDK's Node
// adapter is not installed). Host and Origin are checked first, as MCP transports, "Security
// Warning" asks of a local server. The SDK 2.4 entry does not check `Mcp-Param-{Name}` headers
// against the body, which 2026-07-28 requires of a server; a small gate here does (it is
// hand-written because no installed package has it).
import { randomBytes, randomUUID } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";
import {
  CLIENT_CAPABILITIES_META_KEY,
  createMcpHandler,
  createRequestStateCodec,
  hostHeaderValidationResponse,
  inputRequired,
  inputResponse,
  isInitializeRequest,
  isLegacyRequest,
  localhostAllowedHostnames,
  localhostAllowedOrigins,
  originValidationResponse,
  ProtocolError,
  ProtocolErrorCode,
  ResourceNotFoundError,
  Server,
  WebStandardStreamableHTTPServerTransport,
  type CallToolResult,
  type ClientCapabilities,
  type EventStore,
  type GetPromptResult,
  type InputRequests,
  type JSONRPCMessage,
  type McpRequestContext,
  type ServerContext,
  type Tool,
} from "@modelcontextprotocol/server";

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
const tool = (name: string, description: string, inputSchema: Tool["inputSchema"] = noArguments): Tool => ({
  name,
  description,
  inputSchema,
});

/** The JSON Schema 2020-12 tool: every keyword the suite checks survives listing (SEP-1613, SEP-2106). */
const JSON_SCHEMA_2020_12: Tool["inputSchema"] = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  type: "object",
  $defs: {
    address: {
      $anchor: "addressDef",
      type: "object",
      properties: { street: { type: "string" }, city: { type: "string" } },
    },
  },
  properties: {
    name: { type: "string" },
    address: { $ref: "#/$defs/address" },
    contactMethod: { type: "string", enum: ["phone", "email"] },
    phone: { type: "string" },
    email: { type: "string" },
  },
  allOf: [{ anyOf: [{ required: ["phone"] }, { required: ["email"] }] }],
  if: { properties: { contactMethod: { const: "phone" } }, required: ["contactMethod"] },
  then: { required: ["phone"] },
  else: { required: ["email"] },
  additionalProperties: false,
};

const TOOLS: Tool[] = [
  tool("test_simple_text", "Returns simple text"),
  tool("test_image_content", "Returns an image"),
  tool("test_audio_content", "Returns audio"),
  tool("test_embedded_resource", "Returns an embedded resource"),
  tool("test_multiple_content_types", "Returns text, an image and a resource"),
  tool("test_tool_with_logging", "Logs three messages while it runs"),
  tool("test_logging_tool", "Logs one message, which the client sees only if it asked for a log level"),
  tool("test_tool_with_progress", "Reports progress while it runs"),
  tool("test_error_handling", "Always fails"),
  tool("test_sampling", "Asks the client's LLM", {
    type: "object",
    properties: { prompt: { type: "string" } },
    required: ["prompt"],
  }),
  tool("test_elicitation", "Asks the user", {
    type: "object",
    properties: { message: { type: "string" } },
    required: ["message"],
  }),
  tool("test_elicitation_sep1034_defaults", "Asks the user, with defaults (SEP-1034)"),
  tool("test_elicitation_sep1330_enums", "Asks the user, with every enum form (SEP-1330)"),
  tool("test_reconnection", "Closes its SSE stream mid-call; the answer comes on the resumed stream (SEP-1699)"),
  tool("json_schema_2020_12_tool", "Tool with JSON Schema 2020-12 features", JSON_SCHEMA_2020_12),
  tool("test_missing_capability", "Needs the client's sampling capability"),
  tool("test_streaming_elicitation", "Asks the user through an input_required result"),
  tool("test_trigger_tool_change", "Announces a change of the tool list"),
  tool("test_trigger_prompt_change", "Announces a change of the prompt list"),
  tool("test_custom_header", "Echoes a parameter that is mirrored in an Mcp-Param header (SEP-2243)", {
    type: "object",
    properties: { region: { type: "string", "x-mcp-header": "Region" } },
    required: ["region"],
  }),
  tool("test_input_required_result_elicitation", "Asks the user's name (multi-round-trip)"),
  tool("test_input_required_result_sampling", "Asks the client's LLM (multi-round-trip)"),
  tool("test_input_required_result_list_roots", "Asks the client's roots (multi-round-trip)"),
  tool("test_input_required_result_request_state", "Asks for a confirmation and carries signed state"),
  tool("test_input_required_result_multiple_inputs", "Asks for three inputs in one round"),
  tool("test_input_required_result_multi_round", "Asks two questions in two rounds"),
  tool("test_input_required_result_tampered_state", "Carries signed state and refuses it altered"),
  tool("test_input_required_result_capabilities", "Asks only for what the client declared it can answer"),
];

const text = (value: string): CallToolResult => ({ content: [{ type: "text", text: value }] });
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The embedded requests the multi-round-trip tools and prompt ask for. */
const ask = {
  name: (message = "What is your name?") =>
    inputRequired.elicit({
      message,
      requestedSchema: { type: "object", properties: { name: { type: "string" } }, required: ["name"] },
    }),
  confirm: () =>
    inputRequired.elicit({
      message: "Please confirm",
      requestedSchema: { type: "object", properties: { ok: { type: "boolean" } }, required: ["ok"] },
    }),
  color: () =>
    inputRequired.elicit({
      message: "Step 2: What is your favorite color?",
      requestedSchema: { type: "object", properties: { color: { type: "string" } }, required: ["color"] },
    }),
  context: () =>
    inputRequired.elicit({
      message: "What context should the prompt use?",
      requestedSchema: { type: "object", properties: { context: { type: "string" } }, required: ["context"] },
    }),
  llm: (prompt: string, maxTokens = 100) =>
    inputRequired.createMessage({ messages: [{ role: "user", content: { type: "text", text: prompt } }], maxTokens }),
};

/** What a flow's signed request state carries: the tool it belongs to and the round it is at. */
interface FlowState {
  tool: string;
  round: number;
  name?: string;
}

type Codec = ReturnType<typeof createRequestStateCodec<FlowState>>;

/** The accepted content of an elicitation answer, or undefined (missing, declined, malformed). */
function accepted(ctx: ServerContext, key: string): Record<string, unknown> | undefined {
  const view = inputResponse(ctx.mcpReq.inputResponses, key);
  return view.kind === "elicit" && view.action === "accept" ? (view.content ?? {}) : undefined;
}

function samplingText(ctx: ServerContext, key: string): string | undefined {
  const view = inputResponse(ctx.mcpReq.inputResponses, key);
  if (view.kind !== "sampling") return undefined;
  const content = view.result.content;
  const block = Array.isArray(content) ? content[0] : content;
  return block?.type === "text" ? block.text : (block?.type ?? "");
}

function roots(ctx: ServerContext, key: string): string[] | undefined {
  const view = inputResponse(ctx.mcpReq.inputResponses, key);
  return view.kind === "roots" ? view.roots.map((root) => root.uri) : undefined;
}

/** The verified state of this round, if it belongs to `tool` (a state minted for another flow is refused). */
function stateOf(ctx: ServerContext, tool: string): FlowState | undefined {
  const state = ctx.mcpReq.requestState<FlowState>();
  if (state === undefined) return undefined;
  if (state.tool !== tool) throw new ProtocolError(ProtocolErrorCode.InvalidParams, "requestState is for another flow");
  return state;
}

/** A 2025-era elicitation written in the 2026 style: the legacy shim sends it as `elicitation/create`. */
function elicitOnce(ctx: ServerContext, message: string, properties: Record<string, unknown>, required?: string[]) {
  const view = inputResponse(ctx.mcpReq.inputResponses, "answer");
  if (view.kind === "elicit")
    return text(`User response: action=${view.action}, content=${JSON.stringify(view.content ?? {})}`);
  return inputRequired({
    inputRequests: {
      answer: inputRequired.elicit({
        message,
        requestedSchema: { type: "object", properties, ...(required ? { required } : {}) } as never,
      }),
    },
  });
}

async function callTool(
  name: string,
  args: Record<string, unknown>,
  ctx: ServerContext,
  codec: Codec,
  notify: { toolsChanged(): void; promptsChanged(): void },
) {
  switch (name) {
    case "test_simple_text":
      return text("This is a simple text response for testing.");
    case "test_image_content":
      return { content: [{ type: "image", data: PNG, mimeType: "image/png" }] } satisfies CallToolResult;
    case "test_audio_content":
      return { content: [{ type: "audio", data: wav(), mimeType: "audio/wav" }] } satisfies CallToolResult;
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
      } satisfies CallToolResult;
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
      } satisfies CallToolResult;
    case "test_tool_with_logging":
      for (const [i, data] of [
        "Tool execution started",
        "Tool processing data",
        "Tool execution completed",
      ].entries()) {
        if (i > 0) await pause(50);
        await ctx.mcpReq.log("info", data);
      }
      return text("Logged three messages.");
    case "test_logging_tool":
      // The SDK drops it unless the request asked for a log level (2026-07-28) or the session set one.
      await ctx.mcpReq.log("info", "test_logging_tool ran");
      return text("Logged one message.");
    case "test_tool_with_progress": {
      const progressToken = ctx.mcpReq._meta?.progressToken;
      for (const [i, progress] of [0, 50, 100].entries()) {
        if (i > 0) await pause(50);
        if (progressToken !== undefined)
          await ctx.mcpReq.notify({
            method: "notifications/progress",
            params: { progressToken, progress, total: 100 },
          });
      }
      return text("Reported progress 0, 50 and 100 of 100.");
    }
    case "test_error_handling":
      return {
        isError: true,
        content: [{ type: "text", text: "This tool intentionally returns an error for testing" }],
      } satisfies CallToolResult;
    case "test_sampling": {
      const answer = samplingText(ctx, "answer");
      if (answer !== undefined) return text(`LLM response: ${answer}`);
      return inputRequired({ inputRequests: { answer: ask.llm(String(args.prompt)) } });
    }
    case "test_elicitation":
      return elicitOnce(
        ctx,
        String(args.message),
        {
          username: { type: "string", description: "User's response" },
          email: { type: "string", description: "User's email address" },
        },
        ["username", "email"],
      );
    case "test_elicitation_sep1034_defaults":
      return elicitOnce(ctx, "Please review your details", {
        name: { type: "string", default: "John Doe" },
        age: { type: "integer", default: 30 },
        score: { type: "number", default: 95.5 },
        status: { type: "string", enum: ["active", "inactive", "pending"], default: "active" },
        verified: { type: "boolean", default: true },
      });
    case "test_elicitation_sep1330_enums":
      return elicitOnce(ctx, "Choose options", {
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
      ctx.http?.closeSSE?.();
      await pause(100);
      return text("Answered after the stream was closed.");
    case "json_schema_2020_12_tool":
      return text(`Hello ${String(args.name ?? "")}`);
    case "test_missing_capability":
      // The SDK answers -32021 (MissingRequiredClientCapability) when the request declared no sampling.
      return samplingText(ctx, "answer") !== undefined
        ? text("Sampled.")
        : inputRequired({ inputRequests: { answer: ask.llm("Say hello") } });
    case "test_streaming_elicitation":
      return accepted(ctx, "user_name")
        ? text(`Hello, ${String(accepted(ctx, "user_name")?.name)}!`)
        : inputRequired({ inputRequests: { user_name: ask.name() } });
    case "test_trigger_tool_change":
      notify.toolsChanged();
      return text("Tool list change announced.");
    case "test_trigger_prompt_change":
      notify.promptsChanged();
      return text("Prompt list change announced.");
    case "test_custom_header":
      return text(`Region: ${String(args.region)}`);
    case "test_input_required_result_elicitation": {
      const answer = accepted(ctx, "user_name");
      if (typeof answer?.name === "string") return text(`Hello, ${answer.name}!`);
      // Missing, wrong or malformed answers: ask again rather than fail (MCP 2026-07-28 mrtr).
      return inputRequired({ inputRequests: { user_name: ask.name() } });
    }
    case "test_input_required_result_sampling": {
      const answer = samplingText(ctx, "capital_question");
      if (answer !== undefined) return text(`The LLM answered: ${answer}`);
      return inputRequired({ inputRequests: { capital_question: ask.llm("What is the capital of France?") } });
    }
    case "test_input_required_result_list_roots": {
      const uris = roots(ctx, "client_roots");
      if (uris) return text(`The client has ${uris.length} root(s): ${uris.join(", ")}`);
      return inputRequired({ inputRequests: { client_roots: inputRequired.listRoots() } });
    }
    case "test_input_required_result_request_state":
    case "test_input_required_result_tampered_state": {
      const state = stateOf(ctx, name);
      const answer = accepted(ctx, "confirm");
      if (state && answer) return text(`state-ok: confirmed=${String(answer.ok)}`);
      return inputRequired({
        inputRequests: { confirm: ask.confirm() },
        requestState: await codec.mint({ tool: name, round: 1 }, ctx),
      });
    }
    case "test_input_required_result_multiple_inputs": {
      const state = stateOf(ctx, name);
      const user = accepted(ctx, "user_name");
      const greeting = samplingText(ctx, "greeting");
      const uris = roots(ctx, "client_roots");
      if (state && user && greeting !== undefined && uris)
        return text(`Hello, ${String(user.name)}! Greeting: ${greeting}. Roots: ${uris.join(", ")}`);
      const inputRequests: InputRequests = {
        user_name: ask.name(),
        greeting: ask.llm("Generate a greeting", 50),
        client_roots: inputRequired.listRoots(),
      };
      return inputRequired({ inputRequests, requestState: await codec.mint({ tool: name, round: 1 }, ctx) });
    }
    case "test_input_required_result_multi_round": {
      const state = stateOf(ctx, name);
      const step1 = accepted(ctx, "step1");
      const step2 = accepted(ctx, "step2");
      if (state?.round === 2 && typeof step2?.color === "string")
        return text(`Hello, ${state.name ?? ""}! Your favorite color is ${step2.color}.`);
      if (state?.round === 1 && typeof step1?.name === "string")
        return inputRequired({
          inputRequests: { step2: ask.color() },
          requestState: await codec.mint({ tool: name, round: 2, name: step1.name }, ctx),
        });
      return inputRequired({
        inputRequests: { step1: ask.name("Step 1: What is your name?") },
        requestState: await codec.mint({ tool: name, round: 1 }, ctx),
      });
    }
    case "test_input_required_result_capabilities": {
      // The request's own declaration (MCP 2026-07-28 basic/lifecycle, per-request `_meta`).
      const envelope = ctx.mcpReq.envelope as Record<string, unknown> | undefined;
      const declared = (envelope?.[CLIENT_CAPABILITIES_META_KEY] ?? {}) as ClientCapabilities;
      const user = accepted(ctx, "user_name");
      const answer = samplingText(ctx, "answer");
      const inputRequests: InputRequests = {};
      if (declared.elicitation && !user) inputRequests.user_name = ask.name();
      if (declared.sampling && answer === undefined) inputRequests.answer = ask.llm("Say hello");
      if (Object.keys(inputRequests).length > 0) return inputRequired({ inputRequests });
      return text("Nothing to ask: the client declared neither elicitation nor sampling, or answered both.");
    }
    default:
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown tool: ${name}`);
  }
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
  // MCP 2026-07-28 server/resources: an unknown URI is -32602 with the URI in `data` (SEP-2164).
  throw new ResourceNotFoundError(uri);
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
  { name: "test_input_required_result_prompt", description: "A prompt that asks the user for context first" },
];

function getPrompt(name: string, args: Record<string, string>, ctx: ServerContext) {
  const user = (content: GetPromptResult["messages"][number]["content"]) => ({ role: "user" as const, content });
  switch (name) {
    case "test_simple_prompt":
      return { messages: [user({ type: "text", text: "This is a simple prompt for testing." })] };
    case "test_prompt_with_arguments":
      return {
        messages: [user({ type: "text", text: `Prompt with arguments: arg1='${args.arg1}', arg2='${args.arg2}'` })],
      };
    case "test_prompt_with_embedded_resource":
      return {
        messages: [
          user({
            type: "resource",
            resource: {
              uri: args.resourceUri ?? "test://embedded",
              mimeType: "text/plain",
              text: "Embedded resource content for testing.",
            },
          }),
          user({ type: "text", text: "Please process the embedded resource above." }),
        ],
      };
    case "test_prompt_with_image":
      return {
        messages: [
          user({ type: "image", data: PNG, mimeType: "image/png" }),
          user({ type: "text", text: "Please analyze the image above." }),
        ],
      };
    case "test_input_required_result_prompt": {
      const answer = accepted(ctx, "user_context");
      if (typeof answer?.context === "string")
        return { messages: [user({ type: "text", text: `Answer with this context in mind: ${answer.context}` })] };
      return inputRequired({ inputRequests: { user_context: ask.context() } });
    }
    default:
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown prompt: ${name}`);
  }
}

/** Cache hints for the cacheable results (SEP-2549): nothing here depends on who asks, so they are public. */
const CACHE = { ttlMs: 60_000, cacheScope: "public" } as const;

function conformanceServer(
  ctx: McpRequestContext,
  codec: Codec,
  notify: { toolsChanged(): void; promptsChanged(): void },
): Server {
  const server = new Server(
    { name: "conformance-upstream-v2", version: "2.0.0" },
    {
      capabilities: {
        tools: { listChanged: true },
        resources: { subscribe: true, listChanged: true },
        prompts: { listChanged: true },
        logging: {},
        completions: {},
      },
      cacheHints: {
        "tools/list": CACHE,
        "prompts/list": CACHE,
        "resources/list": CACHE,
        "resources/templates/list": CACHE,
        "resources/read": CACHE,
      },
      requestState: { verify: codec.verify },
    },
  );
  server.setRequestHandler("tools/list", () => ({ tools: TOOLS }));
  server.setRequestHandler("tools/call", (request, handlerCtx) =>
    callTool(request.params.name, request.params.arguments ?? {}, handlerCtx, codec, notify),
  );
  server.setRequestHandler("resources/list", () => ({ resources: RESOURCES }));
  server.setRequestHandler("resources/templates/list", () => ({
    resourceTemplates: [
      {
        uriTemplate: "test://template/{id}/data",
        name: "template",
        description: "Data by id",
        mimeType: "application/json",
      },
    ],
  }));
  server.setRequestHandler("resources/read", (request) => ({ contents: readResource(request.params.uri) }));
  if (ctx.era === "legacy") {
    // 2025 only: 2026-07-28 removed these for `subscriptions/listen`, which the SDK serves itself.
    server.setRequestHandler("resources/subscribe", () => ({}));
    server.setRequestHandler("resources/unsubscribe", () => ({}));
  }
  server.setRequestHandler("prompts/list", () => ({ prompts: PROMPTS }));
  server.setRequestHandler("prompts/get", (request, handlerCtx) =>
    getPrompt(request.params.name, request.params.arguments ?? {}, handlerCtx),
  );
  server.setRequestHandler("completion/complete", (request) => {
    const values = ["paris", "park", "party"].filter((value) => value.startsWith(request.params.argument.value));
    return { completion: { values, total: values.length, hasMore: false } };
  });
  return server;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** RFC 9110 §5.5 field-value characters: visible ASCII, space and tab. */
const FIELD_VALUE = /^[\t\x20-\x7e]*$/;

/**
 * Why a 2026-07-28 `tools/call` does not match its `Mcp-Param-{Name}` headers, or undefined when it
 * does (MCP 2026-07-28 basic/transports/streamable-http, "Server Behavior for Custom Headers"): a
 * value in the body needs its header; a header needs the same value in the body, after decoding the
 * `=?base64?…?=` sentinel (strict Base64: bad padding or characters are refused); a value that only
 * looks like the sentinel is literal. The SDK's entry checks Mcp-Method and Mcp-Name but not these.
 */
function paramHeaderMismatch(body: unknown, headers: Headers, tools: Tool[]): string | undefined {
  const message = body as { method?: unknown; params?: { name?: unknown; arguments?: Record<string, unknown> } };
  if (message?.method !== "tools/call") return undefined;
  const schema = tools.find((candidate) => candidate.name === message.params?.name)?.inputSchema;
  for (const [property, definition] of Object.entries(schema?.properties ?? {})) {
    const name = (definition as { "x-mcp-header"?: unknown })["x-mcp-header"];
    if (typeof name !== "string") continue;
    const value = message.params?.arguments?.[property];
    const header = headers.get(`Mcp-Param-${name}`)?.trim();
    if (header === undefined) {
      if (value === undefined || value === null) continue;
      return `Mcp-Param-${name} header is missing but ${property} is in the body`;
    }
    if (!FIELD_VALUE.test(header)) return `Mcp-Param-${name} header has invalid characters`;
    let decoded = header;
    const encoded = /^=\?base64\?(.*)\?=$/.exec(header)?.[1];
    if (encoded !== undefined) {
      if (!BASE64.test(encoded)) return `Mcp-Param-${name} header is not valid Base64`;
      decoded = Buffer.from(encoded, "base64").toString("utf8");
    }
    const matches =
      typeof value === "number" ? decoded.trim() !== "" && Number(decoded) === value : decoded === String(value);
    if (!matches) return `Mcp-Param-${name} header does not match ${property} in the body`;
  }
  return undefined;
}

/** Keeps every event of every stream, so a 2025 client can resume with Last-Event-ID. */
function memoryEventStore(): EventStore {
  const events: { id: string; streamId: string; message: JSONRPCMessage }[] = [];
  return {
    storeEvent(streamId, message) {
      const id = `${streamId}_${events.length}`;
      events.push({ id, streamId, message });
      return Promise.resolve(id);
    },
    async replayEventsAfter(lastEventId, { send }) {
      const at = events.findIndex((event) => event.id === lastEventId);
      const streamId = events[at]?.streamId ?? "";
      for (const event of events.slice(at + 1)) if (event.streamId === streamId) await send(event.id, event.message);
      return streamId;
    },
  };
}

const jsonRpcError = (status: number, message: string) =>
  Response.json({ jsonrpc: "2.0", id: null, error: { code: -32000, message } }, { status });

/** Node request → fetch Request (the client's disconnect aborts it) → Node response, streamed. */
async function toRequest(req: IncomingMessage, res: ServerResponse, origin: string): Promise<Request> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const aborted = new AbortController();
  res.once("close", () => aborted.abort());
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers))
    for (const one of [value ?? []].flat()) headers.append(name, one);
  return new Request(new URL(req.url ?? "/", origin), {
    method: req.method,
    headers,
    body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
    signal: aborted.signal,
  });
}

async function writeResponse(response: Response, res: ServerResponse): Promise<void> {
  const headers: string[] = [];
  response.headers.forEach((value, name) => void headers.push(name, value));
  res.writeHead(response.status, headers);
  res.flushHeaders();
  if (!response.body) return void res.end();
  const body = Readable.fromWeb(response.body as NodeReadableStream<Uint8Array>);
  res.once("close", () => body.destroy());
  body.on("error", () => res.destroy());
  body.pipe(res);
}

export interface ConformanceServer {
  /** The MCP endpoint, http://localhost:<port>/mcp (the DNS-rebinding scenario needs a localhost URL). */
  url: string;
  close(): Promise<void>;
}

export async function startConformanceServer(): Promise<ConformanceServer> {
  // One process serves every round of a flow, so a per-process key is enough (the codec's note).
  const codec = createRequestStateCodec<FlowState>({
    key: randomBytes(32),
    bind: (ctx) => ctx.mcpReq.method,
  });
  const notify = {
    toolsChanged: () => modern.notify.toolsChanged(),
    promptsChanged: () => modern.notify.promptsChanged(),
  };
  const factory = (ctx: McpRequestContext) => conformanceServer(ctx, codec, notify);
  const modern = createMcpHandler(factory, { legacy: "reject" });
  const sessions = new Map<string, WebStandardStreamableHTTPServerTransport>();

  async function legacy(request: Request): Promise<Response> {
    const sessionId = request.headers.get("mcp-session-id");
    if (sessionId !== null)
      return sessions.get(sessionId)?.handleRequest(request) ?? jsonRpcError(404, "Session not found");
    const body: unknown = request.method === "POST" ? await request.json().catch(() => undefined) : undefined;
    if (!isInitializeRequest(body)) return jsonRpcError(400, "Bad Request: no session id");
    const transport: WebStandardStreamableHTTPServerTransport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => void sessions.set(id, transport),
      onsessionclosed: (id) => void sessions.delete(id),
      eventStore: memoryEventStore(),
      retryInterval: 100,
    });
    await factory({ era: "legacy", requestInfo: request }).connect(transport);
    return transport.handleRequest(request, { parsedBody: body });
  }

  async function serve(request: Request): Promise<Response> {
    const refused =
      hostHeaderValidationResponse(request, localhostAllowedHostnames()) ??
      originValidationResponse(request, localhostAllowedOrigins());
    if (refused) return refused;
    if (await isLegacyRequest(request)) return legacy(request);
    const body: unknown = await request
      .clone()
      .json()
      .catch(() => undefined);
    const mismatch = paramHeaderMismatch(body, request.headers, TOOLS);
    if (mismatch === undefined) return modern.fetch(request);
    // HeaderMismatch: 400 and -32020, with the request's id (MCP 2026-07-28 streamable-http, "Server Validation").
    const id = (body as { id?: unknown }).id ?? null;
    return Response.json({ jsonrpc: "2.0", id, error: { code: -32020, message: mismatch } }, { status: 400 });
  }

  let origin = "";
  const http = createServer((req, res) => {
    toRequest(req, res, origin)
      .then(serve)
      .then((response) => writeResponse(response, res))
      .catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500).end(String(err));
        else res.destroy();
      });
  }).listen(0, "127.0.0.1");
  await once(http, "listening");
  origin = `http://localhost:${(http.address() as AddressInfo).port}`;
  return {
    url: `${origin}/mcp`,
    async close() {
      await modern.close();
      await Promise.all([...sessions.values()].map((transport) => transport.close()));
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
    },
  };
}
