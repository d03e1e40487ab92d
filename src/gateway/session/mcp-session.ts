// One Durable Object per MCP session (docs/mcp-endpoint.md): platform routing by
// Mcp-Session-Id replaces the sticky load balancer, and the context lives in the object's own
// SQLite-backed storage so it survives eviction, restarts and the loss of the process serving it.
//
// The session's home is this folder. Layering, top down:
//   mcp-session.ts (this object: storage, lifetime, limits, streams; implements McpSessionRpc)
//   → session-apps.ts (the session's view of its apps) → call-pipeline.ts + settle.ts, listings.ts
//   → src/gateway/apps, policy, outbound (the apps, policies and tokens, which know no session).
// Beside it: session-audit.ts (audit events to the outbox), call-budgets.ts, relayed-requests.ts,
// and upstream-listeners.ts (the upstream streams the agent's resource subscriptions hold open,
// relaying resources/updated to its GET streams; docs/mcp-endpoint.md, "Resource updates").
// The front reaches this object only through its RPC seam (src/gateway/object-rpc.ts).
import { ErrorCode } from "@modelcontextprotocol/sdk/types.js";
import { DurableObject } from "cloudflare:workers";
import { JsonRpcError } from "../../core/errors.js";
import { log, prepareLog } from "../../core/log.js";
import { telemetryMetrics } from "../../core/telemetry/metrics.js";
import { flushTelemetry } from "../../core/telemetry/telemetry.js";
import { RequestCancelled } from "../apps/upstream-error.js";
import type { AppConfig } from "../apps-schema.js";
import { principalKey, samePrincipal, type Principal } from "../auth/principal.js";
import { loadGatewayConfig, loadObjectConfig, type GatewayConfig } from "../config.js";
import type { GatewayEnv } from "../env.js";
import { isNotification, isRequest, isResponse, type JSONRPCMessage, type JSONRPCRequest } from "../mcp/messages.js";
import { traceRequest } from "../mcp/request-telemetry.js";
import { MAX_REPLY_BYTES, serializedSize } from "../mcp/rpc-limits.js";
import {
  answerRequest,
  applyNotification,
  errorMessage,
  startSession,
  type InitializeParams,
  type SessionContext,
} from "../mcp/session-methods.js";
import type { CallerRequest, McpSessionRpc, OpenResult, ReceiveOptions } from "../object-rpc.js";
import { AfterReplies } from "./after-replies.js";
import { SessionCallBudgets, UNAVAILABLE_RETRY_MS } from "./call-budgets.js";
import { RelayedRequests } from "./relayed-requests.js";
import {
  emptyAppsState,
  SessionApps,
  type AppsState,
  type SessionEvents,
  type SessionSubscriptions,
} from "./session-apps.js";
import { SessionAudit } from "./session-audit.js";
import { StoredValue } from "./stored-value.js";
import { UpstreamListeners } from "./upstream-listeners.js";

const CONTEXT_KEY = "context";
const APPS_KEY = "apps";

export class McpSession extends DurableObject<GatewayEnv> implements McpSessionRpc {
  /** In-memory copy of the stored context; `undefined` until loaded, `null` when there is none. */
  private context: SessionContext | null | undefined;
  /** The apps' session state (upstream sessions, exchanged tokens, catalog), in memory and stored. */
  private readonly apps: StoredValue<AppsState>;
  /**
   * When activity was last written with its lease renewed (or the slot taken): both happen at
   * most once per activityWriteInterval(), and the lease runs that much longer than the timeout.
   */
  private leasedAt = 0;
  private readonly audit: SessionAudit;
  /** What a request does once its replies have left: bookkeeping writes, audit log lines. */
  private readonly afterReplies: AfterReplies;
  private readonly budgets = new SessionCallBudgets(() => this.context?.id);
  /** Open server-to-client streams (GET /mcp); they live in memory and end with the process. */
  private readonly streams = new Set<WritableStreamDefaultWriter<Uint8Array>>();
  /** Requests relayed to the agent, awaiting its answer (in memory: they live as long as the call). */
  private readonly relayed = new RelayedRequests();
  /** POSTs being answered now: the idle alarm never ends a session under a call. */
  private inFlight = 0;
  /**
   * The agent's last request, for closing upstream sessions at the idle timeout (their tokens
   * are exchanged from its token). In memory only: the agent's token is never written to storage.
   */
  private lastCaller: CallerRequest | undefined;
  /**
   * The resources the agent subscribed to, by URI: the app serving each (docs/mcp-endpoint.md,
   * "Resource updates"). In memory, as the upstream listeners they hold are.
   */
  private readonly subscribed = new Map<string, AppConfig>();
  /** Each subscribed app's upstream listener, relaying its updates to the agent's GET streams. */
  private readonly upstream = new UpstreamListeners({
    deliver: (app, method, params) => this.latestApps?.heard(app, method, params),
  });
  /** The view of the apps of the latest POST: whose agent token upstream listeners exchange. */
  private latestApps: SessionApps | undefined;
  /**
   * The agent's requests being answered, by id, for its `notifications/cancelled` (MCP 2025-11-25
   * basic/utilities/cancellation), which arrives in another POST. Memory only, as the calls are.
   */
  private readonly cancellable = new Map<string, AbortController>();

  constructor(ctx: DurableObjectState, env: GatewayEnv) {
    super(ctx, env);
    this.apps = new StoredValue(ctx.storage, APPS_KEY, emptyAppsState);
    this.afterReplies = new AfterReplies((promise) => ctx.waitUntil(promise));
    this.audit = new SessionAudit(ctx, env, this.afterReplies);
    // Audit events a lost runtime left stored here go on to the outbox as soon as the object runs again.
    const loaded = loadGatewayConfig(env);
    const sink = loaded.ok ? loaded.config.provider.audit.sink : undefined;
    if (sink) ctx.waitUntil(this.audit.forward(sink));
  }

  /**
   * Creates the session from its `initialize` request and returns the reply; or, when its
   * principal already holds every session it may (mcpProvider.limits.sessionsPerPrincipal), or
   * the principal's object cannot say whether it does (fail closed), why not, and nothing is
   * created.
   */
  async open(
    sessionId: string,
    requestId: JSONRPCRequest["id"],
    params: InitializeParams,
    principal: Principal,
  ): Promise<OpenResult> {
    if (await this.load()) throw new Error(`session ${sessionId} already exists`);
    const config = this.config();
    const limit = config.provider.limits.sessionsPerPrincipal;
    this.leasedAt = Date.now();
    if (limit > 0) {
      try {
        const grant = await this.principalLimits(principal).acquireSession(sessionId, limit, leaseMs(config));
        if (!grant.granted)
          return { refusal: { refused: "sessionsPerPrincipal", limit, retryAfterMs: grant.retryAfterMs } };
      } catch (err) {
        log("error", "mcp.principal_limits_failed", {
          session_id: sessionId,
          operation: "acquire",
          error: err instanceof Error ? err.message : "error",
        });
        return { refusal: { refused: "unavailable", limit, retryAfterMs: UNAVAILABLE_RETRY_MS } };
      }
    }
    const { context, reply } = startSession(sessionId, requestId, params, principal, capabilities(config), Date.now());
    await this.save(context, config);
    telemetryMetrics().sessionsCreated.add(1);
    telemetryMetrics().sessionsActive.add(1);
    // Written once the reply has left (its serialization was a tenth of what initialize cost).
    const created = prepareLog("info", "mcp.session.created", {
      session_id: sessionId,
      protocol_version: context.protocolVersion,
      user: principal.sub,
      agent: principal.clientId,
    });
    if (created) this.afterReplies.run(created);
    return { reply };
  }

  /**
   * Handles the messages of one POST on an existing session and returns their replies, or null
   * when the session does not exist (never created, ended) or belongs to another principal: a
   * hijack attempt looks exactly like an unknown session.
   *
   * What happens before the replies goes to `onEvent` as it happens (only when the agent reads an
   * event stream): notifications upstreams send about a request (progress, log messages) and
   * requests they make of the agent during it (sampling, elicitation). Every event has reached
   * the front before the replies are returned, so the order the agent sees is the order here.
   * The agent's answers to relayed requests arrive in later POSTs, as responses, and go back to
   * the upstream that asked.
   */
  async receive(
    messages: JSONRPCMessage[],
    principal: Principal,
    request: CallerRequest,
    options: ReceiveOptions,
  ): Promise<JSONRPCMessage[] | null> {
    const context = await this.ownedBy(principal);
    if (!context) return null;
    const config = this.config();
    for (const message of messages) if (isResponse(message)) this.relayed.answer(message);
    const onEvent = options.onEvent;
    let delivered: Promise<unknown> = Promise.resolve();
    // An agent that went away must not stop the work: the session state is still saved.
    const send = (message: JSONRPCMessage) => {
      if (onEvent) delivered = delivered.then(() => onEvent(message)).catch(() => undefined);
    };
    const events: SessionEvents = {
      notify: (method, params) => this.notify(method, params),
      related: (method, params) =>
        send({
          jsonrpc: "2.0",
          method,
          ...(params === undefined ? {} : { params: params as Record<string, unknown> }),
        }),
      ...(options.relay
        ? {
            ask: (method: string, params: unknown, signal: AbortSignal) =>
              this.relayed.ask(send, method, params, signal),
          }
        : {}),
    };
    let cancellation: AbortSignal | undefined;
    const apps = await this.sessionApps(config, context, request, events, () => this.apps.persist(), {
      subscriptions: this.subscriptions(),
      cancellation: () => cancellation,
    });
    this.latestApps = apps;
    this.upstream.use({ context: (app, fresh) => apps.listenContext(app, fresh) });
    const replies: JSONRPCMessage[] = [];
    const wasInitialized = context.initialized;
    this.lastCaller = request;
    this.inFlight++;
    // The replies go back over the runtime's RPC, which refuses a call beyond 32 MiB whole.
    let room = MAX_REPLY_BYTES;
    try {
      for (const message of messages) {
        if (isRequest(message)) {
          const key = JSON.stringify(message.id);
          const controller = new AbortController();
          this.cancellable.set(key, controller);
          cancellation = controller.signal;
          let reply: JSONRPCMessage;
          try {
            reply = await traceRequest(context.id, message, request.traceparent, () =>
              this.answer(context, message, apps),
            );
          } finally {
            if (this.cancellable.get(key) === controller) this.cancellable.delete(key);
          }
          // basic/utilities/cancellation: no response for a request the agent cancelled (its audit event says so).
          if (controller.signal.aborted) continue;
          const size = serializedSize(reply);
          if (size <= room) {
            room -= size;
            replies.push(reply);
          } else {
            log("warn", "mcp.reply_too_large", { session_id: context.id, method: message.method, bytes: size });
            replies.push(
              errorMessage(
                message.id,
                new JsonRpcError(
                  ErrorCode.InternalError,
                  "Internal error: the answer is larger than the gateway passes on",
                ),
              ),
            );
          }
        } else if (isNotification(message)) {
          if (message.method === "notifications/cancelled") this.cancel(context, message.params?.requestId);
          applyNotification(context, message);
        }
      }
    } finally {
      this.inFlight--;
      context.lastActiveAt = Date.now();
      // A tool call on a warm session changes nothing worth a write but the time of activity. The
      // lease renews with it, and only then: the one taken at initialize still runs for a session
      // whose initialized notification follows it.
      const activity = context.lastActiveAt - this.leasedAt >= activityWriteInterval(config);
      const changed = activity || context.initialized !== wasInitialized;
      if (activity) this.leasedAt = context.lastActiveAt;
      // After the replies have left: a write started before them would hold them until it
      // commits (the object's output gate), and nothing in the replies depends on these.
      const bookkeeping = this.afterReplies
        .next()
        .then(() =>
          // Not for a session that ended meanwhile (DELETE, a revoked token): that would revive it.
          this.context === context
            ? Promise.all([
                changed ? this.save(context, config) : undefined,
                activity ? this.renewLease(context, config) : undefined,
                this.apps.persist(),
              ])
            : undefined,
        )
        .finally(() => flushTelemetry((promise) => this.ctx.waitUntil(promise)));
      this.ctx.waitUntil(bookkeeping);
    }
    await delivered;
    return replies;
  }

  /** One request's reply; a failure nobody foresaw is an internal error for that request alone. */
  private async answer(context: SessionContext, message: JSONRPCRequest, apps: SessionApps): Promise<JSONRPCMessage> {
    try {
      return await answerRequest(context, message, apps);
    } catch (err) {
      log("error", "mcp.request_failed", {
        session_id: context.id,
        method: message.method,
        error: err instanceof Error ? err.name : "error",
      });
      return errorMessage(message.id, new JsonRpcError(ErrorCode.InternalError, "Internal error"));
    }
  }

  /** Whether the session exists, without counting as activity (the idle timer is untouched). */
  async exists(): Promise<boolean> {
    return (await this.load()) !== null;
  }

  /**
   * Opens the server-to-client SSE stream (GET): notifications such as an upstream's
   * list_changed are written to every open stream of the session. Null when the session does
   * not exist or belongs to another principal.
   */
  async openStream(principal: Principal): Promise<ReadableStream<Uint8Array> | null> {
    if (!(await this.ownedBy(principal))) return null;
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const writer = writable.getWriter();
    this.streams.add(writer);
    writer.closed.catch(() => this.streams.delete(writer));
    // A comment line first, so the client sees the stream open at once.
    void writer.write(new TextEncoder().encode(": stream open\n\n")).catch(() => this.streams.delete(writer));
    return readable;
  }

  /** Ends the session (DELETE); false when there was none. */
  async terminate(principal: Principal, request: CallerRequest): Promise<boolean> {
    const context = await this.ownedBy(principal);
    if (!context) return false;
    const config = this.config();
    // Upstream sessions end in the background: the agent's DELETE does not wait on upstreams.
    const apps = await this.sessionApps(config, context, request, { notify: () => undefined }, async () => undefined);
    this.ctx.waitUntil(apps.closeAll());
    await this.erase("terminated by client", config);
    return true;
  }

  /**
   * Ends the session because a revoked token of its principal and grant was presented on it
   * (docs/auth/grants-and-admin.md, "At the gateway"): as on DELETE, and logged as
   * `mcp.session.revoked`, so that no later token, even the same person's agent authorized
   * again, resumes what the revoked grant opened. Its upstream sessions close with what the
   * session still holds (cached exchanged tokens); the revoked token exchanges nothing.
   */
  async endRevoked(principal: Principal): Promise<boolean> {
    const context = await this.ownedBy(principal);
    if (!context) return false;
    const config = this.config();
    const request: CallerRequest = { subjectToken: "", http: { method: "DELETE", path: "", headers: {} }, claims: {} };
    const apps = await this.sessionApps(config, context, request, { notify: () => undefined }, async () => undefined);
    log("warn", "mcp.session.revoked", {
      session_id: context.id,
      user: context.principal.sub,
      agent: context.principal.clientId,
      ...(context.principal.grant ? { grant: context.principal.grant } : {}),
    });
    await this.erase("token revoked", config);
    this.ctx.waitUntil(apps.closeAll());
    return true;
  }

  override async alarm(): Promise<void> {
    const context = await this.load();
    if (!context) return;
    const config = this.config();
    // A call in flight is activity: idleness starts when it ends (and its end sets the alarm anew).
    const due = (this.inFlight > 0 ? Date.now() : context.lastActiveAt) + idleTimeoutMs(config);
    if (Date.now() < due) return void (await this.ctx.storage.setAlarm(due));
    // As on DELETE, the upstream sessions end too: after the session is gone (a request arriving
    // now gets 404), with cached tokens or ones exchanged from the agent's last token while this
    // process still holds it; an app that cannot be closed is logged (SessionApps.closeAll).
    const request: CallerRequest = this.lastCaller ?? {
      subjectToken: "",
      http: { method: "DELETE", path: "", headers: {} },
      claims: {},
    };
    const apps = await this.sessionApps(config, context, request, { notify: () => undefined }, async () => undefined);
    await this.erase("idle timeout", config);
    await apps.closeAll();
  }

  /**
   * The session's subscriptions as its view of the apps records them: each change sets what the
   * session wants of the upstream listeners (one per app with a subscribed URI).
   */
  private subscriptions(): SessionSubscriptions {
    const subscribed = this.subscribed;
    const changed = () => {
      const wants = new Map<AppConfig, Set<string>>();
      for (const [uri, app] of subscribed) wants.set(app, (wants.get(app) ?? new Set()).add(uri));
      this.upstream.set("session", wants);
    };
    return {
      has: (uri) => subscribed.has(uri),
      get size() {
        return subscribed.size;
      },
      added: (app, uri) => {
        subscribed.set(uri, app);
        changed();
      },
      removed: (uri) => {
        if (subscribed.delete(uri)) changed();
      },
    };
  }

  /**
   * The agent cancelled one of its requests in flight (MCP 2025-11-25 basic/utilities/cancellation:
   * the receiver SHOULD stop): its upstream operations stop and each upstream is told. An unknown
   * or finished id is ignored, as the spec asks.
   */
  private cancel(context: SessionContext, requestId: unknown): void {
    if (typeof requestId !== "string" && typeof requestId !== "number") return;
    const controller = this.cancellable.get(JSON.stringify(requestId));
    if (!controller || controller.signal.aborted) return;
    log("info", "mcp.request_cancelled", { session_id: context.id });
    controller.abort(new RequestCancelled());
  }

  private async sessionApps(
    config: GatewayConfig,
    context: SessionContext,
    request: CallerRequest,
    events: SessionEvents,
    persist: () => Promise<void>,
    extra: { subscriptions?: SessionSubscriptions; cancellation?: () => AbortSignal | undefined } = {},
  ): Promise<SessionApps> {
    const { principal } = context;
    const admitToolCall = this.budgets.admitter(config, () => this.principalLimits(principal));
    return new SessionApps({
      env: this.env,
      config,
      sessionId: context.id,
      sessionCreatedAt: context.createdAt,
      principal,
      subjectToken: request.subjectToken,
      ...(request.traceparent ? { traceparent: request.traceparent } : {}),
      http: request.http,
      claims: request.claims,
      state: await this.apps.load(),
      audit: (event) => this.audit.record(event, config.provider.audit.sink),
      ...(admitToolCall ? { admitToolCall } : {}),
      events,
      clientCapabilities: (context.client.capabilities ?? {}) as Record<string, unknown>,
      agentEra: "legacy",
      persist,
      ...extra,
    });
  }

  /** The principal's own object (durable-objects/principal-limits.ts), through its RPC seam. */
  private principalLimits(principal: Principal) {
    return this.env.PRINCIPAL_LIMITS.get(this.env.PRINCIPAL_LIMITS.idFromName(principalKey(principal)));
  }

  /** The session was active: its principal's slot runs on (best effort; the lease covers a lost renewal until the next). */
  private async renewLease(context: SessionContext, config: GatewayConfig): Promise<void> {
    if (config.provider.limits.sessionsPerPrincipal <= 0) return;
    try {
      await this.principalLimits(context.principal).renewSession(context.id, leaseMs(config));
    } catch (err) {
      log("warn", "mcp.principal_limits_failed", {
        session_id: context.id,
        operation: "renew",
        error: err instanceof Error ? err.message : "error",
      });
    }
  }

  private async ownedBy(principal: Principal): Promise<SessionContext | null> {
    const context = await this.load();
    return context && samePrincipal(context.principal, principal) ? context : null;
  }

  private async load(): Promise<SessionContext | null> {
    if (this.context === undefined) {
      this.context = (await this.ctx.storage.get<SessionContext>(CONTEXT_KEY)) ?? null;
      this.leasedAt = this.context?.lastActiveAt ?? 0;
    }
    return this.context;
  }

  /** Persists the context and pushes the idle-timeout alarm forward. */
  private async save(context: SessionContext, config: GatewayConfig): Promise<void> {
    this.context = context;
    await this.ctx.storage.put(CONTEXT_KEY, context);
    await this.ctx.storage.setAlarm(context.lastActiveAt + idleTimeoutMs(config));
  }

  private async erase(reason: string, config: GatewayConfig): Promise<void> {
    const id = this.context?.id;
    this.lastCaller = undefined;
    const principal = this.context?.principal;
    for (const writer of this.streams) writer.close().catch(() => undefined);
    this.streams.clear();
    this.subscribed.clear();
    this.latestApps = undefined;
    await this.upstream.stopAll();
    this.context = null;
    this.apps.forget();
    await this.ctx.storage.deleteAlarm();
    await this.audit.handOver(config.provider.audit.sink);
    await this.ctx.storage.deleteAll();
    telemetryMetrics().sessionsActive.add(-1);
    log("info", "mcp.session.ended", { session_id: id, reason });
    // The slot is free at once; should this fail, the lease runs out by itself.
    if (id && principal && config.provider.limits.sessionsPerPrincipal > 0) {
      await this.principalLimits(principal)
        .releaseSession(id)
        .catch((err: unknown) =>
          log("warn", "mcp.principal_limits_failed", {
            session_id: id,
            operation: "release",
            error: err instanceof Error ? err.message : "error",
          }),
        );
    }
  }

  /** A notification for every open server-to-client stream of the session (GET). */
  private notify(method: string, params?: unknown): void {
    const message = { jsonrpc: "2.0", method, ...(params === undefined ? {} : { params }) };
    const frame = new TextEncoder().encode(`event: message\ndata: ${JSON.stringify(message)}\n\n`);
    for (const writer of this.streams) writer.write(frame).catch(() => this.streams.delete(writer));
  }

  private config(): GatewayConfig {
    return loadObjectConfig(this.env);
  }
}

function idleTimeoutMs(config: GatewayConfig): number {
  return config.provider.transports.stream.session.timeout;
}

/**
 * How stale the stored time of last activity may get: the idle alarm reads the in-memory time
 * while the object lives, so only an object evicted and then left idle ends early, by at most
 * this much (a tenth of the timeout, at most a minute).
 */
function activityWriteInterval(config: GatewayConfig): number {
  return Math.min(60_000, idleTimeoutMs(config) / 10);
}

/**
 * How long a session's slot is held without a renewal: the idle timeout, plus the time its
 * stored activity may lag behind (activityWriteInterval), so a live session never loses it
 * while one that vanished without ending frees it soon after it would have timed out.
 */
function leaseMs(config: GatewayConfig): number {
  return idleTimeoutMs(config) + activityWriteInterval(config);
}

/** Tools always; prompts and resources when an MCP Proxy app can supply them. */
function capabilities(config: GatewayConfig): Record<string, unknown> {
  const proxies = config.apps.some((app) => app.type === "mcpProxy");
  // list_changed is relayed from MCP Proxy upstreams to the agent's GET stream.
  return {
    tools: { listChanged: proxies },
    ...(proxies
      ? {
          prompts: { listChanged: true },
          resources: { listChanged: true, subscribe: true },
          logging: {},
          completions: {},
        }
      : {}),
  };
}
