// The MCP Proxy app (docs/apps.md): an upstream MCP server over Streamable HTTP whose tools,
// prompts and resources the gateway re-exposes. The upstream speaks one of two eras (MCP
// 2026-07-28 basic/versioning): a legacy upstream (2025-11-25 and earlier) gets its own upstream
// session per gateway session, remembered in the app's session state so that any process (a
// fresh instance after a restart or eviction) resumes it without a new initialize; a modern one
// (2026-07-28) is stateless, and every request carries its own `_meta` envelope and request
// headers (modern-protocol.ts, request-headers.ts), with its `input_required` results bridged to
// the agent (input-required.ts). The era is configured, or probed once and remembered; a 2025-era
// agent on an upstream that serves both eras speaks 2025-11-25 to it (docs/apps.md).
import type {
  CallToolResult,
  GetPromptResult,
  Prompt,
  ReadResourceResult,
  Resource,
  ResourceTemplate,
} from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { log } from "../../core/log.js";
import type { McpProxyAppConfig } from "../apps-schema.js";
import { LATEST_PROTOCOL_VERSION, SERVER_INFO, isSupportedProtocolVersion } from "../mcp/protocol.js";
import type {
  App,
  AppCallContext,
  AppSessionState,
  ListenTarget,
  ListName,
  ToolCallOutcome,
  UpstreamTool,
} from "./app.js";
import { checkInputRequired, completeWithInput, INPUT_METHODS } from "./input-required.js";
import {
  completedResult,
  envelope,
  eraOfDiscovery,
  eraOfRefusal,
  EVERYTHING,
  HEADER_MISMATCH,
  MISSING_REQUIRED_CLIENT_CAPABILITY,
  MODERN_PROTOCOL_VERSION,
  PROBE_REFUSALS,
  supportsModern,
  UNSUPPORTED_PROTOCOL_VERSION,
  type Era,
} from "./modern-protocol.js";
import { headerParameters, parameterHeaders, standardHeaders, type HeaderParameter } from "./request-headers.js";
import {
  deleteSession,
  openEventStream,
  sendNotification,
  sendRequest,
  UpstreamSessionExpired,
  type Exchange,
  type RpcOutcome,
} from "./streamable-http-client.js";
import { UpstreamError, UpstreamJsonRpcError, UpstreamProtocolError } from "./upstream-error.js";
import { ListenUnsupported, UpstreamListener } from "./upstream-listener.js";

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
  /** A modern upstream's log level, sent on each request (the modern era has no logging/setLevel). */
  logLevel: z.string().optional(),
});
type StoredSession = z.output<typeof storedSession>;

/**
 * What each stored session value parsed to. The value is replaced, never changed in place, when
 * the upstream session changes (state.set with a new object), so a warm call that finds the same
 * object as the last one reuses its parse instead of running the schema again.
 */
const parsedSessions = new WeakMap<object, StoredSession>();

/** The app's stored upstream session, when there is one of the right shape. */
function storedSessionOf(ctx: Pick<AppCallContext, "state">): StoredSession | undefined {
  const value = ctx.state.get()[UPSTREAM_SESSION_KEY];
  if (typeof value !== "object" || value === null) return undefined;
  const known = parsedSessions.get(value);
  if (known) return known;
  const parsed = storedSession.safeParse(value);
  if (!parsed.success) return undefined;
  parsedSessions.set(value, parsed.data);
  return parsed.data;
}
type Base = Omit<Exchange, "sessionId" | "protocolVersion">;

/**
 * Each upstream endpoint's era, per isolate, once probed: the era is a property of the server,
 * which clients SHOULD remember per origin (MCP 2026-07-28 basic/versioning, "Backward
 * Compatibility"), so only the first session of an isolate probes; each session also keeps what
 * it learned in its own state. Concurrent first sessions share one probe; a failed probe is
 * forgotten, so the next operation probes again.
 */
const knownEras = new Map<string, Promise<Era>>();

/**
 * Whether each upstream endpoint that discovered as modern also accepts `initialize` (serves both
 * eras), per isolate, learned by the first 2025-era agent's session that meets it. `server/discover`
 * lists only the modern versions a server speaks, so it cannot tell a dual-era server from a
 * modern-only one; MCP 2026-07-28 basic/versioning says a legacy client reaches a dual-era server
 * by `initialize`, and a 2025 agent keeps the methods only its own era has (resources/subscribe).
 * A failure that says nothing of the era (unreachable, 5xx) is forgotten, as for `knownEras`.
 */
const acceptsInitialize = new Map<string, Promise<boolean>>();

/** The upstream refused `initialize`: it speaks only the modern era. */
class InitializeRefused extends Error {}

/** How one operation talks to the upstream: in the session's era, with that era's envelope. */
interface Channel {
  session: StoredSession;
  modern: boolean;
  /** Aborted when the operation's time is up (the caller's signal or the app's timeout). */
  signal: AbortSignal;
  request(method: string, params?: Record<string, unknown>, headers?: Record<string, string>): Promise<RpcOutcome>;
}

/** A modern upstream said it does not speak 2026-07-28 after all: the operation falls back to legacy, once. */
class ModernRefused extends Error {}

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
  /**
   * The `x-mcp-header` parameters of each tool a modern upstream listed (in this isolate), mirrored
   * into `Mcp-Param-*` headers on calls. A tool not listed here yet is called without them; an
   * upstream that then answers HeaderMismatch gets one fresh tools/list and one retry.
   */
  readonly #headerParameters = new Map<string, HeaderParameter[]>();

  constructor(private readonly config: McpProxyAppConfig) {
    this.name = config.name;
  }

  listTools(ctx: AppCallContext): Promise<UpstreamTool[]> {
    return this.operate(ctx, (channel) => this.toolsOf(channel, ctx));
  }

  /**
   * A modern upstream's tools with their `x-mcp-header` parameters learned; a tool whose
   * annotations are invalid is left out, as Streamable HTTP clients must (MCP 2026-07-28
   * basic/transports/streamable-http, "Schema Extension").
   */
  private async toolsOf(channel: Channel, ctx: AppCallContext): Promise<UpstreamTool[]> {
    if (!channel.session.offers.tools) return [];
    const tools = (await this.listAll(channel, ctx, "tools/list", "tools", tool)) as UpstreamTool[];
    if (!channel.modern) return tools;
    return tools.filter((t) => {
      const found = headerParameters(t.inputSchema);
      if ("invalid" in found) {
        log("warn", "mcp_proxy.tool_rejected", { app: this.name, tool: t.name, reason: found.invalid });
        this.#headerParameters.delete(t.name);
        return false;
      }
      this.#headerParameters.set(t.name, found.parameters);
      return true;
    });
  }

  /**
   * The upstream's result unchanged. A JSON-RPC error (unknown tool, invalid arguments) becomes
   * a tool error result rather than an UpstreamError: the upstream is healthy and answered, and
   * MCP 2025-11-25 (server/tools, "Error Handling") wants such errors where the model can see
   * them and correct its call.
   */
  callTool(name: string, args: Record<string, unknown>, ctx: AppCallContext): Promise<ToolCallOutcome> {
    return this.operate(ctx, async (channel) => {
      const params = withMeta({ name, arguments: args }, ctx);
      const attempt = () =>
        this.final(channel, ctx, "tools/call", params, parameterHeaders(this.#headerParameters.get(name) ?? [], args));
      let outcome = await attempt();
      if (channel.modern && "error" in outcome && outcome.error.code === HEADER_MISMATCH) {
        // "Client Behavior": list the tools again to learn their annotations, then retry once.
        await this.toolsOf(channel, ctx);
        outcome = await attempt();
      }
      if ("error" in outcome && ctx.agentEra === "modern" && outcome.error.code === MISSING_REQUIRED_CLIENT_CAPABILITY)
        this.expect(outcome);
      if ("error" in outcome) {
        const text = `upstream error ${outcome.error.code}: ${outcome.error.message}`;
        return { result: { isError: true, content: [{ type: "text", text }] }, upstreamStatus: outcome.status };
      }
      if (outcome.result.resultType === "input_required")
        return { result: outcome.result as CallToolResult, upstreamStatus: outcome.status };
      return {
        result: this.parse(callToolResult, outcome.result, "tools/call") as CallToolResult,
        upstreamStatus: outcome.status,
      };
    });
  }

  listPrompts(ctx: AppCallContext): Promise<Prompt[]> {
    return this.operate(ctx, async (channel) =>
      channel.session.offers.prompts
        ? ((await this.listAll(channel, ctx, "prompts/list", "prompts", prompt)) as Prompt[])
        : [],
    );
  }

  getPrompt(name: string, args: Record<string, string>, ctx: AppCallContext): Promise<GetPromptResult> {
    return this.operate(ctx, async (channel) => {
      const params = withMeta({ name, arguments: args }, ctx);
      const result = this.expect(await this.final(channel, ctx, "prompts/get", params));
      if (result.resultType === "input_required") return result as GetPromptResult;
      return this.parse(getPromptResult, result, "prompts/get") as GetPromptResult;
    });
  }

  listResources(ctx: AppCallContext): Promise<Resource[]> {
    return this.operate(ctx, async (channel) =>
      channel.session.offers.resources
        ? ((await this.listAll(channel, ctx, "resources/list", "resources", resource)) as Resource[])
        : [],
    );
  }

  listResourceTemplates(ctx: AppCallContext): Promise<ResourceTemplate[]> {
    return this.operate(ctx, async (channel) =>
      channel.session.offers.resources
        ? ((await this.listAll(
            channel,
            ctx,
            "resources/templates/list",
            "resourceTemplates",
            resourceTemplate,
          )) as ResourceTemplate[])
        : [],
    );
  }

  readResource(uri: string, ctx: AppCallContext): Promise<ReadResourceResult> {
    return this.operate(ctx, async (channel) => {
      const result = this.expect(await this.final(channel, ctx, "resources/read", withMeta({ uri }, ctx)));
      if (result.resultType === "input_required") return result as ReadResourceResult;
      return this.parse(readResourceResult, result, "resources/read") as ReadResourceResult;
    });
  }

  complete(params: Record<string, unknown>, ctx: AppCallContext): Promise<Record<string, unknown>> {
    return this.operate(ctx, async (channel) => {
      if (channel.session.offers.completions === false) return { completion: { values: [] } };
      return this.parse(
        z.object({ completion: z.object({ values: z.array(z.string()) }).loose() }).loose(),
        this.expect(await this.final(channel, ctx, "completion/complete", withMeta(params, ctx))),
        "completion/complete",
      );
    });
  }

  /** Ends this gateway session's upstream session, if one was opened. */
  async close(ctx: AppCallContext): Promise<void> {
    const session = storedSessionOf(ctx);
    if (!session?.sessionId) return;
    await deleteSession(withSession(this.base(ctx), session));
  }

  /**
   * resources/subscribe and resources/unsubscribe, passed on as they are to a legacy upstream. A
   * modern upstream has neither: its updates come on a `subscriptions/listen` stream naming the
   * URIs, which the app's listener (`listen`) holds, so there is nothing to send now.
   */
  subscription(
    method: "resources/subscribe" | "resources/unsubscribe",
    uri: string,
    ctx: AppCallContext,
  ): Promise<void> {
    return this.operate(ctx, async (channel) => {
      if (channel.modern) return;
      this.expect(await channel.request(method, withMeta({ uri }, ctx)));
    });
  }

  /**
   * The upstream's change stream (upstream-listener.ts; docs/apps.md, "Upstream listeners"): a
   * legacy upstream's GET stream on the session's upstream session, which, once the upstream has
   * forgotten that session, is initialized anew and told every wanted URI again before the stream
   * reopens; a modern upstream's `subscriptions/listen` with the wanted URIs and every list change
   * (the gateway filters per listener). Each stream opens with a call context of the target's
   * (its token exchanged or cached), once more with a fresh token when the upstream refuses it.
   */
  listen(target: ListenTarget): UpstreamListener {
    /** The upstream session on which every wanted URI is subscribed; the one in use when listening started. */
    let subscribedOn: string | undefined | null = null;
    const listener: UpstreamListener = new UpstreamListener({
      app: this.name,
      ...(target.limits ? { limits: target.limits } : {}),
      deliver: (method, params) => {
        const { _meta, ...own } = params;
        target.deliver(method, withoutSubscriptionId(_meta, own));
      },
      ...(target.onGone ? { onGone: target.onGone } : {}),
      open: async (signal, lastEventId) => {
        for (let fresh = false; ; fresh = true) {
          const { ctx, tokenExpiresAt, release } = await target.context(fresh);
          try {
            const response = await this.operate(ctx, async (channel) => {
              listener.carriesUris = channel.modern;
              if (channel.modern) return this.openListen(ctx, target.uris(), signal);
              const session = channel.session.sessionId;
              if (subscribedOn === null) subscribedOn = session;
              else if (subscribedOn !== session) {
                // A new upstream session knows none of the agent's subscriptions (2025-11-25 server/resources).
                for (const uri of target.uris()) this.expect(await channel.request("resources/subscribe", { uri }));
                subscribedOn = session;
              }
              return openEventStream(
                { ...withSession(this.base(ctx), channel.session), signal },
                lastEventId === undefined ? {} : { lastEventId },
              );
            });
            return { response, ...(tokenExpiresAt === undefined ? {} : { tokenExpiresAt }) };
          } catch (err) {
            if (!fresh && ctx.token !== undefined && err instanceof UpstreamError && err.upstreamStatus === 401)
              continue;
            throw err;
          } finally {
            release();
          }
        }
      },
    });
    return listener;
  }

  /** MCP 2026-07-28 basic/patterns/subscriptions: a held `subscriptions/listen` request. */
  private async openListen(ctx: AppCallContext, uris: string[], signal: AbortSignal): Promise<Response> {
    const notifications = {
      toolsListChanged: true,
      promptsListChanged: true,
      resourcesListChanged: true,
      ...(uris.length ? { resourceSubscriptions: uris } : {}),
    };
    const params = { notifications, _meta: envelope(SERVER_INFO, {}) };
    try {
      return await openEventStream(
        { ...this.base(ctx), signal, protocolVersion: MODERN_PROTOCOL_VERSION, modern: true },
        {
          message: { jsonrpc: "2.0", id: crypto.randomUUID(), method: "subscriptions/listen", params },
          headers: standardHeaders("subscriptions/listen", params),
        },
      );
    } catch (err) {
      // transports/streamable-http: an unknown method is -32601 with HTTP 404; the upstream listens to nothing.
      if (err instanceof UpstreamError && err.upstreamStatus === 404) throw new ListenUnsupported(this.name);
      throw err;
    }
  }

  /** What every exchange of an operation of `ctx` carries, before its session and era. */
  private base(ctx: AppCallContext): Base {
    return {
      app: this.name,
      url: this.config.upstream.stream.url,
      token: ctx.token,
      traceparent: ctx.traceparent,
      // Aborted at the app's timeout (AppCallContext.signal), as the call's context was made: a
      // second timer of our own here would cost a live timer and a signal per call. A listener's
      // stream passes its own.
      signal: ctx.signal,
      timeoutMs: this.config.timeout,
    };
  }

  /**
   * logging/setLevel for a legacy upstream that offers logging; a modern one gets the level in
   * the `_meta` of each later request instead (MCP 2026-07-28 basic/index, "_meta").
   */
  setLoggingLevel(level: string, ctx: AppCallContext): Promise<void> {
    return this.operate(ctx, async (channel) => {
      if (!channel.session.offers.logging) return;
      if (channel.modern) await ctx.state.set({ [UPSTREAM_SESSION_KEY]: { ...channel.session, logLevel: level } });
      else this.expect(await channel.request("logging/setLevel", { level }));
    });
  }

  /**
   * Runs one operation in the upstream's era. Legacy: on the session's upstream session,
   * initialized on first use, resumed from the state afterwards, and re-initialized once when the
   * upstream has forgotten it. Modern: stateless; an upstream that refuses 2026-07-28 with
   * UnsupportedProtocolVersion is taken as legacy from then on, and the operation runs again.
   */
  private async operate<T>(ctx: AppCallContext, operation: (channel: Channel) => Promise<T>): Promise<T> {
    const base: Base = {
      ...this.base(ctx),
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
      const current = storedSessionOf(ctx) ?? (await this.connectOnce(ctx, base));
      try {
        return await operation(this.channel(ctx, base, current));
      } catch (err) {
        if (err instanceof ModernRefused) {
          knownEras.set(base.url, Promise.resolve({ era: "legacy" }));
          const legacy = await this.connectOnce(ctx, base, { era: "legacy" });
          return await operation(this.channel(ctx, base, legacy));
        }
        if (!(err instanceof UpstreamSessionExpired)) throw err;
      }
      const renewed = await this.renew(ctx, base, current);
      return await operation(this.channel(ctx, base, renewed));
    } catch (err) {
      if (err instanceof UpstreamSessionExpired) {
        throw new UpstreamError(
          this.name,
          `upstream answered ${err.status} to a session it had just created`,
          err.status,
        );
      }
      if (err instanceof ModernRefused)
        throw new UpstreamError(this.name, `upstream refused MCP ${MODERN_PROTOCOL_VERSION} twice`);
      throw err;
    }
  }

  /** The operation's way to the upstream, in the session's era. */
  private channel(ctx: AppCallContext, base: Base, session: StoredSession): Channel {
    if (!isModern(session)) {
      const exchange = withSession(base, session);
      return {
        session,
        modern: false,
        signal: base.signal,
        request: (method, params) => sendRequest(exchange, method, params),
      };
    }
    const exchange: Exchange = { ...base, protocolVersion: MODERN_PROTOCOL_VERSION, modern: true };
    const capabilities = relayableCapabilities(ctx);
    return {
      session,
      modern: true,
      signal: base.signal,
      request: async (method, params, headers = {}) => {
        const meta = {
          ...withoutReservedKeys(params?._meta),
          ...envelope(SERVER_INFO, capabilities, session.logLevel),
        };
        let outcome: RpcOutcome;
        try {
          outcome = await sendRequest(
            exchange,
            method,
            { ...params, _meta: meta },
            { ...headers, ...standardHeaders(method, params) },
          );
        } catch (err) {
          // A modern server answers protocol errors with 400 (404 for an unknown method) and the
          // JSON-RPC error in the body (basic/transports/streamable-http): an answer, like an error in a 200.
          if (!(err instanceof UpstreamError && err.rpcError && MODERN_ERROR_STATUSES.has(err.upstreamStatus!)))
            throw err;
          outcome = { error: err.rpcError, status: err.upstreamStatus! };
        }
        if ("error" in outcome && refusesModern(outcome.error)) throw new ModernRefused();
        return outcome;
      },
    };
  }

  /**
   * One request's final answer. Legacy: the upstream's answer. Modern: `input_required` results
   * of the requests that may have them are bridged to the agent until the upstream completes
   * (input-required.ts); the result loses its modern envelope (modern-protocol.ts).
   */
  private async final(
    channel: Channel,
    ctx: AppCallContext,
    method: string,
    params?: Record<string, unknown>,
    headers?: Record<string, string>,
  ): Promise<RpcOutcome> {
    if (!channel.modern) return channel.request(method, params);
    if (ctx.agentEra === "modern" && INPUT_METHODS.has(method))
      return this.passInputRequired(channel, ctx, method, params, headers);
    const outcome = INPUT_METHODS.has(method)
      ? await completeWithInput({
          app: this.name,
          method,
          send: (retry) => channel.request(method, { ...params, ...retry }, headers),
          ask: ctx.events?.ask,
          capabilities: relayableCapabilities(ctx),
          signal: channel.signal,
          timeoutMs: this.config.timeout,
        })
      : await channel.request(method, params, headers);
    if ("error" in outcome) return outcome;
    if (outcome.result.resultType === "input_required")
      // mrtr, "Supported Requests": servers MUST NOT answer other requests this way.
      throw new UpstreamError(this.name, `upstream answered ${method} with input_required, which it may not`);
    return { ...outcome, result: completedResult(this.name, method, outcome.result) };
  }

  /**
   * A modern agent on a modern upstream: one request (with the agent's retry, when this is one),
   * and an `input_required` answer goes back to the agent as it is, for the agent to answer and
   * retry (its state is wrapped by the gateway's endpoint, mcp/request-state.ts). Only what the
   * agent declared on this request may be asked of it (mrtr, "Server Requirements"): otherwise
   * MissingRequiredClientCapability (-32021).
   */
  private async passInputRequired(
    channel: Channel,
    ctx: AppCallContext,
    method: string,
    params: Record<string, unknown> | undefined,
    headers: Record<string, string> | undefined,
  ): Promise<RpcOutcome> {
    const outcome = await channel.request(method, { ...params, ...ctx.retry }, headers);
    if ("error" in outcome) return outcome;
    if (outcome.result.resultType !== "input_required")
      return { ...outcome, result: completedResult(this.name, method, outcome.result) };
    const asked = checkInputRequired(this.name, method, outcome.result, ctx.clientCapabilities ?? {}, outcome.status);
    return { ...outcome, result: asked };
  }

  private connectOnce(ctx: AppCallContext, base: Base, era?: Era): Promise<StoredSession> {
    const key = ctx.sessionId ?? ctx.state;
    let pending = this.#initializing.get(key);
    if (!pending) {
      pending = this.connect(ctx, base, era).finally(() => this.#initializing.delete(key));
      this.#initializing.set(key, pending);
    }
    return pending;
  }

  /** The session's way in: the configured era, or the one this isolate learned, or a probe. */
  private async connect(ctx: AppCallContext, base: Base, given?: Era): Promise<StoredSession> {
    const era = given ?? (await this.era(ctx, base));
    if (era.era === "legacy") return this.initialize(ctx.state, base, initializeCapabilities(ctx));
    if (!given && this.config.upstreamProtocol === "auto" && ctx.agentEra === "legacy") {
      const legacy = await this.legacyOnDualEra(ctx, base);
      if (legacy) return legacy;
    }
    const session: StoredSession = { protocolVersion: MODERN_PROTOCOL_VERSION, offers: era.offers };
    await ctx.state.set({ [UPSTREAM_SESSION_KEY]: session });
    return session;
  }

  /**
   * A 2025-era agent's session on an upstream that discovered as modern: a legacy upstream
   * session when the upstream accepts `initialize` (tried once per endpoint and isolate, then
   * remembered), else undefined and the agent is bridged to the modern era.
   */
  private async legacyOnDualEra(ctx: AppCallContext, base: Base): Promise<StoredSession | undefined> {
    const known = acceptsInitialize.get(base.url);
    if (known && !(await known)) return undefined;
    const attempt = this.initialize(ctx.state, base, ctx.clientCapabilities, { strict: true });
    if (!known) {
      const learned = attempt.then(
        () => true,
        (err: unknown) => {
          if (err instanceof InitializeRefused) return false;
          throw err;
        },
      );
      acceptsInitialize.set(base.url, learned);
      learned.catch(() => acceptsInitialize.get(base.url) === learned && acceptsInitialize.delete(base.url));
    }
    try {
      return await attempt;
    } catch (err) {
      if (err instanceof InitializeRefused) return undefined;
      throw err;
    }
  }

  private era(ctx: AppCallContext, base: Base): Promise<Era> {
    const configured = this.config.upstreamProtocol;
    if (configured === MODERN_PROTOCOL_VERSION) return Promise.resolve({ era: "modern", offers: EVERYTHING });
    if (configured !== "auto") return Promise.resolve({ era: "legacy" });
    let known = knownEras.get(base.url);
    if (!known) {
      const probing = this.probe(ctx, base);
      knownEras.set(base.url, probing);
      probing.catch(() => knownEras.get(base.url) === probing && knownEras.delete(base.url));
      known = probing;
    }
    return known;
  }

  /**
   * MCP 2026-07-28 basic/transports/streamable-http, "Backward Compatibility": a modern request
   * (`server/discover`, which every modern server implements) whose answer tells the era. A
   * refusal with 400, 404 or 405 is read by its body; anything else (unreachable, 401, 5xx,
   * garbage) fails the operation as it would have failed anyway, and nothing is learned.
   */
  private async probe(ctx: AppCallContext, base: Base): Promise<Era> {
    const exchange: Exchange = { ...base, protocolVersion: MODERN_PROTOCOL_VERSION, modern: true };
    const params = { _meta: envelope(SERVER_INFO, relayableCapabilities(ctx)) };
    try {
      const outcome = await sendRequest(
        exchange,
        "server/discover",
        params,
        standardHeaders("server/discover", params),
      );
      return "result" in outcome ? eraOfDiscovery(outcome.result) : eraOfRefusal(outcome.error);
    } catch (err) {
      if (err instanceof UpstreamError && err.upstreamStatus !== undefined && PROBE_REFUSALS.has(err.upstreamStatus))
        return eraOfRefusal(err.rpcError);
      throw err;
    }
  }

  /** A new session, unless a concurrent operation has already replaced the expired one. */
  private renew(ctx: AppCallContext, base: Base, expired: StoredSession): Promise<StoredSession> {
    const current = storedSessionOf(ctx);
    if (current && current.sessionId !== expired.sessionId) return Promise.resolve(current);
    return this.connectOnce(ctx, base, { era: "legacy" });
  }

  /** MCP 2025-11-25 basic/lifecycle, "Initialization": initialize, then notifications/initialized. */
  private async initialize(
    state: AppSessionState,
    base: Base,
    agentCapabilities: Record<string, unknown> = {},
    options: { strict?: boolean } = {},
  ): Promise<StoredSession> {
    let outcome: RpcOutcome;
    try {
      outcome = await sendRequest(base, "initialize", {
        protocolVersion: LATEST_PROTOCOL_VERSION,
        // What the agent offers and the gateway can relay: the upstream may then ask for it
        // during a request, and the gateway passes the request to the agent and the answer back.
        capabilities: Object.fromEntries(
          Object.entries(agentCapabilities).filter(([name]) => RELAYED_CAPABILITIES.has(name)),
        ),
        clientInfo: SERVER_INFO,
      });
    } catch (err) {
      // Strict (trying a modern upstream's legacy side): a refusal in 400, 404 or 405 says it has none.
      if (options.strict && err instanceof UpstreamError && PROBE_REFUSALS.has(err.upstreamStatus ?? 0))
        throw new InitializeRefused();
      throw err;
    }
    if (options.strict && "error" in outcome) throw new InitializeRefused();
    const result = this.parse(initializeResult, this.expect(outcome), "initialize");
    // Lifecycle, "Version Negotiation": a version the client does not support ends the attempt.
    if (!isSupportedProtocolVersion(result.protocolVersion)) {
      if (options.strict) throw new InitializeRefused();
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
  private async listAll(
    channel: Channel,
    ctx: AppCallContext,
    method: string,
    key: string,
    item: z.ZodType,
  ): Promise<unknown[]> {
    const items: unknown[] = [];
    const seen = new Set<string>();
    let cursor: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const outcome = await this.final(channel, ctx, method, cursor === undefined ? undefined : { cursor });
      // A modern upstream that was not asked what it offers (a configured era) answers a list it
      // does not have with Method not found: an empty list.
      if (channel.modern && "error" in outcome && outcome.error.code === -32601) return [];
      const result = this.expect(outcome);
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
    // The upstream could not ask what it needs of the agent: the agent hears the spec's error as it is.
    if (code === MISSING_REQUIRED_CLIENT_CAPABILITY)
      throw new UpstreamProtocolError(this.name, code, `upstream error ${code}: ${message}`, data, outcome.status);
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

/**
 * What a legacy upstream session is told the client offers. A 2025 agent's session: what the agent
 * declared at its initialize. A principal's context (2026-07-28 agents): everything the gateway can
 * bridge into `input_required` results, since each request declares its own capabilities and one
 * that lacks what the upstream asks gets MissingRequiredClientCapability then (docs/mcp-endpoint.md).
 */
function initializeCapabilities(ctx: AppCallContext): Record<string, unknown> | undefined {
  if (ctx.agentEra !== "modern") return ctx.clientCapabilities;
  return { elicitation: { form: {}, url: {} }, sampling: { tools: {} }, roots: {} };
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

/** An upstream's notification as the gateway passes it on: without the upstream's own subscription id. */
function withoutSubscriptionId(meta: unknown, params: Record<string, unknown>): Record<string, unknown> {
  if (typeof meta !== "object" || meta === null || Array.isArray(meta)) return params;
  const { "io.modelcontextprotocol/subscriptionId": _id, ...rest } = meta as Record<string, unknown>;
  return Object.keys(rest).length ? { ...params, _meta: rest } : params;
}

function withSession(base: Base, session: StoredSession): Exchange {
  return { ...base, sessionId: session.sessionId, protocolVersion: session.protocolVersion };
}

function isModern(session: StoredSession): boolean {
  return session.protocolVersion === MODERN_PROTOCOL_VERSION;
}

/**
 * What a modern upstream may ask of the agent on this request: the relayed capabilities the agent
 * declared, and none when the agent reads no event stream for it (the gateway could not ask).
 */
function relayableCapabilities(ctx: AppCallContext): Record<string, unknown> {
  // A modern agent is asked through input_required results, on the request that declared them.
  if (!ctx.events?.ask && ctx.agentEra !== "modern") return {};
  return Object.fromEntries(
    Object.entries(ctx.clientCapabilities ?? {}).filter(([name]) => RELAYED_CAPABILITIES.has(name)),
  );
}

/**
 * The agent's `_meta` without the keys MCP reserves for the protocol (basic/index, "_meta"): in a
 * modern request those are the gateway's to set, as the client of the upstream, and an agent
 * cannot speak for the gateway (its own version, identity or capabilities) through them.
 */
function withoutReservedKeys(meta: unknown): Record<string, unknown> {
  if (typeof meta !== "object" || meta === null) return {};
  return Object.fromEntries(Object.entries(meta).filter(([key]) => !key.startsWith("io.modelcontextprotocol/")));
}

/** The statuses a modern server answers its JSON-RPC errors with. */
const MODERN_ERROR_STATUSES = new Set([400, 404]);

/** UnsupportedProtocolVersion that does not list 2026-07-28: the upstream wants a legacy client. */
function refusesModern(error: { code: number; data?: unknown } | undefined): boolean {
  return error?.code === UNSUPPORTED_PROTOCOL_VERSION && !supportsModern(error.data);
}
