// The MCP Proxy app (docs/apps.md): an upstream MCP server over Streamable HTTP whose tools,
// prompts and resources the gateway re-exposes. Each gateway session has its own upstream
// session, remembered in the app's session state so that any process (a fresh instance after a
// restart or eviction) resumes it without a new initialize.
import type {
  CallToolResult,
  GetPromptResult,
  Prompt,
  ReadResourceResult,
  Resource,
  ResourceTemplate,
} from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import type { McpProxyAppConfig } from "../apps-schema.js";
import { LATEST_PROTOCOL_VERSION, SERVER_INFO, isSupportedProtocolVersion } from "../mcp/protocol.js";
import type { App, AppCallContext, AppSessionState, ListName, ToolCallOutcome, UpstreamTool } from "./app.js";
import {
  deleteSession,
  sendNotification,
  sendRequest,
  UpstreamSessionExpired,
  type Exchange,
  type RpcOutcome,
} from "./streamable-http-client.js";
import { UpstreamError, UpstreamJsonRpcError } from "./upstream-error.js";

/** Where in the app's session state the upstream session lives. */
export const UPSTREAM_SESSION_KEY = "upstreamSession";
/** Upper bound on the pages of one list, against an upstream whose cursors never end. */
const MAX_PAGES = 50;

const storedSession = z.object({
  sessionId: z.string().optional(),
  protocolVersion: z.string(),
  /** The lists the upstream declared in its initialize capabilities. */
  offers: z.object({
    tools: z.boolean(),
    prompts: z.boolean(),
    resources: z.boolean(),
    // Optional: sessions stored before these were recorded still parse.
    logging: z.boolean().optional(),
    completions: z.boolean().optional(),
  }),
});
type StoredSession = z.output<typeof storedSession>;
type Base = Omit<Exchange, "sessionId" | "protocolVersion">;

// Results are checked for the fields the gateway relies on; everything else passes through as
// the upstream sent it (loose objects), so the gateway stays transparent to newer fields.
const object = z.record(z.string(), z.unknown());
const initializeResult = z.object({ protocolVersion: z.string(), capabilities: object }).loose();
const tool = z.object({ name: z.string(), inputSchema: object }).loose();
const prompt = z.object({ name: z.string() }).loose();
const resource = z.object({ uri: z.string(), name: z.string() }).loose();
const resourceTemplate = z.object({ uriTemplate: z.string(), name: z.string() }).loose();
// `content` is required by the schema, but SDK clients read a missing one as [] (the field
// predates structuredContent); the gateway does the same so its own answer is always valid.
const callToolResult = z.object({ content: z.array(z.object({ type: z.string() }).loose()).default([]) }).loose();
const getPromptResult = z
  .object({ messages: z.array(z.object({ role: z.string(), content: object }).loose()) })
  .loose();
const readResourceResult = z.object({ contents: z.array(z.object({ uri: z.string() }).loose()) }).loose();

export class McpProxyApp implements App {
  readonly type = "mcpProxy";
  readonly name: string;
  /**
   * Initializations in flight, by gateway session id, so concurrent first operations of a
   * session share one (each would otherwise open an upstream session, and all but the last
   * stored would be left open). Keyed by the session's state object when no id is given.
   */
  readonly #initializing = new Map<string | AppSessionState, Promise<StoredSession>>();

  constructor(private readonly config: McpProxyAppConfig) {
    this.name = config.name;
  }

  listTools(ctx: AppCallContext): Promise<UpstreamTool[]> {
    return this.operate(ctx, async (exchange, session) =>
      session.offers.tools ? ((await this.listAll(exchange, "tools/list", "tools", tool)) as UpstreamTool[]) : [],
    );
  }

  /**
   * The upstream's result unchanged. A JSON-RPC error (unknown tool, invalid arguments) becomes
   * a tool error result rather than an UpstreamError: the upstream is healthy and answered, and
   * MCP 2025-11-25 (server/tools, "Error Handling") wants such errors where the model can see
   * them and correct its call.
   */
  callTool(name: string, args: Record<string, unknown>, ctx: AppCallContext): Promise<ToolCallOutcome> {
    return this.operate(ctx, async (exchange) => {
      const outcome = await sendRequest(exchange, "tools/call", withMeta({ name, arguments: args }, ctx));
      if ("error" in outcome) {
        const text = `upstream error ${outcome.error.code}: ${outcome.error.message}`;
        return { result: { isError: true, content: [{ type: "text", text }] }, upstreamStatus: outcome.status };
      }
      return {
        result: this.parse(callToolResult, outcome.result, "tools/call") as CallToolResult,
        upstreamStatus: outcome.status,
      };
    });
  }

  listPrompts(ctx: AppCallContext): Promise<Prompt[]> {
    return this.operate(ctx, async (exchange, session) =>
      session.offers.prompts ? ((await this.listAll(exchange, "prompts/list", "prompts", prompt)) as Prompt[]) : [],
    );
  }

  getPrompt(name: string, args: Record<string, string>, ctx: AppCallContext): Promise<GetPromptResult> {
    return this.operate(ctx, async (exchange) => {
      const result = this.expect(await sendRequest(exchange, "prompts/get", withMeta({ name, arguments: args }, ctx)));
      return this.parse(getPromptResult, result, "prompts/get") as GetPromptResult;
    });
  }

  listResources(ctx: AppCallContext): Promise<Resource[]> {
    return this.operate(ctx, async (exchange, session) =>
      session.offers.resources
        ? ((await this.listAll(exchange, "resources/list", "resources", resource)) as Resource[])
        : [],
    );
  }

  listResourceTemplates(ctx: AppCallContext): Promise<ResourceTemplate[]> {
    return this.operate(ctx, async (exchange, session) =>
      session.offers.resources
        ? ((await this.listAll(
            exchange,
            "resources/templates/list",
            "resourceTemplates",
            resourceTemplate,
          )) as ResourceTemplate[])
        : [],
    );
  }

  readResource(uri: string, ctx: AppCallContext): Promise<ReadResourceResult> {
    return this.operate(ctx, async (exchange) => {
      const result = this.expect(await sendRequest(exchange, "resources/read", withMeta({ uri }, ctx)));
      return this.parse(readResourceResult, result, "resources/read") as ReadResourceResult;
    });
  }

  complete(params: Record<string, unknown>, ctx: AppCallContext): Promise<Record<string, unknown>> {
    return this.operate(ctx, async (exchange, session) => {
      if (session.offers.completions === false) return { completion: { values: [] } };
      return this.parse(
        z.object({ completion: z.object({ values: z.array(z.string()) }).loose() }).loose(),
        this.expect(await sendRequest(exchange, "completion/complete", withMeta(params, ctx))),
        "completion/complete",
      );
    });
  }

  /** Ends this gateway session's upstream session, if one was opened. */
  async close(ctx: AppCallContext): Promise<void> {
    const session = storedSession.safeParse(ctx.state.get()[UPSTREAM_SESSION_KEY]);
    if (!session.success || !session.data.sessionId) return;
    await deleteSession(
      withSession(
        {
          app: this.name,
          url: this.config.upstream.stream.url,
          token: ctx.token,
          traceparent: ctx.traceparent,
          signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(this.config.timeout)]),
          timeoutMs: this.config.timeout,
        },
        session.data,
      ),
    );
  }

  /** resources/subscribe and resources/unsubscribe, passed on as they are. */
  subscription(
    method: "resources/subscribe" | "resources/unsubscribe",
    uri: string,
    ctx: AppCallContext,
  ): Promise<void> {
    return this.operate(ctx, async (exchange) => {
      this.expect(await sendRequest(exchange, method, withMeta({ uri }, ctx)));
    });
  }

  setLoggingLevel(level: string, ctx: AppCallContext): Promise<void> {
    return this.operate(ctx, async (exchange, session) => {
      if (session.offers.logging) this.expect(await sendRequest(exchange, "logging/setLevel", { level }));
    });
  }

  /**
   * Runs one operation on the session's upstream session: initialized on first use, resumed
   * from the state afterwards, and re-initialized once when the upstream has forgotten it.
   */
  private async operate<T>(
    ctx: AppCallContext,
    operation: (exchange: Exchange, session: StoredSession) => Promise<T>,
  ): Promise<T> {
    const base: Base = {
      app: this.name,
      url: this.config.upstream.stream.url,
      token: ctx.token,
      traceparent: ctx.traceparent,
      // The app's own timeout too, so it holds whatever signal the caller passes.
      signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(this.config.timeout)]),
      timeoutMs: this.config.timeout,
      onNotification: (method, params) => {
        const list = /^notifications\/(tools|prompts|resources)\/list_changed$/.exec(method)?.[1];
        if (list) ctx.events?.listChanged?.(list as ListName);
        if (method === "notifications/resources/updated") ctx.events?.resourceUpdated?.(params);
        // What the upstream says about the request in flight goes on to the agent.
        if (RELAYED_NOTIFICATIONS.has(method)) ctx.events?.related?.(method, params);
      },
      ...(ctx.events?.ask ? { onServerRequest: ctx.events.ask } : {}),
    };
    try {
      const session = storedSession.safeParse(ctx.state.get()[UPSTREAM_SESSION_KEY]);
      const current = session.success ? session.data : await this.initializeOnce(ctx, base);
      try {
        return await operation(withSession(base, current), current);
      } catch (err) {
        if (!(err instanceof UpstreamSessionExpired)) throw err;
      }
      const renewed = await this.renew(ctx, base, current);
      return await operation(withSession(base, renewed), renewed);
    } catch (err) {
      if (err instanceof UpstreamSessionExpired) {
        throw new UpstreamError(
          this.name,
          `upstream answered ${err.status} to a session it had just created`,
          err.status,
        );
      }
      throw err;
    }
  }

  private initializeOnce(ctx: AppCallContext, base: Base): Promise<StoredSession> {
    const key = ctx.sessionId ?? ctx.state;
    let pending = this.#initializing.get(key);
    if (!pending) {
      pending = this.initialize(ctx.state, base, ctx.clientCapabilities).finally(() => this.#initializing.delete(key));
      this.#initializing.set(key, pending);
    }
    return pending;
  }

  /** A new session, unless a concurrent operation has already replaced the expired one. */
  private renew(ctx: AppCallContext, base: Base, expired: StoredSession): Promise<StoredSession> {
    const current = storedSession.safeParse(ctx.state.get()[UPSTREAM_SESSION_KEY]);
    if (current.success && current.data.sessionId !== expired.sessionId) return Promise.resolve(current.data);
    return this.initializeOnce(ctx, base);
  }

  /** MCP 2025-11-25 basic/lifecycle, "Initialization": initialize, then notifications/initialized. */
  private async initialize(
    state: AppSessionState,
    base: Base,
    agentCapabilities: Record<string, unknown> = {},
  ): Promise<StoredSession> {
    const outcome = await sendRequest(base, "initialize", {
      protocolVersion: LATEST_PROTOCOL_VERSION,
      // What the agent offers and the gateway can relay: the upstream may then ask for it
      // during a request, and the gateway passes the request to the agent and the answer back.
      capabilities: Object.fromEntries(
        Object.entries(agentCapabilities).filter(([name]) => RELAYED_CAPABILITIES.has(name)),
      ),
      clientInfo: SERVER_INFO,
    });
    const result = this.parse(initializeResult, this.expect(outcome), "initialize");
    // Lifecycle, "Version Negotiation": a version the client does not support ends the attempt.
    if (!isSupportedProtocolVersion(result.protocolVersion)) {
      throw new UpstreamError(
        this.name,
        `upstream speaks MCP ${result.protocolVersion}, which the gateway does not support`,
      );
    }
    const session: StoredSession = {
      ...(outcome.sessionId ? { sessionId: outcome.sessionId } : {}),
      protocolVersion: result.protocolVersion,
      offers: {
        tools: result.capabilities.tools !== undefined,
        prompts: result.capabilities.prompts !== undefined,
        resources: result.capabilities.resources !== undefined,
        logging: result.capabilities.logging !== undefined,
        completions: result.capabilities.completions !== undefined,
      },
    };
    await sendNotification(withSession(base, session), "notifications/initialized");
    await state.set({ [UPSTREAM_SESSION_KEY]: session });
    return session;
  }

  /** Every item of a paginated list (MCP 2025-11-25 server/utilities/pagination). */
  private async listAll(exchange: Exchange, method: string, key: string, item: z.ZodType): Promise<unknown[]> {
    const items: unknown[] = [];
    const seen = new Set<string>();
    let cursor: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const result = this.expect(await sendRequest(exchange, method, cursor === undefined ? undefined : { cursor }));
      const page = this.parse(
        z.object({ [key]: z.array(item), nextCursor: z.string().optional() }).loose(),
        result,
        method,
      );
      items.push(...(page[key] as unknown[]));
      cursor = page.nextCursor as string | undefined;
      if (!cursor) return items;
      if (seen.has(cursor)) throw new UpstreamError(this.name, `upstream repeated a ${method} cursor`);
      seen.add(cursor);
    }
    throw new UpstreamError(this.name, `upstream ${method} did not end within ${MAX_PAGES} pages`);
  }

  private expect(outcome: RpcOutcome): Record<string, unknown> {
    if ("result" in outcome) return outcome.result;
    const { code, message, data } = outcome.error;
    throw new UpstreamJsonRpcError(this.name, code, `upstream error ${code}: ${message}`, data, outcome.status);
  }

  private parse<S extends z.ZodType>(schema: S, value: unknown, method: string): z.output<S> {
    const parsed = schema.safeParse(value);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` at ${issue.path.join(".")}` : "";
    throw new UpstreamError(this.name, `upstream answered ${method} with a result of the wrong shape${where}`);
  }
}

/** Client capabilities whose requests the gateway relays from upstreams to the agent. */
const RELAYED_CAPABILITIES = new Set(["sampling", "elicitation", "roots"]);

/** Notifications about a request in flight, relayed to the agent as they are. */
const RELAYED_NOTIFICATIONS = new Set(["notifications/progress", "notifications/message"]);

/** The agent's `_meta` (progressToken and the like) travels with the request it belongs to. */
function withMeta(params: Record<string, unknown>, ctx: AppCallContext): Record<string, unknown> {
  if (!ctx.meta) return params;
  // The trace travels in the traceparent header, as a child of the gateway's own span.
  const { traceparent: _traceparent, tracestate: _tracestate, ...meta } = ctx.meta;
  return Object.keys(meta).length ? { ...params, _meta: meta } : params;
}

function withSession(base: Base, session: StoredSession): Exchange {
  return { ...base, sessionId: session.sessionId, protocolVersion: session.protocolVersion };
}
