// What the gateway answers to one MCP 2026-07-28 request (docs/mcp-endpoint.md): there is no
// session, so every request stands alone with its `_meta` envelope. Transport concerns live in
// modern-transport.ts; the principal's context (session/principal-context.ts) supplies the apps.
//
// Per the 2026-07-28 revision: every result says `resultType: "complete"` (basic/index, "Result
// Types") and names the server in `_meta["io.modelcontextprotocol/serverInfo"]`; the cacheable
// results carry `ttlMs` and `cacheScope` (server/utilities/caching); resource-not-found is -32602
// (server/resources, "Error Handling"; -32002 is retired); a method this revision does not define
// (`ping`, `logging/setLevel`, `resources/subscribe`, `initialize`, …) is -32601, which the
// transport answers with HTTP 404 (transports/streamable-http, "Protocol Version Header").
import {
  CallToolRequestParamsSchema,
  CompleteRequestParamsSchema,
  ErrorCode,
  GetPromptRequestParamsSchema,
  ReadResourceRequestParamsSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { JsonRpcError } from "../../core/errors.js";
import type { JSONRPCMessage, JSONRPCRequest } from "./messages.js";
import { ALL_PROTOCOL_VERSIONS, SERVER_INFO } from "./protocol.js";
import { errorMessage, paramsOf, resultMessage, type ToolSource } from "./session-methods.js";

export const PROTOCOL_VERSION_META = "io.modelcontextprotocol/protocolVersion";
export const CLIENT_CAPABILITIES_META = "io.modelcontextprotocol/clientCapabilities";
export const LOG_LEVEL_META = "io.modelcontextprotocol/logLevel";
export const SERVER_INFO_META = "io.modelcontextprotocol/serverInfo";

/** MCP 2026-07-28 basic/index "Error Codes". */
export const UNSUPPORTED_PROTOCOL_VERSION = -32022;
export const MISSING_REQUIRED_CLIENT_CAPABILITY = -32021;
/** The resource-not-found code of 2025-11-25 and earlier, which 2026-07-28 replaced with -32602. */
const LEGACY_RESOURCE_NOT_FOUND = -32002;

/** Caching hints (server/utilities/caching). */
export interface CacheHint {
  ttlMs: number;
  cacheScope: "public" | "private";
}

/** How the gateway answers in this era, from its configuration. */
export interface ModernAnswerOptions {
  /** What `server/discover` declares. */
  capabilities: Record<string, unknown>;
  /** How long lists and `server/discover` may be considered fresh (mcpProvider.transports.stream.cacheTtl). */
  listTtlMs: number;
}

/**
 * Lists and reads depend on who asks: policies filter catalogs per caller, and upstreams answer
 * with a token exchanged for this user. `server/discover` depends on the configuration alone.
 */
const PRIVATE = "private";

/** A result of this era: `resultType`, the server's identity, and caching hints where they apply. */
export function completeResult(result: Record<string, unknown>, cache?: CacheHint): Record<string, unknown> {
  const meta =
    typeof result._meta === "object" && result._meta !== null ? (result._meta as Record<string, unknown>) : {};
  return {
    ...result,
    resultType: "complete",
    ...(cache ? cache : {}),
    _meta: { ...meta, [SERVER_INFO_META]: SERVER_INFO },
  };
}

/**
 * An `input_required` result (basic/patterns/mrtr) as the agent gets it: what to answer and the
 * state to echo (the endpoint's context signs it, mcp/request-state.ts); never cached.
 */
function inputRequired(result: Record<string, unknown>): Record<string, unknown> | undefined {
  if (result.resultType !== "input_required") return undefined;
  const { inputRequests, requestState } = result;
  return {
    resultType: "input_required",
    ...(inputRequests !== undefined ? { inputRequests } : {}),
    ...(requestState !== undefined ? { requestState } : {}),
    _meta: { [SERVER_INFO_META]: SERVER_INFO },
  };
}

/**
 * The caching hint of a read: the gateway cannot know how long an upstream's resource stays as
 * it is, so it stays fresh only as long as the upstream said (a `ttlMs` of its own), else not at all.
 */
function readCache(result: Record<string, unknown>): CacheHint {
  const upstream = typeof result.ttlMs === "number" && result.ttlMs >= 0 ? Math.floor(result.ttlMs) : 0;
  return { ttlMs: upstream, cacheScope: PRIVATE };
}

export function discoverResult(options: ModernAnswerOptions): Record<string, unknown> {
  return completeResult(
    {
      supportedVersions: [...ALL_PROTOCOL_VERSIONS],
      capabilities: options.capabilities,
      instructions:
        "Tools, prompts and resources of several upstream apps, each under its app's namespace (app__name). What you may see and call is decided per user and agent.",
    },
    { ttlMs: options.listTtlMs, cacheScope: "public" },
  );
}

/** The HTTP status a modern JSON-RPC error is sent with (transports/streamable-http). */
export function httpStatusOf(code: number): number {
  if (code === ErrorCode.MethodNotFound) return 404;
  if (code === -32020 || code === MISSING_REQUIRED_CLIENT_CAPABILITY || code === UNSUPPORTED_PROTOCOL_VERSION)
    return 400;
  return 200;
}

/** An error as this era spells it: resource-not-found is -32602. */
function modernError(id: JSONRPCRequest["id"], err: JsonRpcError): JSONRPCMessage {
  if (err.code !== LEGACY_RESOURCE_NOT_FOUND) return errorMessage(id, err);
  return errorMessage(id, new JsonRpcError(ErrorCode.InvalidParams, err.message, 400, err.data));
}

type Answer = (request: JSONRPCRequest, tools: ToolSource, options: ModernAnswerOptions) => Promise<JSONRPCMessage>;

const listed = (result: Record<string, unknown>, options: ModernAnswerOptions) =>
  completeResult(result, { ttlMs: options.listTtlMs, cacheScope: PRIVATE });

/** The methods of this era the gateway serves, by name. */
const METHODS: Record<string, Answer> = {
  "server/discover": async (request, _tools, options) => resultMessage(request.id, discoverResult(options)),
  "tools/list": async (request, tools, options) => resultMessage(request.id, listed(await tools.listTools(), options)),
  "prompts/list": async (request, tools, options) =>
    resultMessage(request.id, listed(await tools.listPrompts(), options)),
  "resources/list": async (request, tools, options) =>
    resultMessage(request.id, listed(await tools.listResources(), options)),
  "resources/templates/list": async (request, tools, options) =>
    resultMessage(request.id, listed(await tools.listResourceTemplates(), options)),
  "tools/call": async (request, tools) => {
    const params = paramsOf(
      CallToolRequestParamsSchema,
      request,
      "tools/call needs a tool name and an arguments object",
    );
    const result = (await tools.callTool(params.name, params.arguments ?? {}, request.params)) as Record<
      string,
      unknown
    >;
    return resultMessage(request.id, inputRequired(result) ?? completeResult(result));
  },
  "prompts/get": async (request, tools) => {
    const params = paramsOf(GetPromptRequestParamsSchema, request, "prompts/get needs a prompt name");
    const result = (await tools.getPrompt(params.name, params.arguments ?? {}, request.params ?? {})) as Record<
      string,
      unknown
    >;
    return resultMessage(request.id, inputRequired(result) ?? completeResult(result));
  },
  "resources/read": async (request, tools) => {
    const params = paramsOf(ReadResourceRequestParamsSchema, request, "resources/read needs a uri");
    const result = (await tools.readResource(params.uri)) as Record<string, unknown>;
    return resultMessage(request.id, inputRequired(result) ?? completeResult(result, readCache(result)));
  },
  "completion/complete": async (request, tools) => {
    const params = paramsOf(CompleteRequestParamsSchema, request, "completion/complete needs a ref and an argument");
    return resultMessage(
      request.id,
      completeResult(await tools.complete(params as unknown as Record<string, unknown>)),
    );
  },
};

/** Whether this era's gateway serves `method` (anything else is -32601 and HTTP 404). */
export function isModernMethod(method: string): boolean {
  return Object.hasOwn(METHODS, method);
}

/** Answers one request; the errors a step throws become its JSON-RPC error, with the request's id. */
export async function answerModernRequest(
  request: JSONRPCRequest,
  tools: ToolSource,
  options: ModernAnswerOptions,
): Promise<JSONRPCMessage> {
  const answer = Object.hasOwn(METHODS, request.method) ? METHODS[request.method] : undefined;
  try {
    if (!answer) throw new JsonRpcError(ErrorCode.MethodNotFound, `Method not found: ${request.method}`, 404);
    return await answer(request, tools, options);
  } catch (err) {
    if (err instanceof JsonRpcError) return modernError(request.id, err);
    throw err;
  }
}

/** MCP server/utilities/logging levels, least severe first. */
const LOG_LEVELS = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"];

/**
 * Whether a log message at `level` reaches the agent: only when its request asked for messages
 * (`_meta["io.modelcontextprotocol/logLevel"]`), and only at that level or above.
 */
export function logPasses(requested: unknown, level: unknown): boolean {
  if (typeof requested !== "string") return false;
  const min = LOG_LEVELS.indexOf(requested);
  const at = LOG_LEVELS.indexOf(typeof level === "string" ? level : "");
  return min >= 0 && at >= min;
}

export const SUBSCRIPTION_ID_META = "io.modelcontextprotocol/subscriptionId";

/** The list changes a `subscriptions/listen` stream may opt into (basic/patterns/subscriptions, "Notification Filter"). */
export interface ListChangeFilter {
  toolsListChanged?: true;
  promptsListChanged?: true;
  resourcesListChanged?: true;
}

/** What a `subscriptions/listen` stream asks for: list changes, and updates of the resources it names. */
export interface ListenFilter extends ListChangeFilter {
  resourceSubscriptions?: string[];
}

/** The notification each filter field opts into. */
const LIST_CHANGES: Record<keyof ListChangeFilter, string> = {
  toolsListChanged: "notifications/tools/list_changed",
  promptsListChanged: "notifications/prompts/list_changed",
  resourcesListChanged: "notifications/resources/list_changed",
};

/** The most URIs one `subscriptions/listen` filter may name (docs/mcp-endpoint.md); more is -32602. */
export const MAX_RESOURCE_SUBSCRIPTIONS = 100;

/**
 * A `subscriptions/listen` filter, checked: a filter that is not an object, a field of the wrong
 * type, or more than MAX_RESOURCE_SUBSCRIPTIONS URIs is -32602. Which of the URIs are honoured
 * (the agent may subscribe to them, an app serves them) the principal's context decides, and its
 * acknowledgment says (docs/mcp-endpoint.md, "Resource updates").
 */
export function readListenFilter(request: JSONRPCRequest): ListenFilter {
  const notifications = request.params?.notifications ?? {};
  if (typeof notifications !== "object" || notifications === null || Array.isArray(notifications))
    throw new JsonRpcError(ErrorCode.InvalidParams, "Invalid params: notifications must be an object", 400);
  const asked = notifications as Record<string, unknown>;
  const filter: ListenFilter = {};
  for (const key of Object.keys(LIST_CHANGES) as (keyof ListChangeFilter)[]) {
    const value = asked[key];
    if (value !== undefined && typeof value !== "boolean")
      throw new JsonRpcError(ErrorCode.InvalidParams, `Invalid params: notifications.${key} must be a boolean`, 400);
    if (value === true) filter[key] = true;
  }
  const resources = asked.resourceSubscriptions;
  if (resources !== undefined && !(Array.isArray(resources) && resources.every((uri) => typeof uri === "string")))
    throw new JsonRpcError(
      ErrorCode.InvalidParams,
      "Invalid params: notifications.resourceSubscriptions must list URIs",
      400,
    );
  if (Array.isArray(resources) && resources.length > MAX_RESOURCE_SUBSCRIPTIONS)
    throw new JsonRpcError(
      ErrorCode.InvalidParams,
      `Invalid params: notifications.resourceSubscriptions may list at most ${MAX_RESOURCE_SUBSCRIPTIONS} URIs`,
      400,
    );
  if (Array.isArray(resources)) filter.resourceSubscriptions = [...new Set(resources as string[])];
  return filter;
}

/**
 * Whether a listener with `filter` asked for the notification `method` (the spec's MUST NOT for
 * the rest): a list change it opted into, or an update of a resource among `resources`, the URIs
 * its acknowledgment honoured.
 */
export function listenWants(
  filter: ListenFilter,
  method: string,
  params?: unknown,
  resources?: ReadonlySet<string>,
): boolean {
  if (method === "notifications/resources/updated") {
    const uri = (params as { uri?: unknown } | undefined)?.uri;
    return typeof uri === "string" && resources?.has(uri) === true;
  }
  return (Object.keys(LIST_CHANGES) as (keyof ListChangeFilter)[]).some(
    (key) => filter[key] && LIST_CHANGES[key] === method,
  );
}
