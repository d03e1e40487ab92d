// One Durable Object per MCP session (README "The MCP endpoint"): platform routing by Mcp-Session-Id replaces
// the sticky load balancer, and the context lives in the object's own SQLite-backed storage so
// it survives eviction, restarts and the loss of the process serving it.
import { DurableObject } from "cloudflare:workers";
import { loadGatewayConfig, type GatewayConfig, type GatewayEnv } from "../src/gateway/config.js";
import { emptyAppsState, SessionApps, type AppsState, type SessionAppsDeps } from "../src/gateway/apps/session-apps.js";
import { writeAuditEvent, type AuditEvent } from "../src/gateway/audit.js";
import { appendToOutbox, droppedBeforeOutbox } from "./audit-outbox.js";
import { CallBudget, type ToolCallAdmission } from "../src/gateway/call-budget.js";
import { ErrorCode } from "@modelcontextprotocol/sdk/types.js";
import { ConfigError, JsonRpcError } from "../src/core/errors.js";
import { log } from "../src/core/log.js";
import { telemetryMetrics } from "../src/core/telemetry/metrics.js";
import { flushTelemetry, setupTelemetry } from "../src/core/telemetry/telemetry.js";
import { traceRequest } from "../src/gateway/mcp/request-telemetry.js";
import { principalKey, samePrincipal, type Principal } from "../src/gateway/auth/principal.js";
import type { CallerRequest } from "../src/gateway/mcp/caller-request.js";
import { isNotification, isRequest, isResponse, type JSONRPCMessage, type JSONRPCRequest } from "../src/gateway/mcp/messages.js";
import { RelayedRequests } from "../src/gateway/mcp/relayed-requests.js";
import { MAX_REPLY_BYTES, serializedSize } from "../src/gateway/mcp/rpc-limits.js";
import { answerRequest, applyNotification, errorMessage, startSession, type InitializeParams, type SessionContext } from "../src/gateway/mcp/session-methods.js";

const CONTEXT_KEY = "context";
const APPS_KEY = "apps";
/** Audit events stored with the reply that produced them, until the audit outbox holds them (by event id). */
const AUDIT_PREFIX = "audit:";
/** When the principal's object could not be asked: how soon to try again. */
const UNAVAILABLE_RETRY_MS = 5_000;

/** Why no session was created: the principal holds every session it may, or that could not be checked. */
export interface SessionRefusal {
  refused: "sessionsPerPrincipal" | "unavailable";
  limit: number;
  retryAfterMs: number;
}

/** What opening a session came to: the reply to initialize, or why no session was created. */
export interface OpenResult {
  reply?: JSONRPCMessage;
  refusal?: SessionRefusal;
}

export class McpSession extends DurableObject<GatewayEnv> {
  /** In-memory copy of the stored context; `undefined` until loaded, `null` when there is none. */
  private context: SessionContext | null | undefined;
  /** In-memory copy of the apps' session state (upstream sessions, exchanged tokens, catalog). */
  private apps: AppsState | undefined;
  /** The apps' state as last written (JSON): a write that would change nothing is skipped. */
  private storedApps: string | undefined;
  /** `lastActiveAt` as last written; activity is written at most once per activityWriteInterval(). */
  private storedActiveAt = 0;
  /** The move of stored audit events to the outbox under way, if any (one at a time). */
  private auditForwarding: Promise<boolean> | undefined;
  /** Counts audit events stored, so that a move that found nothing knows whether one came meanwhile. */
  private auditStored = 0;
  /** The session's tool call budget, when the configuration sets one (in memory: see CallBudget). */
  private budget: CallBudget | undefined;
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

  constructor(ctx: DurableObjectState, env: GatewayEnv) {
    super(ctx, env);
    // Audit events a lost runtime left stored here go on to the outbox as soon as the object runs again.
    const loaded = loadGatewayConfig(env);
    if (loaded.ok && loaded.config.provider.audit.sink) ctx.waitUntil(this.forwardAudit());
  }

  /**
   * Creates the session from its `initialize` request and returns the reply; or, when its
   * principal already holds every session it may (mcpProvider.limits.sessionsPerPrincipal), or
   * the principal's object cannot say whether it does (fail closed), why not, and nothing is
   * created.
   */
  async open(sessionId: string, requestId: JSONRPCRequest["id"], params: InitializeParams, principal: Principal): Promise<OpenResult> {
    if (await this.load()) throw new Error(`session ${sessionId} already exists`);
    const limit = this.config().provider.limits.sessionsPerPrincipal;
    if (limit > 0) {
      try {
        const grant = await this.principalLimits(principal).acquireSession(sessionId, limit, this.leaseMs());
        if (!grant.granted) return { refusal: { refused: "sessionsPerPrincipal", limit, retryAfterMs: grant.retryAfterMs } };
      } catch (err) {
        log("error", "mcp.principal_limits_failed", { session_id: sessionId, operation: "acquire", error: err instanceof Error ? err.message : "error" });
        return { refusal: { refused: "unavailable", limit, retryAfterMs: UNAVAILABLE_RETRY_MS } };
      }
    }
    const { context, reply } = startSession(sessionId, requestId, params, principal, this.capabilities(), Date.now());
    await this.save(context);
    telemetryMetrics().sessionsCreated.add(1);
    telemetryMetrics().sessionsActive.add(1);
    log("info", "mcp.session.created", {
      session_id: sessionId,
      protocol_version: context.protocolVersion,
      user: principal.sub,
      agent: principal.clientId,
    });
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
    options: { relay: boolean; onEvent?: (message: JSONRPCMessage) => unknown },
  ): Promise<JSONRPCMessage[] | null> {
    const context = await this.ownedBy(principal);
    if (!context) return null;
    for (const message of messages) if (isResponse(message)) this.relayed.answer(message);
    const onEvent = options.onEvent;
    let delivered: Promise<unknown> = Promise.resolve();
    // An agent that went away must not stop the work: the session state is still saved.
    const send = (message: JSONRPCMessage) => {
      if (onEvent) delivered = delivered.then(() => onEvent(message)).catch(() => undefined);
    };
    const apps = await this.sessionApps(context, principal, request, {
      persist: () => this.persistApps(),
      relay: (method, params) => send({ jsonrpc: "2.0", method, ...(params === undefined ? {} : { params: params as Record<string, unknown> }) }),
      ...(options.relay ? { serverRequest: (method: string, params: unknown, signal: AbortSignal) => this.relayed.ask(send, method, params, signal) } : {}),
      clientCapabilities: (context.client.capabilities ?? {}) as Record<string, unknown>,
    });
    const replies: JSONRPCMessage[] = [];
    const wasInitialized = context.initialized;
    this.lastCaller = request;
    this.inFlight++;
    // The replies go back over the runtime's RPC, which refuses a call beyond 32 MiB whole.
    let room = MAX_REPLY_BYTES;
    try {
      for (const message of messages) {
        if (isRequest(message)) {
          const reply = await traceRequest(context.id, message, request.traceparent, () => this.answer(context, message, apps));
          const size = serializedSize(reply);
          if (size <= room) {
            room -= size;
            replies.push(reply);
          } else {
            log("warn", "mcp.reply_too_large", { session_id: context.id, method: message.method, bytes: size });
            replies.push(errorMessage(message.id, new JsonRpcError(ErrorCode.InternalError, "Internal error: the answer is larger than the gateway passes on")));
          }
        } else if (isNotification(message)) applyNotification(context, message);
      }
    } finally {
      this.inFlight--;
      context.lastActiveAt = Date.now();
      // A tool call on a warm session changes nothing worth a write but the time of activity.
      const changed = context.initialized !== wasInitialized || context.lastActiveAt - this.storedActiveAt >= this.activityWriteInterval();
      // After the replies have left: a write started before them would hold them until it
      // commits (the object's output gate), and nothing in the replies depends on these.
      const bookkeeping = new Promise((resolve) => setTimeout(resolve, 0))
        .then(() => Promise.all([changed ? this.save(context) : undefined, changed ? this.renewLease(context) : undefined, this.persistApps()]))
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
      log("error", "mcp.request_failed", { session_id: context.id, method: message.method, error: err instanceof Error ? err.name : "error" });
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
    // Upstream sessions end in the background: the agent's DELETE does not wait on upstreams.
    const apps = await this.sessionApps(context, principal, request, { persist: async () => undefined });
    this.ctx.waitUntil(apps.closeAll());
    await this.erase("terminated by client");
    return true;
  }

  private async sessionApps(
    context: SessionContext,
    principal: Principal,
    request: CallerRequest,
    hooks: Pick<SessionAppsDeps, "persist" | "relay" | "serverRequest" | "clientCapabilities">,
  ): Promise<SessionApps> {
    return new SessionApps({
      env: this.env,
      config: this.config(),
      sessionId: context.id,
      sessionCreatedAt: context.createdAt,
      principal,
      subjectToken: request.subjectToken,
      ...(request.traceparent ? { traceparent: request.traceparent } : {}),
      http: request.http,
      claims: request.claims,
      state: await this.appsState(),
      audit: (event) => this.audit(event),
      ...this.callBudget(principal),
      notify: (method, params) => this.notify(method, params),
      ...hooks,
    });
  }

  /**
   * The tool call budgets that apply: the session's own (in memory), then its principal's (in the
   * principal's object). A call the principal's budget refuses is given back to the session's.
   * When the principal's object cannot be asked, the call is refused (fail closed): a limit an
   * outage lifts is no limit, and the outage only touches that one principal.
   */
  private callBudget(principal: Principal): Pick<SessionAppsDeps, "admitToolCall"> {
    const { toolCallsPerSession, toolCallsPerPrincipal } = this.config().provider.limits;
    if (!toolCallsPerSession && !toolCallsPerPrincipal) return {};
    if (toolCallsPerSession) this.budget ??= new CallBudget(toolCallsPerSession, Date.now());
    const session = this.budget;
    return {
      admitToolCall: async (): Promise<ToolCallAdmission> => {
        if (toolCallsPerSession && session) {
          const admission = session.admit(Date.now());
          if (!admission.admitted) return { admitted: false, budget: "toolCallsPerSession", retryAfterMs: admission.retryAfterMs };
        }
        if (!toolCallsPerPrincipal) return { admitted: true };
        let admission;
        try {
          admission = await this.principalLimits(principal).admitToolCall(toolCallsPerPrincipal);
        } catch (err) {
          log("error", "mcp.principal_limits_failed", { session_id: this.context?.id, operation: "admit", error: err instanceof Error ? err.message : "error" });
          session?.refund();
          return { admitted: false, budget: "unavailable", retryAfterMs: UNAVAILABLE_RETRY_MS };
        }
        if (admission.admitted) return admission;
        session?.refund();
        return { admitted: false, budget: "toolCallsPerPrincipal", retryAfterMs: admission.retryAfterMs };
      },
    };
  }

  /** The principal's own object (durable-objects/principal-limits.ts). */
  private principalLimits(principal: Principal) {
    return this.env.PRINCIPAL_LIMITS.get(this.env.PRINCIPAL_LIMITS.idFromName(principalKey(principal)));
  }

  /**
   * How long a session's slot is held without a renewal: the idle timeout, plus the time its
   * stored activity may lag behind (activityWriteInterval), so a live session never loses it
   * while one that vanished without ending frees it soon after it would have timed out.
   */
  private leaseMs(): number {
    return this.idleTimeoutMs() + this.activityWriteInterval();
  }

  /** The session was active: its principal's slot runs on (best effort; the lease covers a lost renewal until the next). */
  private async renewLease(context: SessionContext): Promise<void> {
    if (this.config().provider.limits.sessionsPerPrincipal <= 0) return;
    try {
      await this.principalLimits(context.principal).renewSession(context.id, this.leaseMs());
    } catch (err) {
      log("warn", "mcp.principal_limits_failed", { session_id: context.id, operation: "renew", error: err instanceof Error ? err.message : "error" });
    }
  }

  override async alarm(): Promise<void> {
    const context = await this.load();
    if (!context) return;
    // A call in flight is activity: idleness starts when it ends (and its end sets the alarm anew).
    const due = this.inFlight > 0 ? Date.now() + this.idleTimeoutMs() : context.lastActiveAt + this.idleTimeoutMs();
    if (Date.now() < due) return void (await this.ctx.storage.setAlarm(due));
    // As on DELETE, the upstream sessions end too: after the session is gone (a request arriving
    // now gets 404), with cached tokens or ones exchanged from the agent's last token while this
    // process still holds it; an app that cannot be closed is logged (SessionApps.closeAll).
    const request: CallerRequest = this.lastCaller ?? { subjectToken: "", http: { method: "DELETE", path: "", headers: {} }, claims: {} };
    const apps = await this.sessionApps(context, context.principal, request, { persist: async () => undefined });
    await this.erase("idle timeout");
    await apps.closeAll();
  }

  private async ownedBy(principal: Principal): Promise<SessionContext | null> {
    const context = await this.load();
    return context && samePrincipal(context.principal, principal) ? context : null;
  }

  private async load(): Promise<SessionContext | null> {
    if (this.context === undefined) {
      this.context = (await this.ctx.storage.get<SessionContext>(CONTEXT_KEY)) ?? null;
      this.storedActiveAt = this.context?.lastActiveAt ?? 0;
    }
    return this.context;
  }

  /** Persists the context and pushes the idle-timeout alarm forward. */
  private async save(context: SessionContext): Promise<void> {
    this.context = context;
    this.storedActiveAt = context.lastActiveAt;
    await this.ctx.storage.put(CONTEXT_KEY, context);
    await this.ctx.storage.setAlarm(context.lastActiveAt + this.idleTimeoutMs());
  }

  private async erase(reason: string): Promise<void> {
    const id = this.context?.id;
    this.lastCaller = undefined;
    const principal = this.context?.principal;
    for (const writer of this.streams) writer.close().catch(() => undefined);
    this.streams.clear();
    this.context = null;
    this.apps = undefined;
    this.storedApps = undefined;
    await this.ctx.storage.deleteAlarm();
    await this.handOverAudit();
    await this.ctx.storage.deleteAll();
    telemetryMetrics().sessionsActive.add(-1);
    log("info", "mcp.session.ended", { session_id: id, reason });
    // The slot is free at once; should this fail, the lease runs out by itself.
    if (id && principal && this.config().provider.limits.sessionsPerPrincipal > 0) {
      await this.principalLimits(principal)
        .releaseSession(id)
        .catch((err: unknown) => log("warn", "mcp.principal_limits_failed", { session_id: id, operation: "release", error: err instanceof Error ? err.message : "error" }));
    }
  }

  private notify(method: string, params?: unknown): void {
    const message = { jsonrpc: "2.0", method, ...(params === undefined ? {} : { params }) };
    const frame = new TextEncoder().encode(`event: message\ndata: ${JSON.stringify(message)}\n\n`);
    for (const writer of this.streams) writer.write(frame).catch(() => this.streams.delete(writer));
  }

  /**
   * The worker log, and the sink through the audit outbox (README "Audit"). The event is stored
   * here first, in the same step as the reply (the output gate holds the reply until the write is
   * durable, with no extra round trip), then moved to the outbox in the background.
   */
  private audit(event: AuditEvent): void {
    writeAuditEvent(event);
    if (!this.config().provider.audit.sink) return;
    this.auditStored++;
    void this.ctx.storage.put(`${AUDIT_PREFIX}${event.id}`, event);
    this.ctx.waitUntil(this.forwardAudit());
  }

  /** Moves stored audit events to the outbox, deleting each here once the outbox holds it; true when none is left. */
  private forwardAudit(): Promise<boolean> {
    if (!this.auditForwarding) {
      const run: Promise<boolean> = this.moveAudit().finally(() => {
        if (this.auditForwarding === run) this.auditForwarding = undefined;
      });
      this.auditForwarding = run;
    }
    return this.auditForwarding;
  }

  private async moveAudit(): Promise<boolean> {
    try {
      const sink = this.config().provider.audit.sink;
      for (;;) {
        const seen = this.auditStored;
        const stored = await this.ctx.storage.list<AuditEvent>({ prefix: AUDIT_PREFIX, limit: 100 });
        if (stored.size === 0) {
          if (seen !== this.auditStored) continue;
          return true;
        }
        const events = [...stored.values()];
        // Kept here on failure: the next event, the next start of this object or the session's end tries again.
        if (!sink || !(await appendToOutbox(this.env, sink, events[0]!.session_id, events))) return false;
        await this.ctx.storage.delete([...stored.keys()]);
      }
    } catch (err) {
      log("error", "audit.forward_failed", { error: err instanceof Error ? err.message : "error" });
      return false;
    }
  }

  /** Before the session's storage is erased: its audit events go to the outbox, or are logged and counted as dropped. */
  private async handOverAudit(): Promise<void> {
    if (await this.forwardAudit()) return;
    const left = await this.ctx.storage.list<AuditEvent>({ prefix: AUDIT_PREFIX });
    if (left.size) droppedBeforeOutbox([...left.values()]);
  }

  private async appsState(): Promise<AppsState> {
    if (!this.apps) {
      this.apps = (await this.ctx.storage.get<AppsState>(APPS_KEY)) ?? emptyAppsState();
      this.storedApps = JSON.stringify(this.apps);
    }
    return this.apps;
  }

  /** Writes the apps' state when it differs from what is stored (a fresh token, a new upstream session). */
  private async persistApps(): Promise<void> {
    if (!this.apps) return;
    const json = JSON.stringify(this.apps);
    if (json === this.storedApps) return;
    this.storedApps = json;
    await this.ctx.storage.put(APPS_KEY, this.apps);
  }

  /**
   * How stale the stored time of last activity may get: the idle alarm reads the in-memory time
   * while the object lives, so only an object evicted and then left idle ends early, by at most
   * this much (a tenth of the timeout, at most a minute).
   */
  private activityWriteInterval(): number {
    return Math.min(60_000, this.idleTimeoutMs() / 10);
  }

  /** Tools always; prompts and resources when an MCP Proxy app can supply them. */
  private capabilities(): Record<string, unknown> {
    const proxies = this.config().apps.some((app) => app.type === "mcpProxy");
    // list_changed is relayed from MCP Proxy upstreams to the agent's GET stream.
    return {
      tools: { listChanged: proxies },
      ...(proxies ? { prompts: { listChanged: true }, resources: { listChanged: true, subscribe: true }, logging: {}, completions: {} } : {}),
    };
  }

  private config(): GatewayConfig {
    const loaded = loadGatewayConfig(this.env);
    if (!loaded.ok) throw new ConfigError("gateway", loaded.issues);
    // A Durable Object may run in an isolate where the front never did: set telemetry up here too.
    setupTelemetry("ai-identity-gateway", loaded.config.provider.observability, loaded.config.secrets);
    return loaded.config;
  }

  private idleTimeoutMs(): number {
    return this.config().provider.transports.stream.session.timeout;
  }
}
