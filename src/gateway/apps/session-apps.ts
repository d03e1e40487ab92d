// One session's view of the apps: the merged catalog, and each tool call's path
// (resolve → decide → exchange → forward → audit). Built per request by the McpSession Durable
// Object from its persisted state; everything it learns goes back into that state.
import { ErrorCode, type CallToolResult, type Tool } from "@modelcontextprotocol/sdk/types.js";
import { JsonRpcError } from "../../core/errors.js";
import { log } from "../../core/log.js";
import { secondsSince, telemetryMetrics } from "../../core/telemetry/metrics.js";
import { currentTraceId, currentTraceparent, inSpan, markSpanError, SpanKind } from "../../core/telemetry/spans.js";
import type { AppConfig } from "../apps-schema.js";
import { traceIdOf, type AuditEvent } from "../audit.js";
import type { Principal } from "../auth/principal.js";
import type { ToolCallAdmission } from "../call-budget.js";
import type { GatewayConfig, GatewayEnv } from "../config.js";
import { recordCallLatency } from "../outbound/call-latency.js";
import { OutboundTokens, type OutboundToken } from "../outbound/outbound-tokens.js";
import type { TokenCacheEntries } from "../outbound/token-cache.js";
import { ExchangeError } from "../outbound/token-exchange-client.js";
import { buildPolicyInput, decide, DENIED_MESSAGE, type HttpSnapshot, type PolicyDecision, type PolicyInputParts } from "../policy/index.js";
import { UpstreamError, type App, type AppCallContext, type ToolCallOutcome } from "./app.js";
import { candidateApp, exposedName } from "./catalog.js";
import { forgetListings, LATE, lateMessage, listTimeoutOf, sharedListing, within, type Flight } from "./list-deadline.js";
import { appInstance, listChangedListeners, resourceUpdatedListeners, type ListName } from "./registry.js";
import { SessionContent, type AuditedRequest } from "./session-content.js";
import type { ServerRequestRelay } from "./streamable-http-client.js";

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
  persist: () => Promise<void>;
  /** Records an audit event (the worker log, and the HTTP sink when configured). */
  audit: (event: AuditEvent) => void;
  /** Sends a notification to the agent's server-to-client stream, when one is open. */
  notify: (method: string, params?: unknown) => void;
  /** Relays an upstream's notification about the request in flight (progress, log message) to the agent. */
  relay?: (method: string, params: unknown) => void;
  /** Relays an upstream's request during the request in flight (sampling, elicitation) to the agent. */
  serverRequest?: ServerRequestRelay;
  /** The agent's client capabilities (from its initialize). */
  clientCapabilities?: Record<string, unknown>;
  /** Takes one tool call from the budgets that apply (mcpProvider.limits.toolCallsPerSession, toolCallsPerPrincipal), when there are any. */
  admitToolCall?: () => Promise<ToolCallAdmission>;
}

/** The upstream answered 401: it refused the token (RFC 6750 §3.1), whether as an HTTP error or as a tool result. */
function refusedToken(attempt: { outcome: ToolCallOutcome } | { error: UpstreamError }): boolean {
  return ("error" in attempt ? attempt.error.upstreamStatus : attempt.outcome.upstreamStatus) === 401;
}

/** What the agent reads, and the audit event says, when a tool call budget refuses a call. */
const REFUSED: Record<Extract<ToolCallAdmission, { admitted: false }>["budget"], { reason: string; message: (seconds: number) => string }> = {
  toolCallsPerSession: {
    reason: "the session's tool call budget is spent (mcpProvider.limits.toolCallsPerSession)",
    message: (s) => `Too many tool calls in this session: try again in ${s} s.`,
  },
  toolCallsPerPrincipal: {
    reason: "the principal's tool call budget is spent (mcpProvider.limits.toolCallsPerPrincipal)",
    message: (s) => `Too many tool calls by this agent: try again in ${s} s.`,
  },
  unavailable: {
    reason: "the principal's tool call budget could not be checked (mcpProvider.limits.toolCallsPerPrincipal); refused",
    message: (s) => `The gateway could not check this agent's tool call budget: try again in ${s} s.`,
  },
};

function toolError(text: string): CallToolResult {
  return { isError: true, content: [{ type: "text", text }] };
}

export class SessionApps {
  private readonly tokens: OutboundTokens;
  /** Prompts and resources of the same apps. */
  readonly content: SessionContent;

  constructor(private readonly deps: SessionAppsDeps) {
    this.tokens = new OutboundTokens({
      env: deps.env,
      config: deps.config,
      subjectToken: deps.subjectToken,
      entries: deps.state.tokens,
      save: (entries) => (deps.state.tokens = entries),
    });
    deps.state.resources ??= {};
    this.content = new SessionContent({
      apps: deps.config.apps,
      instance: appInstance,
      context: (app, event) => this.listingContext(app, event),
      resourceIndex: deps.state.resources,
      sessionId: deps.sessionId,
      session: deps.state,
      listTimeout: (app) => listTimeoutOf(deps.config, app),
      landed: (list) => this.landed(list),
      decide: (app, target, mcp) => this.decide(app, target, mcp),
      audited: (request, run) => this.audited(request, run),
    });
  }

  /**
   * Context for operations that are not a tool call (listing, prompts, resources): the app's
   * default token, whose jti goes to `event` when the operation is audited.
   */
  private async listingContext(app: AppConfig, event?: AuditEvent): Promise<AppCallContext> {
    try {
      const outbound = await this.tokens.forApp(app, undefined);
      if (event && outbound.jti) event.token_jti = outbound.jti;
      if (event && outbound.cached !== undefined) event.token_cached = outbound.cached;
      return this.context(app, outbound.token);
    } catch (err) {
      if (err instanceof ExchangeError) throw new UpstreamError(app.name, err.message);
      throw err;
    }
  }

  /**
   * What this instance has listed, by app. An instance serves one POST, so the list requests of
   * one JSON-RPC batch (and the tool calls that need a catalog) share one listing of each
   * upstream, and the next POST lists afresh (or joins a listing still in flight, list-deadline.ts).
   */
  private readonly catalogs = new Map<string, Flight<Tool[]>>();
  private toolListing: Promise<{ tools: Tool[]; _meta?: Record<string, unknown> }> | undefined;

  /**
   * tools/list: every app's tools under its namespace; an app that fails, or has not listed within
   * its list deadline (list-deadline.ts), is reported, not fatal.
   */
  listTools(): Promise<{ tools: Tool[]; _meta?: Record<string, unknown> }> {
    this.toolListing ??= this.collectTools();
    return this.toolListing;
  }

  private async collectTools(): Promise<{ tools: Tool[]; _meta?: Record<string, unknown> }> {
    const results = await Promise.all(
      this.deps.config.apps.map(async (app) => {
        try {
          const ms = listTimeoutOf(this.deps.config, app);
          const listed = await within(this.fetchCatalog(app), ms, () => this.landed("tools"));
          if (listed === LATE) {
            log("warn", "app.list_late", { app: app.name, session_id: this.deps.sessionId, list: "tools/list", timeout_ms: ms });
            return { tools: [] as Tool[], failure: { app: app.name, error: lateMessage(ms) } };
          }
          const tools = await this.visible(app, listed);
          return { tools: tools.map((tool) => ({ ...tool, name: exposedName(app, tool.name) })) };
        } catch (err) {
          const message = err instanceof UpstreamError || err instanceof ExchangeError ? err.message : "internal error";
          log("warn", "app.list_failed", { app: app.name, session_id: this.deps.sessionId, error: message });
          return { tools: [] as Tool[], failure: { app: app.name, error: message } };
        }
      }),
    );
    await this.deps.persist();
    const failures = results.flatMap((r) => (r.failure ? [r.failure] : []));
    return { tools: results.flatMap((r) => r.tools), ...(failures.length ? { _meta: { "gateway/unavailableApps": failures } } : {}) };
  }

  /**
   * The tools of `app` the caller may ever call: the policy is asked once per tool with
   * `request.mcp.method` "tools/list" and no arguments (README "Policy").
   */
  private async visible(app: AppConfig, tools: Tool[]): Promise<Tool[]> {
    const decisions = await Promise.all(
      tools.map((tool) => this.decide(app, { tool: { name: exposedName(app, tool.name), app: app.name, upstreamName: tool.name } }, { method: "tools/list", params: {} })),
    );
    return tools.filter((_, i) => decisions[i]!.allowed);
  }

  /** The policy decision about one tool, prompt or resource of `app` (README "Policy"). */
  private decide(app: AppConfig, target: Pick<PolicyInputParts, "tool" | "prompt" | "resource">, mcp: { method: string; params: unknown }): Promise<PolicyDecision> {
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

  /** An audit event about to be filled in: allowed and successful until something says otherwise. */
  private auditEvent(method: string, subject: Pick<AuditEvent, "tool" | "prompt" | "resource">): AuditEvent {
    const { principal } = this.deps;
    const event: AuditEvent = {
      id: crypto.randomUUID(),
      time: new Date().toISOString(),
      session_id: this.deps.sessionId,
      agent: principal.clientId,
      user: principal.sub,
      issuer: principal.issuer,
      method,
      ...subject,
      decision: "allow",
      outcome: "success",
      latency_ms: 0,
    };
    const traceId = currentTraceId() ?? traceIdOf(this.deps.traceparent);
    if (traceId) event.trace_id = traceId;
    return event;
  }

  /** A prompt or resource request, with exactly one audit event whatever happens (SessionContent fills it in). */
  private async audited<T>(request: AuditedRequest, run: (event: AuditEvent) => Promise<T>): Promise<T> {
    const started = Date.now();
    const event = this.auditEvent(request.method, request.subject);
    // Prompt arguments may hold personal data, as tool arguments may.
    if (request.arguments && this.deps.config.provider.observability.logToolArguments) event.arguments = request.arguments;
    try {
      return await run(event);
    } catch (err) {
      if (event.outcome === "success") {
        event.outcome = "upstream_error";
        event.reason = err instanceof Error ? err.message : "error";
      }
      throw err;
    } finally {
      event.latency_ms = Date.now() - started;
      this.deps.audit(event);
      await this.deps.persist();
    }
  }

  /** tools/call, with exactly one audit event whatever happens. */
  async callTool(name: string, args: Record<string, unknown>, params?: Record<string, unknown>): Promise<CallToolResult> {
    const started = Date.now();
    const event = this.auditEvent("tools/call", { tool: name });
    // Arguments may hold personal data: only where the configuration says so.
    if (this.deps.config.provider.observability.logToolArguments) event.arguments = args;
    try {
      const admission = await this.deps.admitToolCall?.();
      if (admission && !admission.admitted) {
        const seconds = Math.max(1, Math.ceil(admission.retryAfterMs / 1000));
        event.app = candidateApp(this.deps.config.apps, name)?.app.name;
        event.decision = "deny";
        event.outcome = "rate_limited";
        event.reason = REFUSED[admission.budget].reason;
        return toolError(REFUSED[admission.budget].message(seconds));
      }
      let resolved: { app: AppConfig; upstreamName: string } | null;
      try {
        resolved = await this.resolve(name);
      } catch (err) {
        // The app could not even list its tools (upstream down, exchange refused).
        if (!(err instanceof UpstreamError || err instanceof ExchangeError)) throw err;
        event.app = candidateApp(this.deps.config.apps, name)?.app.name;
        event.outcome = err instanceof ExchangeError ? "exchange_error" : "upstream_error";
        event.reason = err.message;
        return toolError(`The tool ${name} is unavailable: ${err.message}`);
      }
      if (!resolved) {
        event.decision = "deny";
        event.outcome = "unknown_tool";
        event.reason = "no app lists this tool";
        // MCP tools: an unknown tool is a JSON-RPC error (-32602), not a tool result.
        throw new JsonRpcError(ErrorCode.InvalidParams, `Unknown tool: ${name}`);
      }
      const { app, upstreamName } = resolved;
      event.app = app.name;
      // Policy before any token is minted or any byte goes upstream: a deny costs nothing.
      const decision = await this.decideCall(app, name, upstreamName, args, params);
      if (decision.policy) event.policy = decision.policy;
      if (!decision.allowed) {
        event.decision = "deny";
        event.outcome = "denied";
        event.reason = decision.reason ?? decision.externalMessage;
        return toolError(decision.externalMessage ?? DENIED_MESSAGE);
      }
      if (decision.reason) event.reason = decision.reason;
      let problems: string | undefined;
      try {
        problems = await appInstance(app).checkArguments?.(upstreamName, args);
      } catch (err) {
        if (!(err instanceof UpstreamError)) throw err;
        event.outcome = "upstream_error";
        event.reason = err.message;
        return toolError(`The ${app.name} app is unavailable: ${err.message}`);
      }
      if (problems !== undefined) {
        // Like the policy, before any token is minted: the API would only refuse the request.
        event.outcome = "invalid_arguments";
        event.reason = problems;
        return toolError(`Invalid arguments for ${name}: ${problems}`);
      }
      let outbound: OutboundToken;
      try {
        outbound = await this.tokens.forApp(app, upstreamName);
      } catch (err) {
        if (!(err instanceof ExchangeError)) throw err;
        event.outcome = "exchange_error";
        event.reason = err.error;
        return toolError(`Authorization for ${name} failed: ${err.message}`);
      }
      const noteToken = (token: OutboundToken) => {
        if (token.jti) event.token_jti = token.jti;
        if (token.cached !== undefined) event.token_cached = token.cached;
      };
      noteToken(outbound);
      const meta = params?._meta;
      const send = (token: string | undefined) => this.attempt(() => this.forward(app, upstreamName, args, token, typeof meta === "object" && meta !== null ? (meta as Record<string, unknown>) : undefined));
      let attempt = await send(outbound.token);
      if (outbound.token !== undefined && refusedToken(attempt)) {
        // RFC 6750 §3.1: 401 is the upstream refusing the token itself (expired in flight, a
        // clock ahead of the identity provider's, a rotated key) before acting on the request,
        // so the call is sent once more with a newly exchanged token; a second 401 is final.
        log("warn", "outbound.token_refused", { app: app.name, session_id: this.deps.sessionId, tool: upstreamName, token_cached: outbound.cached === true });
        try {
          outbound = await this.tokens.forApp(app, upstreamName, { fresh: true });
        } catch (err) {
          if (!(err instanceof ExchangeError)) throw err;
          event.outcome = "exchange_error";
          event.reason = err.error;
          return toolError(`Authorization for ${name} failed: ${err.message}`);
        }
        noteToken(outbound);
        attempt = await send(outbound.token);
      }
      if ("error" in attempt) {
        const err = attempt.error;
        event.outcome = "upstream_error";
        event.reason = err.message;
        if (err.upstreamStatus !== undefined) event.upstream_status = err.upstreamStatus;
        return toolError(`The ${app.name} app is unavailable: ${err.message}`);
      }
      const { outcome } = attempt;
      if (outcome.upstreamStatus !== undefined) event.upstream_status = outcome.upstreamStatus;
      event.outcome = outcome.result.isError ? "tool_error" : "success";
      return outcome.result;
    } finally {
      event.latency_ms = Date.now() - started;
      telemetryMetrics().toolInvocations.add(1, { "gateway.app": event.app ?? "none", "gen_ai.tool.name": name, "gateway.decision": event.decision, "gateway.outcome": event.outcome });
      this.deps.audit(event);
      await this.deps.persist();
    }
  }

  /** The policy decision for one tools/call, in its own span. */
  private decideCall(app: AppConfig, name: string, upstreamName: string, args: Record<string, unknown>, params: Record<string, unknown> | undefined): Promise<PolicyDecision> {
    const started = Date.now();
    return inSpan("policy.evaluate", { attributes: { "gateway.app": app.name, "gen_ai.tool.name": name } }, async (span) => {
      const decision = await this.decide(app, { tool: { name, app: app.name, upstreamName, arguments: args } }, { method: "tools/call", params: params ?? { name, arguments: args } });
      const result = decision.allowed ? "allow" : "deny";
      span.setAttributes({ "gateway.decision": result, ...(decision.policy ? { "gateway.policy": decision.policy } : {}) });
      telemetryMetrics().policyDuration.record(secondsSince(started), { "gateway.decision": result, ...(decision.policy ? { "gateway.policy": decision.policy } : {}) });
      return decision;
    });
  }

  /** An upstream's failure as a value, so the caller can look at its status before giving up. */
  private async attempt(run: () => Promise<ToolCallOutcome>): Promise<{ outcome: ToolCallOutcome } | { error: UpstreamError }> {
    try {
      return { outcome: await run() };
    } catch (err) {
      if (err instanceof UpstreamError) return { error: err };
      throw err;
    }
  }

  /** The call to the app's upstream, in its own client span (its traceparent goes upstream). */
  private forward(app: AppConfig, upstreamName: string, args: Record<string, unknown>, token: string | undefined, meta: Record<string, unknown> | undefined) {
    const started = Date.now();
    const attributes = { "gateway.app": app.name, "gateway.app.type": app.type };
    return inSpan(`upstream ${app.name}`, { kind: SpanKind.CLIENT, attributes: { ...attributes, "gen_ai.tool.name": upstreamName } }, async (span) => {
      let outcome = "error";
      try {
        const result = await appInstance(app).callTool(upstreamName, args, this.context(app, token, meta));
        outcome = result.result.isError ? "tool_error" : "success";
        if (result.upstreamStatus !== undefined) span.setAttribute("http.response.status_code", result.upstreamStatus);
        recordCallLatency(app.name, Date.now() - started);
        return result;
      } catch (err) {
        // An answer, even an error, tells how long the upstream takes; a timeout does not.
        if (err instanceof UpstreamError && err.upstreamStatus !== undefined) recordCallLatency(app.name, Date.now() - started);
        throw err;
      } finally {
        if (outcome === "error") markSpanError(span, "upstream_error");
        telemetryMetrics().upstreamDuration.record(secondsSince(started), { ...attributes, "gateway.outcome": outcome });
      }
    });
  }

  /** The app and upstream name behind an exposed tool name, checked against that app's own catalog. */
  private async resolve(name: string): Promise<{ app: AppConfig; upstreamName: string } | null> {
    const candidate = candidateApp(this.deps.config.apps, name);
    if (!candidate) return null;
    let known = this.deps.state.catalog[candidate.app.name];
    if (!known?.includes(candidate.upstreamName)) {
      // The app's own timeout, not the list deadline: the agent asked for this tool by name.
      known = (await this.fetchCatalog(candidate.app).promise).map((t) => t.name);
    }
    return known.includes(candidate.upstreamName) ? candidate : null;
  }

  /** The app's tools: this POST's listing, else the session's listing in flight, else a new one. */
  private fetchCatalog(app: AppConfig): Flight<Tool[]> {
    let listing = this.catalogs.get(app.name);
    if (!listing) {
      listing = sharedListing(this.deps.state, `tools/list ${app.name}`, async () => {
        const outbound = await this.tokens.forApp(app, undefined);
        let tools: Tool[];
        try {
          tools = await appInstance(app).listTools(this.context(app, outbound.token));
        } catch (err) {
          // As for a call: a refused token is exchanged anew once (RFC 6750 §3.1).
          if (!(outbound.token !== undefined && err instanceof UpstreamError && err.upstreamStatus === 401)) throw err;
          log("warn", "outbound.token_refused", { app: app.name, session_id: this.deps.sessionId, token_cached: outbound.cached === true });
          const fresh = await this.tokens.forApp(app, undefined, { fresh: true });
          tools = await appInstance(app).listTools(this.context(app, fresh.token));
        }
        this.deps.state.catalog[app.name] = tools.map((t) => t.name);
        return tools;
      });
      this.catalogs.set(app.name, listing);
    }
    return listing;
  }

  /**
   * The agent ended the session: each app ends its upstream session (best effort; a failure is
   * logged, and the upstream's own idle timeout ends it anyway).
   */
  async closeAll(): Promise<void> {
    await Promise.all(
      this.deps.config.apps.map(async (app) => {
        const instance = appInstance(app);
        if (!instance.close || !this.deps.state.apps[app.name]) return;
        try {
          await instance.close(await this.listingContext(app));
        } catch (err) {
          log("warn", "app.close_failed", { app: app.name, session_id: this.deps.sessionId, error: err instanceof Error ? err.message : "error" });
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
          await instance.setLoggingLevel(level, await this.listingContext(app));
        } catch (err) {
          if (!(err instanceof UpstreamError)) throw err;
          log("warn", "app.set_level_failed", { app: app.name, session_id: this.deps.sessionId, error: err.message });
        }
      }),
    );
    await this.deps.persist();
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
    listChangedListeners.set(state, (list) => this.listChanged(app, list));
    resourceUpdatedListeners.set(state, (params) => this.deps.notify("notifications/resources/updated", params));
    const traceparent = currentTraceparent() ?? this.deps.traceparent;
    return {
      token,
      ...(traceparent ? { traceparent } : {}),
      signal: AbortSignal.timeout(app.timeout),
      state,
      ...(meta ? { meta } : {}),
      ...(this.deps.relay ? { onNotification: this.deps.relay } : {}),
      ...(this.deps.serverRequest ? { onServerRequest: this.deps.serverRequest } : {}),
      ...(this.deps.clientCapabilities ? { clientCapabilities: this.deps.clientCapabilities } : {}),
    };
  }

  /**
   * A listing reported late has landed after all: what it taught the session (catalog, resource
   * owners) is saved, and the agent is told the list changed so it lists again (MCP server/tools,
   * "List Changed Notification"; declared whenever an MCP Proxy app is configured).
   */
  private landed(list: ListName): void {
    void this.deps.persist().catch((err: unknown) => log("warn", "app.persist_failed", { session_id: this.deps.sessionId, error: err instanceof Error ? err.message : "error" }));
    if (this.deps.config.apps.some((app) => app.type === "mcpProxy")) this.deps.notify(`notifications/${list}/list_changed`);
  }

  /** An upstream's list changed: forget what we knew of it and tell the agent (MCP list_changed). */
  private listChanged(app: AppConfig, list: ListName): void {
    if (list === "tools") {
      delete this.deps.state.catalog[app.name];
      this.catalogs.delete(app.name);
      forgetListings(this.deps.state, `tools/list ${app.name}`);
      this.toolListing = undefined;
    } else this.content.forget(list);
    this.deps.notify(`notifications/${list}/list_changed`);
  }
}

export type { App };
