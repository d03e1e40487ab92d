// One Durable Object per principal (issuer + user + agent, principalKey()) for MCP 2026-07-28
// requests (docs/architecture.md, docs/mcp-endpoint.md). That revision has no sessions, so what a
// session holds for its apps lives here instead, per principal: the exchanged-token cache (a burst
// of calls costs one exchange per tool token lifetime), the upstream sessions held with
// session-based upstreams, the catalog and which app serves which resource. Platform routing by
// principal replaces the sticky load balancer as routing by session id does for McpSession.
//
// Multi round-trip requests (basic/patterns/mrtr; docs/mcp-endpoint.md) meet here too: retries
// are checked against the gateway's signed state (mcp/request-state.ts) before anything runs, and
// a session-based upstream's call that asks for input is held in this object between the agent's
// rounds (held-calls.ts).
//
// Its `subscriptions/listen` streams live here too, in memory: the URIs of their
// `resourceSubscriptions` are subscribed through the call pipeline and hold their apps' upstream
// listeners (upstream-listeners.ts; docs/mcp-endpoint.md, "Resource updates") while a stream wants
// them; a stream the context tears down hears `notifications/cancelled` (basic/patterns/cancellation).
//
// It reuses the session's view of the apps (session-apps.ts), its call pipeline, listings and
// audit; only the lifetime differs: the context ends after `transports.stream.session.timeout`
// without a request (an alarm), closing its upstream sessions as a session's end does.
import { ErrorCode } from "@modelcontextprotocol/sdk/types.js";
import { DurableObject } from "cloudflare:workers";
import { randomToken } from "../../core/encoding.js";
import { JsonRpcError } from "../../core/errors.js";
import { log } from "../../core/log.js";
import { flushTelemetry } from "../../core/telemetry/telemetry.js";
import { candidateApp } from "../apps/catalog.js";
import { MAX_REQUESTS } from "../apps/input-required.js";
import { RequestCancelled } from "../apps/upstream-error.js";
import type { AppConfig } from "../apps-schema.js";
import { principalKey, samePrincipal, type Principal } from "../auth/principal.js";
import { loadGatewayConfig, loadObjectConfig, type GatewayConfig } from "../config.js";
import type { GatewayEnv } from "../env.js";
import type { JSONRPCMessage, JSONRPCRequest } from "../mcp/messages.js";
import { checkParamHeaders, paramHeadersOf, type ParamHeader } from "../mcp/modern-headers.js";
import {
  answerModernRequest,
  CLIENT_CAPABILITIES_META,
  listenWants,
  LOG_LEVEL_META,
  logPasses,
  SERVER_INFO_META,
  SUBSCRIPTION_ID_META,
  type ListenFilter,
} from "../mcp/modern-methods.js";
import { modernAnswerOptions } from "../mcp/modern-options.js";
import { MODERN_PROTOCOL_VERSIONS, SERVER_INFO } from "../mcp/protocol.js";
import { invalidState, RequestStateCodec, stateSecret, type StatePayload } from "../mcp/request-state.js";
import { traceRequest } from "../mcp/request-telemetry.js";
import { MAX_REPLY_BYTES, serializedSize } from "../mcp/rpc-limits.js";
import { errorMessage, resultMessage } from "../mcp/session-methods.js";
import type { CallerRequest, ContextRequestOptions, PrincipalContextRpc } from "../object-rpc.js";
import type { TokenCacheEntries } from "../outbound/token-cache.js";
import type { ExchangedToken } from "../outbound/token-exchange-client.js";
import { SessionCallBudgets } from "./call-budgets.js";
import { HeldCall, type HeldStep } from "./held-calls.js";
import { emptyAppsState, SessionApps, type AppsState, type SessionAppsDeps } from "./session-apps.js";
import { SessionAudit } from "./session-audit.js";
import { StoredValue } from "./stored-value.js";
import { UpstreamListeners } from "./upstream-listeners.js";

const CONTEXT_KEY = "context";
const APPS_KEY = "apps";
/** A random signing key for request state, kept only when the gateway has no secrets to derive one from. */
const STATE_KEY = "requestStateKey";
/**
 * How long a 2026-07-28 agent has to answer an `input_required` result of a modern upstream and
 * retry (docs/mcp-endpoint.md): a person may take minutes over an elicitation. A held call (a
 * session-based upstream) ends sooner, at its app's timeout.
 */
const STATE_TTL_MS = 10 * 60_000;
/**
 * The most `subscriptions/listen` streams one context holds open at once: a new one beyond it tears
 * down the oldest (with `notifications/cancelled`), so an agent cannot pile up streams and the
 * upstream listeners they hold.
 */
export const MAX_LISTEN_STREAMS = 8;
/** The client capabilities whose requests reach an agent as `input_required` input requests. */
const INPUT_CAPABILITIES = ["elicitation", "sampling", "roots"];

/** Who the context belongs to and when it was last used; stored under "context". */
interface ContextRecord {
  /** A random id, stable for the context's lifetime: audit events and policies see it as the session id. */
  id: string;
  createdAt: number;
  lastActiveAt: number;
  principal: Principal;
}

/** What the context keeps for its apps; stored under "apps". */
interface ContextAppsState extends AppsState {
  /**
   * Exchanged tokens per grant (the scopes of the agent's token that was exchanged): several
   * tokens of one user and agent may be live at once with different scopes, and a token
   * exchanged from a broader one must never serve a narrower one.
   */
  grants: Record<string, TokenCacheEntries>;
  /** The `x-mcp-header` declarations of the tools last listed, by exposed name; absent until a listing. */
  paramHeaders?: Record<string, ParamHeader[]>;
  /** The apps that listing could not list (late or failed): their declarations are unknown. */
  paramHeadersMissing?: string[];
}

export class PrincipalContext extends DurableObject<GatewayEnv> implements PrincipalContextRpc {
  private record: ContextRecord | null | undefined;
  /** The apps' state (upstream sessions, exchanged tokens, catalog), in memory and stored. */
  private readonly apps: StoredValue<ContextAppsState>;
  private storedActiveAt = 0;
  private readonly audit: SessionAudit;
  private readonly budgets = new SessionCallBudgets(() => this.record?.id);
  /** Open subscriptions/listen streams (in memory: they end with the process, and the agent listens again), oldest first. */
  private readonly listeners = new Set<Listener>();
  /** The upstream listeners the streams' resource subscriptions hold (docs/mcp-endpoint.md, "Resource updates"). */
  private readonly upstream = new UpstreamListeners({
    deliver: (app, method, params) => this.heard(app, method, params),
  });
  /** The view of the apps of the latest request or listen stream: whose token upstream listeners exchange. */
  private latestApps: SessionApps | undefined;
  private listenSeq = 0;
  /** Exchanges under way, per grant (in memory: they live as long as the requests waiting on them). */
  private readonly inFlightExchanges = new Map<string, Map<string, Promise<ExchangedToken>>>();
  /** Requests being answered now: the idle alarm never ends the context under one. */
  private inFlight = 0;
  /** The agent's last request, for closing upstream sessions at the idle timeout (memory only, never stored). */
  private lastCaller: CallerRequest | undefined;
  /** Calls to session-based upstreams waiting for the agent's answers, by key (memory only: they end with the process). */
  private readonly heldCalls = new Map<string, HeldCall>();
  private stateCodec: Promise<RequestStateCodec> | undefined;
  /** The requests being answered that the front may cancel, by the key it chose (memory only: they end with the process). */
  private readonly cancellations = new Map<string, AbortController>();

  constructor(ctx: DurableObjectState, env: GatewayEnv) {
    super(ctx, env);
    this.apps = new StoredValue<ContextAppsState>(ctx.storage, APPS_KEY, () => ({ ...emptyAppsState(), grants: {} }));
    this.audit = new SessionAudit(ctx, env);
    const loaded = loadGatewayConfig(env);
    const sink = loaded.ok ? loaded.config.provider.audit.sink : undefined;
    if (sink) ctx.waitUntil(this.audit.forward(sink));
  }

  /**
   * One request, cancellable by `cancel(options.cancelKey)` while it runs (registered before the
   * first await, so a cancellation that follows the request on the same stub always finds it).
   */
  async request(
    message: JSONRPCRequest,
    principal: Principal,
    request: CallerRequest,
    options: ContextRequestOptions,
  ): Promise<JSONRPCMessage[]> {
    const key = options.cancelKey;
    if (key === undefined || this.cancellations.has(key)) return this.answer(message, principal, request, options);
    const cancellation = new AbortController();
    this.cancellations.set(key, cancellation);
    try {
      return await this.answer(message, principal, request, options, cancellation.signal);
    } finally {
      this.cancellations.delete(key);
    }
  }

  /**
   * The agent cancelled a request under way (MCP 2026-07-28 basic/patterns/cancellation: it closed
   * the response stream): its upstream operations stop, and the upstream is told (AppCallContext.signal).
   */
  async cancel(key: string): Promise<void> {
    const cancellation = this.cancellations.get(key);
    if (!cancellation || cancellation.signal.aborted) return;
    log("info", "mcp.request_cancelled", { session_id: this.record?.id });
    cancellation.abort(new RequestCancelled());
  }

  private async answer(
    message: JSONRPCRequest,
    principal: Principal,
    request: CallerRequest,
    options: ContextRequestOptions,
    cancelled?: AbortSignal,
  ): Promise<JSONRPCMessage[]> {
    const config = this.config();
    const record = await this.open(principal);
    const state = await this.apps.load();
    let delivered: Promise<unknown> = Promise.resolve();
    const onEvent = options.onEvent;
    let onEventClosed = false;
    const send = (event: JSONRPCMessage) => {
      if (onEvent && !onEventClosed) delivered = delivered.then(() => onEvent(event)).catch(() => undefined);
    };
    const logLevel = metaOf(message)[LOG_LEVEL_META];
    // A request that may need input (basic/patterns/mrtr): its retry is read and checked first.
    const target = inputTarget(message);
    const declared = target ? inputCapabilities(message) : {};
    let rounds: { retry?: AppCallContextRetry; round: number; held: HeldCall } | undefined;
    if (target) {
      try {
        const read = await this.readRetry(message, principal, target, declared, config);
        if ("reply" in read) return [bounded(message, read.reply, record.id)];
        rounds = read;
      } catch (err) {
        if (err instanceof JsonRpcError) return [errorMessage(message.id, err)];
        throw err;
      }
    }
    const apps = this.sessionApps(config, record, principal, request, state, {
      ...(rounds ? { clientCapabilities: declared, ...(rounds.retry ? { retry: rounds.retry } : {}) } : {}),
      audit: (event) =>
        this.audit.record({ ...event, protocol_version: options.protocolVersion }, config.provider.audit.sink),
      ...this.admitter(config, principal),
      events: {
        // Changes go to the principal's subscriptions/listen streams that asked for them.
        notify: (method, params) => this.notify(method, params),
        related: (method, params) => {
          // server/utilities/logging: no log messages unless the request asked for them.
          if (method === "notifications/message" && !logPasses(logLevel, (params as { level?: unknown })?.level))
            return;
          send({
            jsonrpc: "2.0",
            method,
            ...(params === undefined ? {} : { params: params as Record<string, unknown> }),
          });
        },
        ...(rounds ? { ask: rounds.held.relay } : {}),
      },
      persist: () => this.apps.persist(),
      ...(cancelled ? { cancellation: () => cancelled } : {}),
    });
    this.lastCaller = request;
    this.useApps(apps);
    this.inFlight++;
    try {
      const replying = traceRequest(record.id, message, request.traceparent, async () => {
        try {
          await this.checkParamHeaders(message, apps, request);
          const answered = await answerModernRequest(message, apps, modernAnswerOptions(config));
          if (message.method === "tools/list" && "result" in answered) this.rememberParamHeaders(answered.result);
          return answered;
        } catch (err) {
          if (err instanceof JsonRpcError) return errorMessage(message.id, err);
          log("error", "mcp.request_failed", {
            session_id: record.id,
            method: message.method,
            error: err instanceof Error ? err.name : "error",
          });
          return errorMessage(message.id, new JsonRpcError(ErrorCode.InternalError, "Internal error"));
        }
      });
      let reply: JSONRPCMessage;
      if (rounds && target) {
        rounds.held.run(replying);
        reply = await this.stepReply(message, await rounds.held.next(), rounds.held, principal, target, rounds.round);
        // The call lives on in this object while the agent answers; its events have nowhere to go.
        if (rounds.held.held) onEventClosed = true;
      } else reply = await replying;
      if (!onEventClosed) await delivered;
      return [bounded(message, reply, record.id)];
    } finally {
      this.inFlight--;
      record.lastActiveAt = Date.now();
      const changed = record.lastActiveAt - this.storedActiveAt >= activityWriteInterval(config);
      // After the reply has left (the output gate would hold it behind these writes).
      const bookkeeping = new Promise((resolve) => setTimeout(resolve, 0))
        .then(() => Promise.all([changed ? this.save(record, config) : undefined, this.apps.persist()]))
        .finally(() => flushTelemetry((promise) => this.ctx.waitUntil(promise)));
      this.ctx.waitUntil(bookkeeping);
    }
  }

  async listen(
    id: JSONRPCRequest["id"],
    filter: ListenFilter,
    principal: Principal,
    request: CallerRequest,
  ): Promise<ReadableStream<Uint8Array>> {
    const config = this.config();
    const record = await this.open(principal);
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const writer = writable.getWriter();
    const listener: Listener = {
      id,
      filter,
      writer,
      keepAlive: undefined,
      holder: `listen-${++this.listenSeq}`,
      resources: new Set(),
      acknowledged: false,
    };
    const end = () => this.forget(listener);
    this.listeners.add(listener);
    writer.closed.then(end, end);
    // Beyond the limit, the oldest stream gives way, told so (basic/patterns/cancellation).
    for (const oldest of this.listeners) {
      if (this.listeners.size <= MAX_LISTEN_STREAMS) break;
      this.tearDown(oldest, `at most ${MAX_LISTEN_STREAMS} subscriptions/listen streams are held per agent`);
    }
    this.lastCaller = request;
    // transports/streamable-http: a comment line now and then keeps intermediaries from closing it.
    const comment = new TextEncoder().encode(":\n\n");
    listener.keepAlive = setInterval(() => void writer.write(comment).catch(end), keepAliveMs(config));
    // The URIs are subscribed before the acknowledgment, which names those honoured; the stream is
    // already the agent's, so a slow upstream delays the acknowledgment, not the response.
    this.ctx.waitUntil(this.acknowledge(listener, config, record, principal, request));
    return readable;
  }

  /**
   * basic/patterns/subscriptions, "Acknowledgment": first, before any notification, with the
   * part of the filter honoured. Each URI of `resourceSubscriptions` is subscribed as a 2025-era
   * agent's resources/subscribe is (policy, audit, upstream; SessionApps.subscribeAll); a URI
   * refused is left out, and the rest hold their apps' upstream listeners while the stream lives.
   */
  private async acknowledge(
    listener: Listener,
    config: GatewayConfig,
    record: ContextRecord,
    principal: Principal,
    request: CallerRequest,
  ): Promise<void> {
    const { resourceSubscriptions: uris, ...lists } = listener.filter;
    const honoured: ListenFilter = { ...lists };
    if (uris) {
      let granted = new Map<AppConfig, Set<string>>();
      try {
        const state = await this.apps.load();
        const apps = this.sessionApps(config, record, principal, request, state, {
          // Each subscription's audit event names the era it came in, as a request's does.
          audit: (event) =>
            this.audit.record({ ...event, protocol_version: MODERN_PROTOCOL_VERSIONS[0] }, config.provider.audit.sink),
          events: { notify: (method, params) => this.notify(method, params) },
          persist: () => this.apps.persist(),
        });
        this.useApps(apps);
        granted = await apps.subscribeAll(uris);
      } catch (err) {
        log("warn", "mcp.listen_subscribe_failed", {
          session_id: record.id,
          error: err instanceof Error ? err.message : "error",
        });
      }
      for (const set of granted.values()) for (const uri of set) listener.resources.add(uri);
      honoured.resourceSubscriptions = uris.filter((uri) => listener.resources.has(uri));
      // Not for a stream the agent closed meanwhile: that would hold listeners nobody reads.
      if (this.listeners.has(listener)) this.upstream.set(listener.holder, granted);
    }
    this.write(listener, {
      jsonrpc: "2.0",
      method: "notifications/subscriptions/acknowledged",
      params: { _meta: { [SUBSCRIPTION_ID_META]: listener.id }, notifications: honoured },
    });
    listener.acknowledged = true;
  }

  /** The latest request's view of the apps: upstream listeners exchange its agent's token from now on. */
  private useApps(apps: SessionApps): void {
    this.latestApps = apps;
    this.upstream.use({ context: (app, fresh) => apps.listenContext(app, fresh) });
  }

  /** An app's upstream listener heard something: a list change as one heard during a call, an update for its listeners. */
  private heard(app: AppConfig, method: string, params: Record<string, unknown>): void {
    if (this.latestApps) this.latestApps.heard(app, method, params);
    else this.notify(method, params);
  }

  /**
   * The context tears a stream down: `notifications/cancelled` naming its `subscriptions/listen`
   * request, as basic/patterns/cancellation requires of a server, then the stream ends.
   */
  private tearDown(listener: Listener, reason: string): void {
    this.write(listener, {
      jsonrpc: "2.0",
      method: "notifications/cancelled",
      params: { requestId: listener.id, reason, _meta: { [SUBSCRIPTION_ID_META]: listener.id } },
    });
    this.forget(listener);
    listener.writer.close().catch(() => undefined);
  }

  /** A stream ended: its keep-alive and its hold on upstream listeners go. */
  private forget(listener: Listener): void {
    stopKeepAlive(listener);
    if (!this.listeners.delete(listener)) return;
    this.upstream.drop(listener.holder);
  }

  /** A change: every listener that opted into it hears it, under its own subscription id, once acknowledged. */
  private notify(method: string, params?: unknown): void {
    for (const listener of this.listeners) {
      if (!listener.acknowledged || !listenWants(listener.filter, method, params, listener.resources)) continue;
      const own = typeof params === "object" && params !== null ? (params as Record<string, unknown>) : {};
      this.write(listener, {
        jsonrpc: "2.0",
        method,
        params: { ...own, _meta: { [SUBSCRIPTION_ID_META]: listener.id } },
      });
    }
  }

  private write(listener: Listener, message: JSONRPCMessage): void {
    const frame = new TextEncoder().encode(`event: message\ndata: ${JSON.stringify(message)}\n\n`);
    listener.writer.write(frame).catch(() => this.forget(listener));
  }

  override async alarm(): Promise<void> {
    const record = await this.load();
    if (!record) return;
    const config = this.config();
    // A request in flight or an open listen stream is activity: the context lives on.
    const busy = this.inFlight > 0 || this.listeners.size > 0;
    const due = (busy ? Date.now() : record.lastActiveAt) + idleTimeoutMs(config);
    if (Date.now() < due) return void (await this.ctx.storage.setAlarm(due));
    // As a session's end does: the upstream sessions close, with cached tokens or ones exchanged
    // from the agent's last token while this process still holds it (SessionApps.closeAll).
    const request: CallerRequest = this.lastCaller ?? {
      subjectToken: "",
      http: { method: "DELETE", path: "", headers: {} },
      claims: {},
    };
    const state = await this.apps.load();
    const apps = this.sessionApps(config, record, record.principal, request, state, {
      audit: (event) => this.audit.record(event, config.provider.audit.sink),
      events: { notify: () => undefined },
      persist: async () => undefined,
    });
    await this.erase(config);
    await apps.closeAll();
  }

  /**
   * The session's view of the apps (session-apps.ts), over this context: its id stands for the
   * session id, and exchanged tokens come from the cache of the caller's grant.
   */
  private sessionApps(
    config: GatewayConfig,
    record: ContextRecord,
    principal: Principal,
    request: CallerRequest,
    state: ContextAppsState,
    rest: Pick<
      SessionAppsDeps,
      "audit" | "events" | "persist" | "admitToolCall" | "retry" | "clientCapabilities" | "cancellation"
    >,
  ): SessionApps {
    const grant = [...principal.scopes].sort().join(" ");
    return new SessionApps({
      env: this.env,
      config,
      sessionId: record.id,
      sessionCreatedAt: record.createdAt,
      principal,
      subjectToken: request.subjectToken,
      ...(request.traceparent ? { traceparent: request.traceparent } : {}),
      http: request.http,
      claims: request.claims,
      state,
      tokenCache: {
        entries: (state.grants[grant] ??= {}),
        save: (entries) => (state.grants[grant] = entries),
        inFlight: this.exchanges(grant),
      },
      // What the request declared, for the requests that may need input (readRetry); none otherwise.
      clientCapabilities: {},
      agentEra: "modern",
      ...rest,
    });
  }

  /**
   * The retry a request carries (basic/patterns/mrtr): none (a first request), the answer to a
   * held call's question (answered here, and the call's next step is the reply), or a modern
   * upstream's state unwrapped for the app. State is checked before anything else runs.
   */
  private async readRetry(
    message: JSONRPCRequest,
    principal: Principal,
    target: InputTarget,
    declared: Record<string, unknown>,
    config: GatewayConfig,
  ): Promise<{ reply: JSONRPCMessage } | { retry?: AppCallContextRetry; round: number; held: HeldCall }> {
    const state = message.params?.requestState;
    if (state === undefined) return { round: 1, held: new HeldCall(declared) };
    const payload = await (await this.codec(config)).verify(state, { p: principalKey(principal), ...target });
    const responses = message.params?.inputResponses;
    const answers = isObject(responses) ? responses : {};
    if (payload.k === "upstream") {
      if (payload.r >= MAX_REQUESTS)
        throw new JsonRpcError(
          ErrorCode.InvalidParams,
          `Invalid params: the gateway passes at most ${MAX_REQUESTS} rounds of input per request; call again`,
        );
      const retry: AppCallContextRetry = {
        ...(isObject(responses) ? { inputResponses: responses } : {}),
        ...(payload.s !== undefined ? { requestState: payload.s } : {}),
      };
      return { retry, round: payload.r + 1, held: new HeldCall(declared) };
    }
    const held = this.heldCalls.get(payload.h);
    if (!held)
      throw new JsonRpcError(
        ErrorCode.InvalidParams,
        "Invalid params: the call this requestState continues is no longer held (it ended at its app's timeout, or the gateway restarted); call again",
      );
    held.declared = declared;
    const answer = answers[payload.q];
    if (!isObject(answer)) {
      // mrtr, "Error Handling": a retry without the answer asked for gets the question again.
      if (held.question()?.id === payload.q)
        return {
          reply: await this.stepReply(message, { input: held.question()! }, held, principal, target, payload.r),
        };
      throw invalidState("was answered already");
    }
    if (!held.answer(payload.q, answer)) throw invalidState("was answered already");
    return { reply: await this.stepReply(message, await held.next(), held, principal, target, payload.r + 1) };
  }

  /** What the agent gets for one step of a call that may need input. */
  private async stepReply(
    message: JSONRPCRequest,
    step: HeldStep,
    held: HeldCall,
    principal: Principal,
    target: InputTarget,
    round: number,
  ): Promise<JSONRPCMessage> {
    if ("refusal" in step) return errorMessage(message.id, step.refusal);
    const config = this.config();
    const codec = await this.codec(config);
    const bound = { p: principalKey(principal), ...target, r: round };
    if ("input" in step) {
      if (!held.held) {
        held.held = true;
        this.heldCalls.set(held.key, held);
        held.settled().finally(() => this.heldCalls.delete(held.key));
      }
      const { input } = step;
      const requestState = await codec.mint({
        ...bound,
        exp: Date.now() + STATE_TTL_MS,
        k: "held",
        h: held.key,
        q: input.id,
      } satisfies StatePayload);
      return resultMessage(message.id, {
        resultType: "input_required",
        inputRequests: { [input.id]: { method: input.method, params: input.params } },
        requestState,
        _meta: { [SERVER_INFO_META]: SERVER_INFO },
      });
    }
    // A held call's reply answers the retry that is waiting now: under that request's id (mrtr, "Client Requirements": a new one).
    const reply = { ...step.reply, id: message.id } as JSONRPCMessage;
    if (!("result" in reply) || (reply.result as { resultType?: unknown }).resultType !== "input_required")
      return reply;
    // A modern upstream asks: its state travels inside the gateway's, which names this request and principal.
    const result = reply.result as Record<string, unknown>;
    const upstreamState = typeof result.requestState === "string" ? result.requestState : undefined;
    const requestState = await codec.mint({
      ...bound,
      exp: Date.now() + STATE_TTL_MS,
      k: "upstream",
      ...(upstreamState !== undefined ? { s: upstreamState } : {}),
    } satisfies StatePayload);
    return { ...reply, result: { ...result, requestState } } as JSONRPCMessage;
  }

  /**
   * The request-state codec: its key derived from the gateway's secrets, so every isolate signs
   * alike; with no secret configured, a random key this object keeps (every request of a
   * principal reaches this one object, so its state always comes back here).
   */
  private codec(config: GatewayConfig): Promise<RequestStateCodec> {
    this.stateCodec ??= (async () => {
      let fallback = "";
      if (Object.keys(config.secrets).length === 0) {
        fallback = (await this.ctx.storage.get<string>(STATE_KEY)) ?? randomToken(32);
        await this.ctx.storage.put(STATE_KEY, fallback);
      }
      return new RequestStateCodec(stateSecret(config.secrets, () => fallback));
    })();
    this.stateCodec.catch(() => (this.stateCodec = undefined));
    return this.stateCodec;
  }

  /** A tool call's `Mcp-Param-*` headers against the tool's `x-mcp-header` declarations (transports/streamable-http). */
  private async checkParamHeaders(message: JSONRPCRequest, apps: SessionApps, request: CallerRequest): Promise<void> {
    if (message.method !== "tools/call") return;
    const name = message.params?.name;
    const args = message.params?.arguments;
    if (typeof name !== "string") return;
    // Declarations are learned from listings: a context that never listed, or whose last listing
    // missed the tool's app (late, failed), lists first, so an unchecked header never slips through.
    const app = candidateApp(this.config().apps, name)?.app.name;
    // A name no app could serve is refused by the pipeline as an unknown tool: no listing for it.
    const missed = app !== undefined && (this.apps.current?.paramHeadersMissing ?? []).includes(app);
    if (!this.apps.current?.paramHeaders || missed) this.rememberParamHeaders(await apps.listTools());
    const declared = this.apps.current?.paramHeaders?.[name];
    if (!declared?.length) return;
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(request.http.headers))
      if (key.startsWith("mcp-param-")) headers[key.slice("mcp-param-".length)] = value;
    const argsObject = typeof args === "object" && args !== null ? (args as Record<string, unknown>) : {};
    checkParamHeaders(message.id, declared, argsObject, headers);
  }

  private rememberParamHeaders(result: Record<string, unknown>): void {
    const state = this.apps.current;
    if (!state) return;
    const tools = Array.isArray(result.tools) ? (result.tools as { name?: unknown; inputSchema?: unknown }[]) : [];
    const known: Record<string, ParamHeader[]> = {};
    for (const tool of tools) {
      const declared = paramHeadersOf(tool.inputSchema);
      if (typeof tool.name === "string" && declared.length) known[tool.name] = declared;
    }
    state.paramHeaders = known;
    const meta = result._meta as { "gateway/unavailableApps"?: { app: string }[] } | undefined;
    state.paramHeadersMissing = (meta?.["gateway/unavailableApps"] ?? []).map((failure) => failure.app);
  }

  /** Exchanges under way for one grant: a burst of calls that finds no cached token waits for one exchange. */
  private exchanges(grant: string): Map<string, Promise<ExchangedToken>> {
    let map = this.inFlightExchanges.get(grant);
    if (!map) this.inFlightExchanges.set(grant, (map = new Map()));
    return map;
  }

  /** The principal's tool call budget (toolCallsPerPrincipal); a context has no budget of its own. */
  private admitter(config: GatewayConfig, principal: Principal) {
    const admitToolCall = this.budgets.admitter(
      config,
      () => this.env.PRINCIPAL_LIMITS.get(this.env.PRINCIPAL_LIMITS.idFromName(principalKey(principal))),
      { perSession: false },
    );
    return admitToolCall ? { admitToolCall } : {};
  }

  /** The context, created on the principal's first request; the object is named by the principal, so another is a bug. */
  private async open(principal: Principal): Promise<ContextRecord> {
    const existing = await this.load();
    if (existing) {
      if (!samePrincipal(existing.principal, principal))
        throw new Error("principal context reached by another principal");
      // The latest token's scopes and expiry: what the context's upstreams are closed with.
      existing.principal = principal;
      return existing;
    }
    const now = Date.now();
    const record: ContextRecord = { id: `ctx-${randomToken(24)}`, createdAt: now, lastActiveAt: now, principal };
    await this.save(record, this.config());
    log("info", "mcp.context.created", { session_id: record.id, user: principal.sub, agent: principal.clientId });
    return record;
  }

  private async load(): Promise<ContextRecord | null> {
    if (this.record === undefined) {
      this.record = (await this.ctx.storage.get<ContextRecord>(CONTEXT_KEY)) ?? null;
      this.storedActiveAt = this.record?.lastActiveAt ?? 0;
    }
    return this.record;
  }

  private async save(record: ContextRecord, config: GatewayConfig): Promise<void> {
    this.record = record;
    this.storedActiveAt = record.lastActiveAt;
    await this.ctx.storage.put(CONTEXT_KEY, record);
    await this.ctx.storage.setAlarm(record.lastActiveAt + idleTimeoutMs(config));
  }

  private async erase(config: GatewayConfig): Promise<void> {
    const id = this.record?.id;
    for (const listener of this.listeners) this.tearDown(listener, "the agent's context ended");
    this.listeners.clear();
    this.latestApps = undefined;
    await this.upstream.stopAll();
    this.record = null;
    this.apps.forget();
    this.lastCaller = undefined;
    await this.ctx.storage.deleteAlarm();
    await this.audit.handOver(config.provider.audit.sink);
    await this.ctx.storage.deleteAll();
    log("info", "mcp.context.ended", { session_id: id, reason: "idle timeout" });
  }

  private config(): GatewayConfig {
    return loadObjectConfig(this.env);
  }
}

/** One subscriptions/listen stream. */
interface Listener {
  id: JSONRPCRequest["id"];
  filter: ListenFilter;
  writer: WritableStreamDefaultWriter<Uint8Array>;
  keepAlive: ReturnType<typeof setInterval> | undefined;
  /** Its name among the holders of upstream listeners. */
  holder: string;
  /** The URIs of its `resourceSubscriptions` honoured: only their updates reach it. */
  resources: Set<string>;
  /** Nothing reaches it before its acknowledgment. */
  acknowledged: boolean;
}

function stopKeepAlive(listener: Listener): void {
  if (listener.keepAlive !== undefined) clearInterval(listener.keepAlive);
}

function keepAliveMs(config: GatewayConfig): number {
  return config.provider.transports.stream.keepAlive;
}

type AppCallContextRetry = NonNullable<SessionAppsDeps["retry"]>;

/** The reply as sent, or an error when it is larger than the gateway passes on (rpc-limits.ts). */
function bounded(message: JSONRPCRequest, reply: JSONRPCMessage, contextId: string): JSONRPCMessage {
  if (serializedSize(reply) <= MAX_REPLY_BYTES) return reply;
  log("warn", "mcp.reply_too_large", { session_id: contextId, method: message.method });
  return errorMessage(
    message.id,
    new JsonRpcError(ErrorCode.InternalError, "Internal error: the answer is larger than the gateway passes on"),
  );
}

/** What a request that may answer `input_required` names (mrtr, "Supported Requests"); undefined for the rest. */
interface InputTarget {
  m: string;
  n: string;
}

function inputTarget(message: JSONRPCRequest): InputTarget | undefined {
  const params = message.params ?? {};
  if (message.method === "tools/call" || message.method === "prompts/get")
    return typeof params.name === "string" ? { m: message.method, n: params.name } : undefined;
  if (message.method === "resources/read")
    return typeof params.uri === "string" ? { m: message.method, n: params.uri } : undefined;
  return undefined;
}

/** What the request declared it can be asked (its `_meta` envelope), of what the gateway can ask. */
function inputCapabilities(message: JSONRPCRequest): Record<string, unknown> {
  const declared = metaOf(message)[CLIENT_CAPABILITIES_META];
  if (!isObject(declared)) return {};
  return Object.fromEntries(Object.entries(declared).filter(([name]) => INPUT_CAPABILITIES.includes(name)));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function metaOf(message: JSONRPCRequest): Record<string, unknown> {
  const meta = message.params?._meta;
  return typeof meta === "object" && meta !== null ? (meta as Record<string, unknown>) : {};
}

function idleTimeoutMs(config: GatewayConfig): number {
  return config.provider.transports.stream.session.timeout;
}

/** As for sessions (mcp-session.ts): the stored time of last activity lags by at most this much. */
function activityWriteInterval(config: GatewayConfig): number {
  return Math.min(60_000, idleTimeoutMs(config) / 10);
}
