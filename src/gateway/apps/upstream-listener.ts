// One held event stream from an upstream MCP server to the gateway, for the changes an upstream
// announces on its own initiative (docs/apps.md, "Upstream listeners"): `notifications/resources/
// updated` and `notifications/{tools,prompts,resources}/list_changed`. A 2025-era upstream sends
// them on the GET stream of its session (MCP 2025-11-25 basic/transports, "Listening for Messages
// from the Server"); a 2026-07-28 one on a `subscriptions/listen` stream (MCP 2026-07-28
// basic/patterns/subscriptions). How the stream is opened is the app's (mcp-proxy.ts); this file
// holds it open: it reads the events with eventsource-parser, reconnects with backoff (honouring
// the stream's `retry:` field and resuming with `Last-Event-ID`, HTML Living Standard §9.2), opens
// it anew before the token it was opened with expires, and stops for good when the upstream says
// it has no such stream (405). An upstream that floods (events too large or too many) loses its
// stream and is reconnected after a backoff; one that stalls costs nothing but the open stream, and
// `stop()` cancels whatever is under way.
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { log } from "../../core/log.js";
import { MAX_UPSTREAM_JSON_DEPTH, nestsDeeperThan } from "../mcp/rpc-limits.js";

/** The notifications a listener passes on; anything else an upstream sends there is ignored. */
export const LISTENED_NOTIFICATIONS = new Set([
  "notifications/resources/updated",
  "notifications/tools/list_changed",
  "notifications/prompts/list_changed",
  "notifications/resources/list_changed",
]);

export interface ListenerLimits {
  /** Bytes one event may take (its data and fields); a larger one drops the stream. */
  maxEventBytes: number;
  /** Events one stream may deliver in a burst, refilled at `eventsPerSecond`; more drops the stream. */
  burst: number;
  eventsPerSecond: number;
  /** The first reconnection delay when the upstream named none (`retry:`), doubled per failure. */
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** How long before its token expires a stream is opened anew with a fresh one (at most a fifth of what is left). */
  renewMarginMs: number;
}

export const LISTENER_LIMITS: ListenerLimits = {
  maxEventBytes: 64 * 1024,
  burst: 100,
  eventsPerSecond: 20,
  initialBackoffMs: 250,
  maxBackoffMs: 30_000,
  renewMarginMs: 5_000,
};

/** One opened stream: the upstream's event-stream response, and when the token it was opened with expires. */
export interface ListenerStream {
  response: Response;
  /** Unix milliseconds; absent when the token does not expire (none is sent, or it is not known). */
  tokenExpiresAt?: number;
}

/** The upstream has no stream to offer (HTTP 405 to the GET): the listener stops and is not tried again. */
export class ListenUnsupported extends Error {
  constructor(app: string) {
    super(`the ${app} app's upstream offers no event stream`);
    this.name = "ListenUnsupported";
  }
}

export interface UpstreamListenerOptions {
  app: string;
  /** Opens the stream (resuming after `lastEventId` when set); rejects with ListenUnsupported or any failure. */
  open(signal: AbortSignal, lastEventId: string | undefined): Promise<ListenerStream>;
  /** One notification the upstream sent, method among LISTENED_NOTIFICATIONS, params an object. */
  deliver(method: string, params: Record<string, unknown>): void;
  /** The listener stopped by itself (ListenUnsupported); not called for `stop()`. */
  onGone?(): void;
  limits?: Partial<ListenerLimits>;
}

/** Why one stream ended: the listener reconnects after all but `stopped` and `gone`. */
type Ending = "stopped" | "gone" | "renew" | "ended" | "failed";

export class UpstreamListener {
  readonly #options: UpstreamListenerOptions;
  readonly #limits: ListenerLimits;
  readonly #stop = new AbortController();
  #lastEventId: string | undefined;
  #retryMs: number | undefined;
  #failures = 0;
  #running: Promise<void> | undefined;
  /** The stream open now, and whether its end is a reopening (renewed token, changed filter). */
  #connection: { abort: AbortController; reopen: boolean } | undefined;
  /** Streams opened so far (for the tests' and logs' sake). */
  connections = 0;

  constructor(options: UpstreamListenerOptions) {
    this.#options = options;
    this.#limits = { ...LISTENER_LIMITS, ...options.limits };
  }

  /** Starts holding the stream; a second call does nothing. */
  start(): void {
    this.#running ??= this.#run();
  }

  /** Cancels the stream and any wait; resolves once nothing of the listener runs any more. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#running;
  }

  /**
   * Whether the stream itself names the URIs (a modern upstream's `subscriptions/listen`), so a
   * changed set needs it reopened; a legacy GET stream carries whatever the session subscribed to.
   * Set by the opener.
   */
  carriesUris = false;

  /** The wanted URIs changed: a stream that names them opens anew with the new set. */
  urisChanged(): void {
    if (this.carriesUris) this.refresh();
  }

  /** Opens the stream anew at once. */
  refresh(): void {
    const connection = this.#connection;
    if (!connection) return;
    connection.reopen = true;
    connection.abort.abort();
  }

  get stopped(): boolean {
    return this.#stop.signal.aborted;
  }

  async #run(): Promise<void> {
    while (!this.stopped) {
      const ending = await this.#connect();
      if (ending === "stopped") return;
      if (ending === "gone") {
        this.#stop.abort();
        this.#options.onGone?.();
        return;
      }
      if (ending === "renew") continue;
      this.#failures = ending === "failed" ? this.#failures + 1 : 0;
      const base = this.#retryMs ?? this.#limits.initialBackoffMs;
      const delay = Math.min(this.#limits.maxBackoffMs, base * 2 ** Math.max(0, this.#failures - 1));
      await this.#wait(Math.max(50, delay));
    }
  }

  /** One stream, from opening it to its end. */
  async #connect(): Promise<Ending> {
    const current = { abort: new AbortController(), reopen: false };
    const connection = current.abort;
    this.#connection = current;
    const abort = () => connection.abort();
    this.#stop.signal.addEventListener("abort", abort);
    let renew: ReturnType<typeof setTimeout> | undefined;
    try {
      const { response, tokenExpiresAt } = await this.#options.open(connection.signal, this.#lastEventId);
      this.connections++;
      if (!response.body) return "failed";
      if (tokenExpiresAt !== undefined) {
        // The margin, or a fifth of what is left when that is shorter (short-lived tokens).
        const left = tokenExpiresAt - Date.now();
        const due = Math.max(1_000, left - Math.min(this.#limits.renewMarginMs, left / 5));
        renew = setTimeout(() => ((current.reopen = true), connection.abort()), due);
      }
      const delivered = await this.#read(response.body, connection);
      if (this.stopped) return "stopped";
      if (current.reopen) return "renew";
      // A stream that carried something was healthy: its end starts the backoff afresh.
      return delivered === "flood" ? "failed" : delivered > 0 ? "ended" : "failed";
    } catch (err) {
      if (this.stopped) return "stopped";
      if (current.reopen) return "renew";
      if (err instanceof ListenUnsupported) {
        log("info", "upstream_listener.unsupported", { app: this.#options.app });
        return "gone";
      }
      log("warn", "upstream_listener.failed", {
        app: this.#options.app,
        failures: this.#failures + 1,
        error: err instanceof Error ? err.message : "error",
      });
      return "failed";
    } finally {
      if (renew !== undefined) clearTimeout(renew);
      this.#stop.signal.removeEventListener("abort", abort);
      connection.abort();
      if (this.#connection === current) this.#connection = undefined;
    }
  }

  /** Reads the stream until it ends; the number of events delivered, or `flood` when a limit cut it. */
  async #read(body: ReadableStream<Uint8Array>, connection: AbortController): Promise<number | "flood"> {
    const reader = body.getReader();
    const cancel = () => void reader.cancel().catch(() => undefined);
    connection.signal.addEventListener("abort", cancel);
    const events: EventSourceMessage[] = [];
    /** Bytes read since the last event or comment ended: what a single event may have grown to. */
    let pending = 0;
    const parser = createParser({
      onEvent: (event) => events.push(event),
      onRetry: (ms) => (this.#retryMs = Math.min(ms, this.#limits.maxBackoffMs)),
      // A comment (a keep-alive) ends what came before it, as an event does.
      onComment: () => (pending = 0),
    });
    const decoder = new TextDecoder();
    let delivered = 0;
    let tokens = this.#limits.burst;
    let refilledAt = Date.now();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return delivered;
        pending += value.byteLength;
        parser.feed(decoder.decode(value, { stream: true }));
        if (events.length) pending = 0;
        if (pending > this.#limits.maxEventBytes) return this.#flood("an event larger than the limit");
        for (let event = events.shift(); event; event = events.shift()) {
          if (event.id !== undefined) this.#lastEventId = event.id;
          const now = Date.now();
          tokens = Math.min(this.#limits.burst, tokens + ((now - refilledAt) / 1000) * this.#limits.eventsPerSecond);
          refilledAt = now;
          if (tokens < 1) return this.#flood("more events than the rate limit");
          tokens--;
          if (this.#dispatch(event)) delivered++;
        }
      }
    } catch (err) {
      if (connection.signal.aborted) return delivered;
      throw err;
    } finally {
      connection.signal.removeEventListener("abort", cancel);
      cancel();
    }
  }

  #flood(what: string): "flood" {
    log("warn", "upstream_listener.flood", { app: this.#options.app, reason: what });
    return "flood";
  }

  /** Passes on one event's notification when it is one the listener carries; true when it did. */
  #dispatch(event: EventSourceMessage): boolean {
    if ((event.event ?? "message") !== "message" || event.data === "") return false;
    if (event.data.length > this.#limits.maxEventBytes || nestsDeeperThan(event.data, MAX_UPSTREAM_JSON_DEPTH))
      return false;
    let message: unknown;
    try {
      message = JSON.parse(event.data);
    } catch {
      return false;
    }
    if (typeof message !== "object" || message === null || Array.isArray(message)) return false;
    const { jsonrpc, method, params, id } = message as Record<string, unknown>;
    // Requests (a ping) and responses on this stream are not answered: only notifications count.
    if (jsonrpc !== "2.0" || typeof method !== "string" || id !== undefined) return false;
    if (!LISTENED_NOTIFICATIONS.has(method)) return method === "notifications/subscriptions/acknowledged";
    const own = typeof params === "object" && params !== null && !Array.isArray(params) ? params : {};
    try {
      this.#options.deliver(method, own as Record<string, unknown>);
    } catch (err) {
      log("warn", "upstream_listener.deliver_failed", {
        app: this.#options.app,
        error: err instanceof Error ? err.message : "error",
      });
    }
    return true;
  }

  /** Waits `ms`, or less when the listener stops. */
  #wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#stop.signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#stop.signal.addEventListener("abort", done);
    });
  }
}
