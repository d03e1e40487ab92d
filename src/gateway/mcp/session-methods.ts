// What a session answers. Transport concerns (headers, JSON vs SSE, routing) live in
// http-transport.ts; this module only turns JSON-RPC messages into JSON-RPC replies, so a
// stateless transport (MCP 2026-07-28) can reuse it beside the session-based one.
import {
  ErrorCode,
  CallToolRequestParamsSchema,
  CompleteRequestParamsSchema,
  SetLevelRequestParamsSchema,
  SubscribeRequestParamsSchema,
  GetPromptRequestParamsSchema,
  InitializeRequestParamsSchema,
  ReadResourceRequestParamsSchema,
  type CallToolResult,
  type GetPromptResult,
  type Prompt,
  type ReadResourceResult,
  type Resource,
  type ResourceTemplate,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js";
import { JsonRpcError } from "../../core/errors.js";
import type { Principal } from "../auth/principal.js";
import type { JSONRPCMessage, JSONRPCNotification, JSONRPCRequest } from "./messages.js";
import { negotiateProtocolVersion, SERVER_INFO } from "./protocol.js";

/** What a session remembers between requests; persisted in its Durable Object's storage. */
export interface SessionContext {
  id: string;
  createdAt: number;
  lastActiveAt: number;
  protocolVersion: string;
  /** Who created the session; only the same principal may use it. */
  principal: Principal;
  client: { info: unknown; capabilities: unknown };
  /** The client sent notifications/initialized (MCP lifecycle, "Initialization"). */
  initialized: boolean;
}

type RequestId = JSONRPCRequest["id"];

export function resultMessage(id: RequestId, result: Record<string, unknown>): JSONRPCMessage {
  return { jsonrpc: "2.0", id, result };
}

export function errorMessage(id: RequestId, error: JsonRpcError): JSONRPCMessage {
  const body =
    error.data === undefined
      ? { code: error.code, message: error.message }
      : { code: error.code, message: error.message, data: error.data };
  return { jsonrpc: "2.0", id, error: body };
}

export type InitializeParams = ReturnType<typeof InitializeRequestParamsSchema.parse>;

/**
 * Validates an `initialize` request's params. Done by the stateless front before any Durable
 * Object exists, so malformed initializations cost no storage.
 */
export function readInitializeParams(request: JSONRPCRequest): InitializeParams {
  const params = InitializeRequestParamsSchema.safeParse(request.params);
  if (!params.success) {
    throw new JsonRpcError(
      ErrorCode.InvalidParams,
      "Invalid params: initialize needs protocolVersion, capabilities and clientInfo",
    );
  }
  return params.data;
}

/** Builds a new session from validated `initialize` params, with the reply to send back. */
export function startSession(
  id: string,
  requestId: RequestId,
  params: InitializeParams,
  principal: Principal,
  capabilities: Record<string, unknown>,
  now: number,
): { context: SessionContext; reply: JSONRPCMessage } {
  const protocolVersion = negotiateProtocolVersion(params.protocolVersion);
  const context: SessionContext = {
    id,
    createdAt: now,
    lastActiveAt: now,
    protocolVersion,
    principal,
    client: { info: params.clientInfo, capabilities: params.capabilities },
    initialized: false,
  };
  const reply = resultMessage(requestId, {
    protocolVersion,
    capabilities,
    serverInfo: SERVER_INFO,
  });
  return { context, reply };
}

type Listing<K extends string, T> = Record<K, T[]> & { _meta?: Record<string, unknown> };

/** Where a session's tools, prompts and resources come from (the apps, in the gateway). */
export interface ToolSource {
  listTools(): Promise<Listing<"tools", Tool>>;
  /** `params` as the agent sent them, for policies (input.request.mcp.params). */
  callTool(name: string, args: Record<string, unknown>, params?: Record<string, unknown>): Promise<CallToolResult>;
  listPrompts(): Promise<Listing<"prompts", Prompt>>;
  /** `params` as the agent sent them, for policies (input.request.mcp.params). */
  getPrompt(name: string, args: Record<string, string>, params: Record<string, unknown>): Promise<GetPromptResult>;
  listResources(): Promise<Listing<"resources", Resource>>;
  listResourceTemplates(): Promise<Listing<"resourceTemplates", ResourceTemplate>>;
  readResource(uri: string): Promise<ReadResourceResult>;
  complete(params: Record<string, unknown>): Promise<Record<string, unknown>>;
  subscription(method: "resources/subscribe" | "resources/unsubscribe", uri: string): Promise<void>;
  setLoggingLevel(level: string): Promise<void>;
}

/** A request's params, validated by `schema`, or -32602 naming `what` they should be. */
export function paramsOf<T>(
  schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } },
  request: JSONRPCRequest,
  what: string,
): T {
  const parsed = schema.safeParse(request.params);
  if (!parsed.success) throw new JsonRpcError(ErrorCode.InvalidParams, `Invalid params: ${what}`);
  return parsed.data;
}

/** Answers one request of an established session. */
export async function answerRequest(
  context: SessionContext,
  request: JSONRPCRequest,
  tools: ToolSource,
): Promise<JSONRPCMessage> {
  try {
    switch (request.method) {
      case "ping":
        return resultMessage(request.id, {});
      case "tools/list":
        return resultMessage(request.id, await tools.listTools());
      case "tools/call": {
        const params = paramsOf(
          CallToolRequestParamsSchema,
          request,
          "tools/call needs a tool name and an arguments object",
        );
        return resultMessage(request.id, await tools.callTool(params.name, params.arguments ?? {}, request.params));
      }
      case "prompts/list":
        return resultMessage(request.id, await tools.listPrompts());
      case "prompts/get": {
        const params = paramsOf(GetPromptRequestParamsSchema, request, "prompts/get needs a prompt name");
        return resultMessage(
          request.id,
          await tools.getPrompt(params.name, params.arguments ?? {}, request.params ?? {}),
        );
      }
      case "resources/list":
        return resultMessage(request.id, await tools.listResources());
      case "resources/templates/list":
        return resultMessage(request.id, await tools.listResourceTemplates());
      case "resources/read": {
        const params = paramsOf(ReadResourceRequestParamsSchema, request, "resources/read needs a uri");
        return resultMessage(request.id, await tools.readResource(params.uri));
      }
      case "resources/subscribe":
      case "resources/unsubscribe": {
        const params = paramsOf(SubscribeRequestParamsSchema, request, `${request.method} needs a uri`);
        await tools.subscription(request.method, params.uri);
        return resultMessage(request.id, {});
      }
      case "completion/complete": {
        const params = paramsOf(
          CompleteRequestParamsSchema,
          request,
          "completion/complete needs a ref and an argument",
        );
        return resultMessage(request.id, await tools.complete(params as unknown as Record<string, unknown>));
      }
      case "logging/setLevel": {
        const params = paramsOf(SetLevelRequestParamsSchema, request, "logging/setLevel needs a level");
        await tools.setLoggingLevel(params.level);
        return resultMessage(request.id, {});
      }
      case "initialize":
        // MCP lifecycle: initialization happens once per session.
        throw new JsonRpcError(
          ErrorCode.InvalidRequest,
          `Invalid Request: session ${context.id} is already initialized`,
        );
      default:
        throw new JsonRpcError(ErrorCode.MethodNotFound, `Method not found: ${request.method}`);
    }
  } catch (err) {
    if (err instanceof JsonRpcError) return errorMessage(request.id, err);
    throw err;
  }
}

/** Applies a client notification to the session; returns true when the context changed. */
export function applyNotification(context: SessionContext, notification: JSONRPCNotification): boolean {
  if (notification.method === "notifications/initialized" && !context.initialized) {
    context.initialized = true;
    return true;
  }
  return false;
}
