// One session's view of the apps: its merged lists (listings.ts) and its calls (call-pipeline.ts),
// with the outbound tokens, policy input and app call contexts they need. Built per request by
// the session's Durable Object from its persisted state; everything it learns goes back into
// that state.
import {
  ErrorCode,
  type Prompt,
  type Resource,
  type ResourceTemplate,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js";
import { GatewayErrorCode, JsonRpcError } from "../../core/errors.js";
import { log } from "../../core/log.js";
import { currentTraceparent } from "../../core/telemetry/spans.js";
import type { AgentEra, App, AppCallContext, ListName } from "../apps/app.js";
import { candidateApp, exposedName } from "../apps/catalog.js";
import { forgetListings, listTimeoutOf, sharedListing, type Flight } from "../apps/list-deadline.js";
import { appInstance } from "../apps/registry.js";
import type { ServerRequestRelay } from "../apps/streamable-http-client.js";
import { UpstreamError, UpstreamJsonRpcError } from "../apps/upstream-error.js";
import type { AppConfig } from "../apps-schema.js";
import type { AuditEvent } from "../audit.js";
import type { Principal } from "../auth/principal.js";
import type { ToolCallAdmission } from "../call-budget.js";
import type { GatewayConfig } from "../config.js";
import type { GatewayEnv } from "../env.js";
import type { ToolSource } from "../mcp/session-methods.js";
import { OutboundTokens } from "../outbound/outbound-tokens.js";
import type { TokenCacheEntries } from "../outbound/token-cache.js";
import { ExchangeError, type ExchangedToken } from "../outbound/token-exchange-client.js";
import { buildPolicyInput, decide, type HttpSnapshot, type PolicyDecision } from "../policy/index.js";
import { CONTENT_DENIED_MESSAGE, runCall, type PipelineDeps, type PolicyTarget } from "./call-pipeline.js";
import { Listings, type ListSpec } from "./listings.js";

/** What the session persists for its apps. */
export interface AppsState {
  /** Per app: the app's own session state (e.g. its upstream's MCP session id). */
  apps: Record<string, Record<string, unknown>>;
  tokens: TokenCacheEntries;
  /** Per app: the upstream tool names it listed last. */
  catalog: Record<string, string[]>;
  /** Resource URI → the app that listed it. */
  resources: Record<string, string>;
}

export function emptyAppsState(): AppsState {
  return { apps: {}, tokens: {}, catalog: {}, resources: {} };
}

export interface SessionAppsDeps {
  env: GatewayEnv;
  config: GatewayConfig;
  sessionId: string;
  /** Milliseconds since the epoch; policies see it as input.session.created_at. */
  sessionCreatedAt: number;
  principal: Principal;
  /** The agent's own token: sent to the identity provider for exchange, never upstream. */
  subjectToken: string;
  traceparent?: string;
  /** The HTTP request that carried this message, without credentials (policy input). */
  http: HttpSnapshot;
  /** The token's claims that policies may read. */
  claims: Record<string, unknown>;
  state: AppsState;
  /**
   * Where exchanged tokens are cached, when not in `state.tokens`: a context shared by several
   * of the agent's tokens keeps one cache per grant (principal-context.ts).
   */
  tokenCache?: {
    entries: TokenCacheEntries;
    save(entries: TokenCacheEntries): void;
    /** Exchanges under way, shared by the context's concurrent requests (OutboundTokensDeps.inFlight). */
    inFlight?: Map<string, Promise<ExchangedToken>>;
  };
  persist: () => Promise<void>;
  /** Records an audit event (the worker log, and the HTTP sink when configured). */
  audit: (event: AuditEvent) => void;
  /** How what the session's calls hear reaches the agent. */
  events: SessionEvents;
  /** The agent's client capabilities (from its initialize). */
  clientCapabilities?: Record<string, unknown>;
  /** The era the agent speaks: apps with a dual-era upstream speak it the same one (AppCallContext.agentEra). */
  agentEra?: AgentEra;
  /** A 2026-07-28 agent's verified retry of an `input_required` answer, for the call's app (AppCallContext.retry). */
  retry?: AppCallContext["retry"];
  /**
   * The signal of the agent's request now being answered, aborted (with a RequestCancelled) when
   * the agent cancels it; read when each operation starts, so every operation of that request stops.
   */
  cancellation?: () => AbortSignal | undefined;
  /** Takes one tool call from the budgets that apply (mcpProvider.limits.toolCallsPerSession, toolCallsPerPrincipal), when there are any. */
  admitToolCall?: () => Promise<ToolCallAdmission>;
  /** A 2025-era session's resource subscriptions, which hold its upstream listeners (mcp-session.ts). */
  subscriptions?: SessionSubscriptions;
}

/** The resources a session subscribed to, by the app serving each (at most MAX_SESSION_SUBSCRIPTIONS). */
export interface SessionSubscriptions {
  has(uri: string): boolean;
  readonly size: number;
  added(app: AppConfig, uri: string): void;
  removed(uri: string): void;
}

/** The most resources one session may subscribe to at once, as a listen filter may name (docs/mcp-endpoint.md). */
export const MAX_SESSION_SUBSCRIPTIONS = 100;

/** How what a session's calls hear reaches the agent; the session's object builds it per request. */
export interface SessionEvents {
  /** A notification for the agent's server-to-client stream (GET), when one is open. */
  notify(method: string, params?: unknown): void;
  /** A notification about the request in flight (progress, log message), on its own response stream. */
  related?(method: string, params: unknown): void;
  /** A request for the agent during the request in flight (sampling, elicitation), when it reads an event stream. */
  ask?: ServerRequestRelay;
}

/** How many of a listen filter's URIs are subscribed at once. */
const SUBSCRIBE_CONCURRENCY = 4;

/** Upstream failures of an operation outside the pipeline (completion) become JSON-RPC errors the agent can read. */
function asJsonRpcError(err: unknown): never {
  if (err instanceof UpstreamJsonRpcError) throw new JsonRpcError(err.code, err.message);
  if (err instanceof UpstreamError) throw new JsonRpcError(ErrorCode.InternalError, err.message);
  throw err;
}

export class SessionApps implements ToolSource {
  private readonly tokens: OutboundTokens;
  private readonly listings: Listings;
  private readonly pipeline: PipelineDeps;
  /**
   * What this instance has listed of each app's tools. An instance serves one POST, so the tool
   * calls that need a catalog share the listing the POST's tools/list made (or joins a listing
   * still in flight, list-deadline.ts).
   */
  private readonly catalogs = new Map<string, Flight<Tool[]>>();
  /** The timeout timer of each call context handed out and not yet released. */
  private readonly timers = new WeakMap<AppCallContext, ReturnType<typeof setTimeout>>();

  constructor(private readonly deps: SessionAppsDeps) {
    this.tokens = new OutboundTokens({
      env: deps.env,
      config: deps.config,
      subjectToken: deps.subjectToken,
      entries: deps.tokenCache?.entries ?? deps.state.tokens,
      save: deps.tokenCache?.save ?? ((entries) => (deps.state.tokens = entries)),
      ...(deps.tokenCache?.inFlight ? { inFlight: deps.tokenCache.inFlight } : {}),
    });
    deps.state.resources ??= {};
    const policy = (app: AppConfig, target: PolicyTarget, mcp: { method: string; params: unknown }) =>
      this.decide(app, target, mcp);
    this.listings = new Listings({
      apps: deps.config.apps,
      sessionId: deps.sessionId,
      listTimeout: (app) => listTimeoutOf(deps.config, app),
      landed: (list) => this.landed(list),
      decide: policy,
    });
    this.pipeline = {
      apps: deps.config.apps,
      instance: appInstance,
      listsTool: async (app, upstreamName) => {
        const known = deps.state.catalog[app.name];
        if (known?.includes(upstreamName)) return true;
        // The app's own timeout, not the list deadline: the agent asked for this tool by name.
        return (await this.catalog(app).promise).some((tool) => tool.name === upstreamName);
      },
      resourceOwner: (uri) => deps.state.resources[uri],
      decide: policy,
      token: (app, tool, options) => this.tokens.forApp(app, tool, options),
      context: (app, token, meta) => this.context(app, token, meta),
      release: (ctx) => this.release(ctx),
      ...(deps.admitToolCall ? { admitToolCall: deps.admitToolCall } : {}),
      audit: deps.audit,
      session: {
        id: deps.sessionId,
        principal: deps.principal,
        ...(deps.traceparent ? { traceparent: deps.traceparent } : {}),
      },
      logArguments: deps.config.provider.observability.logToolArguments,
    };
  }

  /** The policy decision about one tool, prompt or resource of `app` (docs/policy.md). */
  private decide(
    app: AppConfig,
    target: PolicyTarget,
    mcp: { method: string; params: unknown },
  ): Promise<PolicyDecision> {
    const input = buildPolicyInput({
      principal: this.deps.principal,
      claims: this.deps.claims,
      session: { id: this.deps.sessionId, createdAt: this.deps.sessionCreatedAt },
      ...target,
      mcp,
      http: this.deps.http,
    });
    return decide(this.deps.config, app, input);
  }

  private async listed<K extends string, T>(spec: ListSpec<K, T>) {
    const listing = await this.listings.list(spec);
    await this.deps.persist();
    return listing;
  }

  listTools() {
    return this.listed<"tools", Tool>({
      method: "tools/list",
      list: "tools",
      key: "tools",
      fetch: (app) => this.catalog(app),
      target: (app, tool) => ({ tool: { name: exposedName(app, tool.name), app: app.name, upstreamName: tool.name } }),
      expose: (app, tool) => ({ ...tool, name: exposedName(app, tool.name) }),
    });
  }

  listPrompts() {
    return this.listed<"prompts", Prompt>({
      method: "prompts/list",
      list: "prompts",
      key: "prompts",
      fetch: (app) => this.listing(app, "prompts/list", appInstance(app).listPrompts),
      target: (app, p) => ({ prompt: { name: exposedName(app, p.name), app: app.name, upstreamName: p.name } }),
      expose: (app, p) => ({ ...p, name: exposedName(app, p.name) }),
    });
  }

  listResources() {
    return this.listed<"resources", Resource>({
      method: "resources/list",
      list: "resources",
      key: "resources",
      fetch: (app) =>
        this.listing(app, "resources/list", appInstance(app).listResources, (resources) => {
          // Hidden ones too: which app serves a URI is routing, not permission, and a later read
          // of a hidden resource must reach its own app's policy (and audit) to be denied there.
          for (const r of resources) this.deps.state.resources[r.uri] = app.name;
        }),
      target: (app, r) => ({ resource: { uri: r.uri, name: exposedName(app, r.name), app: app.name } }),
      expose: (app, r) => ({ ...r, name: exposedName(app, r.name) }),
    });
  }

  listResourceTemplates() {
    return this.listed<"resourceTemplates", ResourceTemplate>({
      method: "resources/templates/list",
      list: "resources",
      key: "resourceTemplates",
      fetch: (app) => this.listing(app, "resources/templates/list", appInstance(app).listResourceTemplates),
      target: (app, t) => ({ resource: { uriTemplate: t.uriTemplate, name: exposedName(app, t.name), app: app.name } }),
      expose: (app, t) => ({ ...t, name: exposedName(app, t.name) }),
    });
  }

  /** tools/call; `params` as the agent sent them, for policies (input.request.mcp.params). */
  async callTool(name: string, args: Record<string, unknown>, params?: Record<string, unknown>) {
    return this.persisting(runCall(this.pipeline, { method: "tools/call", name, args, ...(params ? { params } : {}) }));
  }

  async getPrompt(name: string, args: Record<string, string>, params: Record<string, unknown>) {
    return this.persisting(runCall(this.pipeline, { method: "prompts/get", name, args, params }));
  }

  async readResource(uri: string) {
    return this.persisting(runCall(this.pipeline, { method: "resources/read", uri }));
  }

  /** resources/subscribe and resources/unsubscribe go to the app that serves the URI, as reads do. */
  async subscription(method: "resources/subscribe" | "resources/unsubscribe", uri: string): Promise<void> {
    const held = this.deps.subscriptions;
    if (method === "resources/subscribe" && held && !held.has(uri) && held.size >= MAX_SESSION_SUBSCRIPTIONS)
      throw new JsonRpcError(
        ErrorCode.InvalidParams,
        `Invalid params: a session may subscribe to at most ${MAX_SESSION_SUBSCRIPTIONS} resources at once`,
      );
    await this.persisting(runCall(this.pipeline, { method, uri }));
    if (!held) return;
    const app = this.resourceApp(uri);
    if (method === "resources/unsubscribe") held.removed(uri);
    else if (app) held.added(app, uri);
  }

  /**
   * subscriptions/listen's `resourceSubscriptions` (MCP 2026-07-28 basic/patterns/subscriptions):
   * each URI is subscribed as a 2025-era agent's resources/subscribe is (the same policy decision,
   * audit event and upstream request), a few at a time; what is refused (an unknown resource, a
   * policy's deny, an upstream's error) is left out. The honoured URIs, by the app that serves them.
   */
  async subscribeAll(uris: string[]): Promise<Map<AppConfig, Set<string>>> {
    const granted = new Map<AppConfig, Set<string>>();
    const queue = [...new Set(uris)];
    const worker = async () => {
      for (let uri = queue.shift(); uri !== undefined; uri = queue.shift()) {
        try {
          await this.subscription("resources/subscribe", uri);
        } catch (err) {
          if (!(err instanceof JsonRpcError)) throw err;
          continue;
        }
        const app = this.resourceApp(uri);
        if (!app) continue;
        const set = granted.get(app) ?? new Set<string>();
        set.add(uri);
        granted.set(app, set);
      }
    };
    await Promise.all(Array.from({ length: Math.min(SUBSCRIBE_CONCURRENCY, queue.length) }, worker));
    return granted;
  }

  /** The app a subscription to `uri` goes to, as the call pipeline routes it (the app that listed it, else the only one able). */
  resourceApp(uri: string): AppConfig | undefined {
    const able = this.deps.config.apps.filter((app) => appInstance(app).subscription);
    const owner = this.deps.state.resources[uri];
    return owner ? able.find((app) => app.name === owner) : able.length === 1 ? able[0] : undefined;
  }

  /**
   * A call context for opening one upstream listener stream (session/upstream-listeners.ts): the
   * app's default token, exchanged anew when `fresh`, and when it expires.
   */
  async listenContext(
    app: AppConfig,
    fresh: boolean,
  ): Promise<{ ctx: AppCallContext; tokenExpiresAt?: number; release(): void }> {
    const outbound = await this.tokens.forApp(app, undefined, fresh ? { fresh } : {});
    const ctx = this.context(app, outbound.token);
    return {
      ctx,
      ...(outbound.expiresAt === undefined ? {} : { tokenExpiresAt: outbound.expiresAt }),
      release: () => {
        this.release(ctx);
        void this.deps.persist().catch(() => undefined);
      },
    };
  }

  /** What an app's upstream listener heard: a list change as one heard during a call, an update for the agent. */
  heard(app: AppConfig, method: string, params: Record<string, unknown>): void {
    const list = /^notifications\/(tools|prompts|resources)\/list_changed$/.exec(method)?.[1];
    if (list) this.listChanged(app, list as ListName);
    else if (method === "notifications/resources/updated") this.deps.events.notify(method, params);
  }

  /** What a call taught the session (tokens, upstream sessions) is saved, however the call ended. */
  private async persisting<T>(call: Promise<T>): Promise<T> {
    try {
      return await call;
    } finally {
      await this.deps.persist();
    }
  }

  /**
   * completion/complete (MCP server/utilities/completion): a prompt reference goes to the app
   * whose namespace prefixes its name (with the prefix stripped); a resource template reference
   * to the app that listed the URI, or the only app offering completion. Completions can reveal
   * what a prompt or template would return, so they are decided as its listing is (not audited).
   */
  async complete(params: Record<string, unknown>): Promise<Record<string, unknown>> {
    const apps = this.deps.config.apps;
    const ref = (params.ref ?? {}) as { type?: unknown; name?: unknown; uri?: unknown };
    let target: { app: AppConfig; ref: Record<string, unknown>; about: PolicyTarget } | undefined;
    if (ref.type === "ref/prompt" && typeof ref.name === "string") {
      const candidate = candidateApp(apps, ref.name);
      if (candidate) {
        const about = { prompt: { name: ref.name, app: candidate.app.name, upstreamName: candidate.upstreamName } };
        target = { app: candidate.app, ref: { ...ref, name: candidate.upstreamName }, about };
      }
    } else if (ref.type === "ref/resource" && typeof ref.uri === "string") {
      const withCompletion = apps.filter((a) => appInstance(a).complete);
      const owner = this.deps.state.resources[ref.uri];
      const app = owner
        ? withCompletion.find((a) => a.name === owner)
        : withCompletion.length === 1
          ? withCompletion[0]
          : undefined;
      if (app) target = { app, ref, about: { resource: { uri: ref.uri, app: app.name } } };
    }
    const instance = target ? appInstance(target.app) : undefined;
    if (!target || !instance?.complete)
      throw new JsonRpcError(ErrorCode.InvalidParams, "Invalid params: no app offers completion for this reference");
    const decision = await this.decide(target.app, target.about, { method: "completion/complete", params });
    if (!decision.allowed)
      throw new JsonRpcError(GatewayErrorCode.PolicyDenied, decision.externalMessage ?? CONTENT_DENIED_MESSAGE);
    const { app, ref: upstreamRef } = target;
    return this.withToken(app, (token) =>
      this.scoped(app, token, (ctx) => instance.complete!({ ...params, ref: upstreamRef }, ctx)),
    ).catch(asJsonRpcError);
  }

  /**
   * The session ended: each app ends its upstream session (best effort; a failure is logged, and
   * the upstream's own idle timeout ends it anyway).
   *
   * An app whose upstream takes exchanged tokens needs the agent's token for a new one, and that
   * token lives only in the memory of the process that served the agent's last request: it is
   * never written to storage, and exchanged tokens are cached only while they live. When the
   * session ends by idle timeout after its object lost that process (eviction, a restart), no
   * token is left, and the DELETE goes without credentials rather than keep one at rest: it names
   * only the upstream's own session id, to the upstream that issued it. An upstream that insists
   * on a token refuses it and ends the session at its own idle timeout.
   */
  async closeAll(): Promise<void> {
    await Promise.all(
      this.deps.config.apps.map(async (app) => {
        const instance = appInstance(app);
        if (!instance.close || !this.deps.state.apps[app.name]) return;
        const close = (token: string | undefined) => this.scoped(app, token, (ctx) => instance.close!(ctx));
        try {
          await this.withToken(app, close).catch((err: unknown) => {
            if (!(err instanceof ExchangeError && !this.deps.subjectToken)) throw err;
            log("info", "app.close_without_token", { app: app.name, session_id: this.deps.sessionId });
            return close(undefined);
          });
        } catch (err) {
          log("warn", "app.close_failed", {
            app: app.name,
            session_id: this.deps.sessionId,
            error: err instanceof Error ? err.message : "error",
          });
        }
      }),
    );
  }

  /** logging/setLevel: passed on to every app that takes it; an app that fails is logged, not fatal. */
  async setLoggingLevel(level: string): Promise<void> {
    await Promise.all(
      this.deps.config.apps.map(async (app) => {
        const instance = appInstance(app);
        if (!instance.setLoggingLevel) return;
        try {
          await this.withToken(app, (token) => this.scoped(app, token, (ctx) => instance.setLoggingLevel!(level, ctx)));
        } catch (err) {
          if (!(err instanceof UpstreamError || err instanceof ExchangeError)) throw err;
          log("warn", "app.set_level_failed", { app: app.name, session_id: this.deps.sessionId, error: err.message });
        }
      }),
    );
    await this.deps.persist();
  }

  /** The app's tools: this POST's listing, else the session's listing in flight, else a new one. */
  private catalog(app: AppConfig): Flight<Tool[]> {
    let listing = this.catalogs.get(app.name);
    if (!listing) {
      listing = this.listing(
        app,
        "tools/list",
        appInstance(app).listTools,
        (tools) => (this.deps.state.catalog[app.name] = tools.map((t) => t.name)),
      )!;
      this.catalogs.set(app.name, listing);
    }
    return listing;
  }

  /** The app's items of one list, shared with a listing of the session still in flight; undefined when the app has no such list. */
  private listing<T>(
    app: AppConfig,
    method: string,
    list: ((ctx: AppCallContext) => Promise<T[]>) | undefined,
    seen?: (items: T[]) => void,
  ): Flight<T[]> | undefined {
    if (!list) return undefined;
    const instance: App = appInstance(app);
    return sharedListing(this.deps.state, `${method} ${app.name}`, async () => {
      const items = await this.withToken(app, (token) => this.scoped(app, token, (ctx) => list.call(instance, ctx)));
      seen?.(items);
      return items;
    });
  }

  /**
   * Runs an operation that is not a call (a listing, completion, logging level, close) with the
   * app's default token. As for a call, a token the upstream refuses (401) is exchanged anew once
   * (RFC 6750 §3.1; docs/reliability/outbound-tokens.md).
   */
  private async withToken<T>(app: AppConfig, run: (token: string | undefined) => Promise<T>): Promise<T> {
    const outbound = await this.tokens.forApp(app, undefined);
    try {
      return await run(outbound.token);
    } catch (err) {
      if (!(outbound.token !== undefined && err instanceof UpstreamError && err.upstreamStatus === 401)) throw err;
      log("warn", "outbound.token_refused", {
        app: app.name,
        session_id: this.deps.sessionId,
        token_cached: outbound.cached === true,
      });
      const fresh = await this.tokens.forApp(app, undefined, { fresh: true });
      return run(fresh.token);
    }
  }

  /** Runs one operation with the app's call context, whose timeout timer goes as soon as it settles. */
  private async scoped<T>(
    app: AppConfig,
    token: string | undefined,
    operation: (ctx: AppCallContext) => Promise<T>,
  ): Promise<T> {
    const ctx = this.context(app, token);
    try {
      return await operation(ctx);
    } finally {
      this.release(ctx);
    }
  }

  /**
   * The operation of `ctx` has settled: its timeout timer is cleared. A runtime allows one object
   * only so many live timers, and an object serving a principal's burst would otherwise hold one
   * per call for the app's whole timeout after each call ended.
   */
  private release(ctx: AppCallContext): void {
    const timer = this.timers.get(ctx);
    if (timer !== undefined) clearTimeout(timer);
    this.timers.delete(ctx);
  }

  private context(app: AppConfig, token: string | undefined, meta?: Record<string, unknown>): AppCallContext {
    const states = this.deps.state.apps;
    const state: AppCallContext["state"] = {
      get: () => states[app.name] ?? {},
      set: async (patch) => {
        states[app.name] = { ...states[app.name], ...patch };
        await this.deps.persist();
      },
    };
    const traceparent = currentTraceparent() ?? this.deps.traceparent;
    const { events } = this.deps;
    // AbortSignal.timeout, with a timer that can be cleared when the operation settles (release).
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new DOMException("the app's timeout passed", "TimeoutError")),
      app.timeout,
    );
    const cancellation = this.deps.cancellation?.();
    if (cancellation?.aborted) controller.abort(cancellation.reason);
    else cancellation?.addEventListener("abort", () => controller.abort(cancellation.reason), { once: true });
    const ctx: AppCallContext = {
      token,
      ...(traceparent ? { traceparent } : {}),
      sessionId: this.deps.sessionId,
      signal: controller.signal,
      state,
      ...(meta ? { meta } : {}),
      events: {
        ...(events.related ? { related: events.related } : {}),
        ...(events.ask ? { ask: events.ask } : {}),
        listChanged: (list) => this.listChanged(app, list),
        resourceUpdated: (params) => events.notify("notifications/resources/updated", params),
      },
      ...(this.deps.clientCapabilities ? { clientCapabilities: this.deps.clientCapabilities } : {}),
      ...(this.deps.agentEra ? { agentEra: this.deps.agentEra } : {}),
      ...(this.deps.retry ? { retry: this.deps.retry } : {}),
    };
    this.timers.set(ctx, timer);
    return ctx;
  }

  /**
   * A listing reported late has landed after all: what it taught the session (catalog, resource
   * owners) is saved, and the agent is told the list changed so it lists again (MCP server/tools,
   * "List Changed Notification"; declared whenever an MCP Proxy app is configured).
   */
  private landed(list: ListName): void {
    void this.deps.persist().catch((err: unknown) =>
      log("warn", "app.persist_failed", {
        session_id: this.deps.sessionId,
        error: err instanceof Error ? err.message : "error",
      }),
    );
    if (this.deps.config.apps.some((app) => app.type === "mcpProxy"))
      this.deps.events.notify(`notifications/${list}/list_changed`);
  }

  /** An upstream's list changed: forget what we knew of it and tell the agent (MCP list_changed). */
  private listChanged(app: AppConfig, list: ListName): void {
    if (list === "tools") {
      delete this.deps.state.catalog[app.name];
      this.catalogs.delete(app.name);
      forgetListings(this.deps.state, `tools/list ${app.name}`);
    } else forgetListings(this.deps.state, `${list}/`, { prefix: true });
    this.listings.forget(list);
    this.deps.events.notify(`notifications/${list}/list_changed`);
  }
}
