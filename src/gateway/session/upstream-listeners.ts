// The upstream listeners one object holds (docs/mcp-endpoint.md, "Resource updates"): a session
// (mcp-session.ts) for the resources its agent subscribed to, a principal's context
// (principal-context.ts) for the `resourceSubscriptions` of its open `subscriptions/listen`
// streams. Several holders (the session, or each listen stream) may want one app's upstream: the
// app's listener (apps/upstream-listener.ts) runs while at least one wants it, for the union of
// their URIs, and stops when the last lets go or the object ends.
//
// Listeners live in the object's memory: each stream needs a token exchanged from the agent's own,
// which is never stored, so they start from a request and end with the process. While one runs,
// its open upstream fetch keeps the object in memory (no hibernation); docs/mcp-endpoint.md says
// what that costs.
import { log } from "../../core/log.js";
import type { AppCallContext, ListenTarget } from "../apps/app.js";
import { appInstance } from "../apps/registry.js";
import type { UpstreamListener } from "../apps/upstream-listener.js";
import type { AppConfig } from "../apps-schema.js";

/** What an app's listener needs of the object for each stream it opens. */
export interface ListenerCredentials {
  /** A call context with the app's token (fresh: exchanged anew), built on the agent's latest request. */
  context(app: AppConfig, fresh: boolean): Promise<{ ctx: AppCallContext; tokenExpiresAt?: number; release(): void }>;
}

export interface UpstreamListenersDeps {
  /** Where each app's upstream notifications go; resources/updated only for a URI some holder wants of that app. */
  deliver(app: AppConfig, method: string, params: Record<string, unknown>): void;
}

/** Per holder, per app name: the upstream URIs it wants (empty: the app's list changes alone). */
type Wants = Map<string, Set<string>>;

export class UpstreamListeners {
  readonly #holders = new Map<string, Wants>();
  readonly #running = new Map<string, { app: AppConfig; listener: UpstreamListener; uris: Set<string> }>();
  /** Apps whose upstream offers no stream (405): not tried again by this object. */
  readonly #gone = new Set<string>();
  #credentials: ListenerCredentials | undefined;

  constructor(private readonly deps: UpstreamListenersDeps) {}

  /**
   * The latest request's way to tokens. A listener that could not get one (the agent's token
   * expired or was revoked) keeps retrying after its backoff, and the next request's token serves.
   */
  use(credentials: ListenerCredentials): void {
    this.#credentials = credentials;
  }

  /** Replaces what `holder` wants: per app, the upstream URIs. */
  set(holder: string, wants: Map<AppConfig, Set<string>>): void {
    const byName: Wants = new Map();
    for (const [app, uris] of wants) byName.set(app.name, new Set(uris));
    if (byName.size) this.#holders.set(holder, byName);
    else this.#holders.delete(holder);
    this.#reconcile([...wants.keys()]);
  }

  /** `holder` wants nothing any more. */
  drop(holder: string): void {
    if (this.#holders.delete(holder)) this.#reconcile([]);
  }

  /** What `holder` wants of `app` now. */
  wanted(holder: string, app: string): ReadonlySet<string> {
    return this.#holders.get(holder)?.get(app) ?? new Set();
  }

  /** Every listener stops (the session or context ended); resolves once none runs. */
  async stopAll(): Promise<void> {
    this.#holders.clear();
    const running = [...this.#running.values()];
    this.#running.clear();
    await Promise.all(running.map((held) => held.listener.stop()));
  }

  /** How many app listeners run now. */
  get size(): number {
    return this.#running.size;
  }

  /** Starts, updates and stops listeners to match the holders' union. */
  #reconcile(apps: AppConfig[]): void {
    const union = new Map<string, Set<string>>();
    for (const wants of this.#holders.values())
      for (const [app, uris] of wants) {
        const all = union.get(app) ?? new Set<string>();
        for (const uri of uris) all.add(uri);
        union.set(app, all);
      }
    for (const [name, held] of this.#running) {
      if (union.has(name)) continue;
      this.#running.delete(name);
      void held.listener.stop();
    }
    const configs = new Map(apps.map((app) => [app.name, app]));
    for (const [name, uris] of union) {
      const held = this.#running.get(name);
      if (held) {
        const grew = [...uris].some((uri) => !held.uris.has(uri));
        held.uris = uris;
        if (grew) held.listener.urisChanged();
        continue;
      }
      const app = configs.get(name);
      if (app && !this.#gone.has(name)) this.#start(app, uris);
    }
  }

  #start(app: AppConfig, uris: Set<string>): void {
    const instance = appInstance(app);
    if (!instance.listen) return;
    const held = { app, uris, listener: undefined as unknown as UpstreamListener };
    const target: ListenTarget = {
      context: (fresh) => {
        if (!this.#credentials) throw new Error("no agent token to exchange");
        return this.#credentials.context(app, fresh);
      },
      uris: () => [...held.uris],
      deliver: (method, params) => {
        // An upstream speaks for its own resources alone, and only those wanted reach anyone.
        if (method === "notifications/resources/updated" && !held.uris.has(String(params.uri))) return;
        this.deps.deliver(app, method, params);
      },
      onGone: () => {
        this.#gone.add(app.name);
        if (this.#running.get(app.name) === held) this.#running.delete(app.name);
      },
    };
    held.listener = instance.listen(target);
    this.#running.set(app.name, held);
    held.listener.start();
    log("info", "upstream_listener.started", { app: app.name, uris: uris.size });
  }
}
