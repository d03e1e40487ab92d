// One list-and-filter path for tools/list, prompts/list, resources/list and
// resources/templates/list: every app's items under its namespace, each shown only when the
// policy, asked about it with the list's method and no arguments, allows (docs/policy.md). An
// app that fails, or has not listed within its list deadline (apps/list-deadline.ts), is named in
// `_meta["gateway/unavailableApps"]`, not fatal. What differs by list is in its ListSpec.
import { log } from "../../core/log.js";
import type { ListName } from "../apps/app.js";
import { LATE, lateMessage, within, type Flight } from "../apps/list-deadline.js";
import { UpstreamError } from "../apps/upstream-error.js";
import type { AppConfig } from "../apps-schema.js";
import { ExchangeError } from "../outbound/token-exchange-client.js";
import type { PolicyDecision } from "../policy/index.js";
import type { PolicyTarget } from "./call-pipeline.js";

export type ListMethod = "tools/list" | "prompts/list" | "resources/list" | "resources/templates/list";

export interface ListSpec<K extends string, T> {
  method: ListMethod;
  /** The list an upstream's list_changed names (and the agent is told about when a late listing lands). */
  list: ListName;
  /** The result's key. */
  key: K;
  /** The app's listing, or undefined when the app has no such list. */
  fetch(app: AppConfig): Flight<T[]> | undefined;
  /** What the policy is asked about, per item. */
  target(app: AppConfig, item: T): PolicyTarget;
  /** The item as the agent sees it (namespaced). */
  expose(app: AppConfig, item: T): T;
}

export interface ListingDeps {
  apps: AppConfig[];
  sessionId: string;
  /** How long a list waits for `app` before reporting it late. */
  listTimeout(app: AppConfig): number;
  /** A listing reported late has landed. */
  landed(list: ListName): void;
  decide(app: AppConfig, target: PolicyTarget, mcp: { method: string; params: unknown }): Promise<PolicyDecision>;
}

export type Listing<K extends string, T> = Record<K, T[]> & { _meta?: Record<string, unknown> };

export class Listings {
  /**
   * Listings made by this instance, by method. An instance serves one POST, so the list requests
   * of one JSON-RPC batch share one listing of the upstreams; the next POST lists afresh (or
   * joins an app's listing still in flight, list-deadline.ts).
   */
  private readonly made = new Map<ListMethod, Promise<unknown>>();

  constructor(private readonly deps: ListingDeps) {}

  list<K extends string, T>(spec: ListSpec<K, T>): Promise<Listing<K, T>> {
    let listing = this.made.get(spec.method) as Promise<Listing<K, T>> | undefined;
    if (!listing) {
      listing = this.collect(spec);
      this.made.set(spec.method, listing);
    }
    return listing;
  }

  /** An upstream said a list changed: the next request of this POST lists it again. */
  forget(list: ListName): void {
    for (const method of [...this.made.keys()]) if (method.startsWith(`${list}/`)) this.made.delete(method);
  }

  private async collect<K extends string, T>(spec: ListSpec<K, T>): Promise<Listing<K, T>> {
    const results = await Promise.all(this.deps.apps.map((app) => this.fromApp(spec, app)));
    const failures = results.flatMap((r) => (r.failure ? [r.failure] : []));
    return {
      [spec.key]: results.flatMap((r) => r.items),
      ...(failures.length ? { _meta: { "gateway/unavailableApps": failures } } : {}),
    } as Listing<K, T>;
  }

  private async fromApp<T>(
    spec: ListSpec<string, T>,
    app: AppConfig,
  ): Promise<{ items: T[]; failure?: { app: string; error: string } }> {
    try {
      const flight = spec.fetch(app);
      if (!flight) return { items: [] };
      const ms = this.deps.listTimeout(app);
      const items = await within(flight, ms, () => this.deps.landed(spec.list));
      if (items === LATE) {
        log("warn", "app.list_late", {
          app: app.name,
          session_id: this.deps.sessionId,
          list: spec.method,
          timeout_ms: ms,
        });
        return { items: [], failure: { app: app.name, error: lateMessage(ms) } };
      }
      const decisions = await Promise.all(
        items.map((item) => this.deps.decide(app, spec.target(app, item), { method: spec.method, params: {} })),
      );
      return { items: items.filter((_, i) => decisions[i]!.allowed).map((item) => spec.expose(app, item)) };
    } catch (err) {
      const message = err instanceof UpstreamError || err instanceof ExchangeError ? err.message : "internal error";
      log("warn", "app.list_failed", {
        app: app.name,
        session_id: this.deps.sessionId,
        list: spec.method,
        error: message,
      });
      return { items: [], failure: { app: app.name, error: message } };
    }
  }
}
