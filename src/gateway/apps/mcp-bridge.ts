// The MCP Bridge app (docs/apps.md): an OpenAPI 3.0/3.1 document's operations as tools, each
// call made as the plain HTTP request the operation describes.
import { Validator, type OutputUnit, type Schema } from "@cfworker/json-schema";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { log } from "../../core/log.js";
import { readAtMost } from "../../core/read-at-most.js";
import type { McpBridgeAppConfig } from "../apps-schema.js";
import { MAX_UPSTREAM_JSON_DEPTH, nestsDeeperThan } from "../mcp/rpc-limits.js";
import type { App, AppCallContext, ToolCallOutcome, UpstreamTool } from "./app.js";
import { ArgumentError, buildUpstreamRequest, serverBaseUrl } from "./openapi-request.js";
import { isJsonMediaType, openApiTools, type BridgeTool, type OpenApiTools } from "./openapi-tools.js";
import { UpstreamError } from "./upstream-error.js";

const MAX_DOCUMENT_BYTES = 5 * 1024 * 1024;
const MAX_RESPONSE_BYTES = 1024 * 1024;

interface LoadedDocument {
  converted: OpenApiTools;
  /** Where the document was fetched from, after redirects: relative server URLs resolve against it. */
  url?: string;
}

/**
 * Documents by URI (or by inline config object), converted once per isolate and shared by every
 * session and app that names them. A failed load is forgotten, so the next call tries again.
 * Fetched without any caller's token: the result is shared across principals.
 */
const byUri = new Map<string, Promise<LoadedDocument>>();
const byInline = new WeakMap<object, Promise<LoadedDocument>>();

interface ResolvedTool extends BridgeTool {
  base: URL;
  /** Compiled on the first call; null when the schema could not be compiled (the API still checks). */
  validator?: Validator | null;
}

/** At most this many problems are named to the agent: enough to fix a call, not a wall of text. */
const MAX_PROBLEMS = 5;

export class McpBridgeApp implements App {
  readonly type = "mcpBridge" as const;
  readonly name: string;
  private tools?: Promise<Map<string, ResolvedTool>>;

  constructor(private readonly config: McpBridgeAppConfig) {
    this.name = config.name;
  }

  async listTools(_ctx: AppCallContext): Promise<UpstreamTool[]> {
    return [...(await this.resolvedTools()).values()].map((t) => t.tool);
  }

  /**
   * Why `args` do not fit the tool's inputSchema, or undefined when they do. Here the gateway is
   * the MCP server, so it validates what an MCP server validates (MCP 2025-11-25 §tools: input
   * validation errors are tool execution errors, which a model can read and correct), before a
   * token is minted for a request the API would only refuse.
   */
  async checkArguments(name: string, args: Record<string, unknown>): Promise<string | undefined> {
    const entry = (await this.resolvedTools()).get(name);
    if (!entry) return undefined;
    if (entry.validator === undefined) {
      try {
        entry.validator = new Validator(entry.tool.inputSchema as Schema, "2020-12", false);
      } catch (err) {
        entry.validator = null;
        log("warn", "mcp_bridge.schema_not_checked", {
          app: this.name,
          tool: name,
          error: err instanceof Error ? err.message : String(err),
        });
      }
    }
    if (!entry.validator) return undefined;
    const { valid, errors } = entry.validator.validate(args);
    return valid ? undefined : describeProblems(errors);
  }

  async callTool(name: string, args: Record<string, unknown>, ctx: AppCallContext): Promise<ToolCallOutcome> {
    const entry = (await this.resolvedTools()).get(name);
    if (!entry) return { result: toolError(`Unknown tool: ${name}`) };
    let request;
    try {
      request = buildUpstreamRequest(entry.plan, args, entry.base);
    } catch (err) {
      if (err instanceof ArgumentError) return { result: toolError(err.message) };
      throw err;
    }
    const headers = new Headers(request.headers);
    headers.set("Accept", entry.plan.accept);
    if (ctx.token !== undefined) headers.set("Authorization", `Bearer ${ctx.token}`);
    if (ctx.traceparent) headers.set("traceparent", ctx.traceparent);
    let response: Response;
    try {
      response = await fetch(request.url, {
        method: request.method,
        headers,
        ...(request.body !== undefined ? { body: request.body } : {}),
        // A redirect could carry the bearer token to another origin; the caller sees the 3xx instead.
        redirect: "manual",
        signal: ctx.signal,
      });
    } catch (err) {
      throw this.unavailable(ctx, err, `could not reach ${request.url.origin}`);
    }
    try {
      return { result: await toolResult(response), upstreamStatus: response.status };
    } catch (err) {
      throw this.unavailable(ctx, err, "the answer broke off", response.status);
    }
  }

  private unavailable(ctx: AppCallContext, err: unknown, what: string, status?: number): UpstreamError {
    const reason = ctx.signal.aborted
      ? "no answer within the app's timeout"
      : `${what}: ${err instanceof Error ? err.message : String(err)}`;
    return new UpstreamError(this.name, reason, status);
  }

  /** The tools with their base URLs: the config's `baseURL`, else the operation's or document's first server. */
  private resolvedTools(): Promise<Map<string, ResolvedTool>> {
    this.tools ??= this.loadDocument().then(({ converted, url }) => {
      const fallback = this.config.openapi.baseURL ? new URL(this.config.openapi.baseURL) : undefined;
      return new Map(
        converted.tools.map((t) => [
          t.tool.name,
          { ...t, base: fallback ?? serverBaseUrl(t.plan.servers?.[0] ?? converted.servers[0], url) },
        ]),
      );
    });
    this.tools.catch(() => (this.tools = undefined));
    return this.tools.catch((err: unknown) => {
      if (err instanceof UpstreamError) throw err;
      throw new UpstreamError(this.name, err instanceof Error ? err.message : String(err));
    });
  }

  private loadDocument(): Promise<LoadedDocument> {
    const { spec } = this.config.openapi;
    if ("uri" in spec) {
      let loaded = byUri.get(spec.uri);
      if (!loaded) {
        loaded = this.logWarnings(fetchDocument(spec.uri, this.config.timeout));
        byUri.set(spec.uri, loaded);
        loaded.catch(() => byUri.delete(spec.uri));
      }
      return loaded;
    }
    let loaded = byInline.get(spec);
    if (!loaded) {
      loaded = this.logWarnings(Promise.resolve().then(() => ({ converted: openApiTools(spec.inline) })));
      byInline.set(spec, loaded);
      loaded.catch(() => byInline.delete(spec));
    }
    return loaded;
  }

  private async logWarnings(loading: Promise<LoadedDocument>): Promise<LoadedDocument> {
    const doc = await loading;
    for (const warning of doc.converted.warnings)
      log("warn", "mcp_bridge.openapi_warning", { app: this.name, warning });
    return doc;
  }
}

async function fetchDocument(uri: string, timeoutMs: number): Promise<LoadedDocument> {
  let response: Response;
  try {
    response = await fetch(uri, {
      headers: { Accept: "application/json, application/yaml;q=0.9, */*;q=0.1" },
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    throw new Error(`could not fetch the OpenAPI document ${uri}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`could not fetch the OpenAPI document ${uri}: HTTP ${response.status}`);
  }
  const body = await readCapped(response, MAX_DOCUMENT_BYTES);
  if (body === null)
    throw new Error(`the OpenAPI document ${uri} is larger than ${MAX_DOCUMENT_BYTES / 1024 / 1024} MiB`);
  return { converted: openApiTools(new TextDecoder().decode(body)), url: response.url || uri };
}

/**
 * The upstream answer as a tool result. JSON is returned as structured content and, for clients
 * that read only text, serialized in a text block (MCP 2025-11-25 §tools "Structured Content").
 * Structured content must be an object, so any other JSON value is wrapped as `{ result: value }`.
 */
async function toolResult(response: Response): Promise<CallToolResult> {
  const isError = response.status >= 300;
  const flag = isError ? { isError: true } : {};
  if (response.status >= 300 && response.status < 400) {
    await response.body?.cancel();
    const location = response.headers.get("location");
    return toolError(
      `HTTP ${response.status}: the API redirected${location ? ` to ${location}` : ""}; the gateway does not follow redirects`,
    );
  }
  const body = await readCapped(response, MAX_RESPONSE_BYTES);
  if (body === null)
    return toolError(`HTTP ${response.status}: the answer is larger than ${MAX_RESPONSE_BYTES / 1024 / 1024} MiB`);
  const text = new TextDecoder().decode(body);
  if (text === "") return { content: [{ type: "text", text: `HTTP ${response.status} (no content)` }], ...flag };
  // JSON nested too deeply to cross the runtime's RPC to the agent's front goes on as text.
  if (isJsonMediaType(response.headers.get("content-type") ?? "") && !nestsDeeperThan(text, MAX_UPSTREAM_JSON_DEPTH)) {
    try {
      const parsed: unknown = JSON.parse(text);
      const structured =
        parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)
          ? (parsed as Record<string, unknown>)
          : { result: parsed };
      return { content: [{ type: "text", text: JSON.stringify(structured) }], structuredContent: structured, ...flag };
    } catch {
      // Declared JSON but is not: pass the text on as it is.
    }
  }
  return { content: [{ type: "text", text }], ...flag };
}

/** The body, or null when it passes `max` bytes; a declared larger length is refused unread. */
async function readCapped(response: Response, max: number): Promise<Uint8Array | null> {
  if (Number(response.headers.get("content-length") ?? 0) > max) {
    await response.body?.cancel();
    return null;
  }
  return readAtMost(response.body, max);
}

/**
 * The validator reports every schema that failed, the enclosing ones too ("Property x does not
 * match schema"); the agent needs the innermost ones, which say what is wrong where.
 */
function describeProblems(errors: OutputUnit[]): string {
  const innermost = errors.filter(
    (e) => !errors.some((other) => other.instanceLocation.startsWith(`${e.instanceLocation}/`)),
  );
  const lines = [
    ...new Set(
      innermost.map(
        (e) =>
          `${e.instanceLocation === "#" ? "arguments" : e.instanceLocation.slice(2).replaceAll("/", ".")}: ${e.error}`,
      ),
    ),
  ];
  const named = lines.slice(0, MAX_PROBLEMS);
  return named.join("; ") + (lines.length > named.length ? ` (and ${lines.length - named.length} more)` : "");
}

function toolError(text: string): CallToolResult {
  return { isError: true, content: [{ type: "text", text }] };
}
