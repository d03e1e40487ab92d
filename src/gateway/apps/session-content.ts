// Prompts and resources of the session's apps (MCP Proxy apps re-expose their upstream's):
// prompt and resource names are namespaced like tools; resource URIs stay the upstream's own,
// and the session remembers which app listed each one so reads go back to it.
//
// They reach upstreams with the same exchanged tokens as tool calls, so the same policies decide
// them (README "Policy"): listings show only what the caller may use, and prompts/get,
// resources/read and subscriptions are decided, then audited, like tools/call. A deny is the
// JSON-RPC error -32003 with the policy's message: these results have no error shape of their own.
import { ErrorCode, type GetPromptResult, type Prompt, type ReadResourceResult, type Resource, type ResourceTemplate } from "@modelcontextprotocol/sdk/types.js";
import { GatewayErrorCode, JsonRpcError } from "../../core/errors.js";
import { log } from "../../core/log.js";
import type { AppConfig } from "../apps-schema.js";
import type { AuditEvent } from "../audit.js";
import type { PolicyDecision, PolicyInputParts } from "../policy/index.js";
import { UpstreamError, type App, type AppCallContext } from "./app.js";
import { candidateApp, exposedName } from "./catalog.js";
import { forgetListings, LATE, lateMessage, sharedListing, within } from "./list-deadline.js";
import { UpstreamJsonRpcError } from "./mcp-proxy.js";

/** What one audited prompt or resource request is about. */
export interface AuditedRequest {
  method: string;
  subject: Pick<AuditEvent, "prompt" | "resource">;
  arguments?: Record<string, unknown>;
}

type Target = Pick<PolicyInputParts, "prompt" | "resource">;

export interface ContentDeps {
  apps: AppConfig[];
  instance(app: AppConfig): App;
  /** The app's call context; the outbound token's jti goes to `event` when given. */
  context(app: AppConfig, event?: AuditEvent): Promise<AppCallContext>;
  /** uri → app name, persisted with the session. */
  resourceIndex: Record<string, string>;
  sessionId: string;
  /** The session's persisted apps state: listings in flight are shared per session (list-deadline.ts). */
  session: object;
  /** How long a list waits for `app` before reporting it late. */
  listTimeout(app: AppConfig): number;
  /** A listing reported late has landed. */
  landed(list: "prompts" | "resources"): void;
  /** The policies' decision about one prompt or resource of `app`. */
  decide(app: AppConfig, target: Target, mcp: { method: string; params: unknown }): Promise<PolicyDecision>;
  /** Runs `run` with exactly one audit event, which it fills in; a throw is an upstream error unless it says otherwise. */
  audited<T>(request: AuditedRequest, run: (event: AuditEvent) => Promise<T>): Promise<T>;
}

type Listed<T> = { items: T[]; failures: { app: string; error: string }[] };

/** What a denied agent reads when the policy gave no message. */
export const CONTENT_DENIED_MESSAGE = "The gateway's policy does not allow this request.";

/** Upstream failures of a single operation become JSON-RPC errors the agent can read. */
function asJsonRpcError(err: unknown): never {
  if (err instanceof UpstreamJsonRpcError) throw new JsonRpcError(err.code, err.message);
  if (err instanceof UpstreamError) throw new JsonRpcError(ErrorCode.InternalError, err.message);
  throw err;
}

export class SessionContent {
  /**
   * Listings made by this instance, by method. An instance serves one POST, so the list requests
   * of one JSON-RPC batch share one listing of the upstreams; the next POST lists afresh (or
   * joins an app's listing still in flight, list-deadline.ts).
   */
  private readonly listings = new Map<string, Promise<Listed<unknown>>>();

  constructor(private readonly deps: ContentDeps) {}

  /** An upstream said a list changed ("prompts", "resources"): the next request of this POST lists it again. */
  forget(list: string): void {
    for (const key of [...this.listings.keys()]) if (key.startsWith(`${list}/`)) this.listings.delete(key);
    forgetListings(this.deps.session, `${list}/`, { prefix: true });
  }

  /**
   * Every app's items of one list, each shown only when the policy, asked about it with
   * `method` and no arguments, allows. Listed once per instance; an app that has not listed
   * within its list deadline is reported as a failed one is (list-deadline.ts).
   */
  private collect<T>(
    method: string,
    pick: (app: App) => ((ctx: AppCallContext) => Promise<T[]>) | undefined,
    target: (app: AppConfig, item: T) => Target,
    map: (app: AppConfig, item: T) => T,
    seen?: (app: AppConfig, items: T[]) => void,
  ): Promise<Listed<T>> {
    let listing = this.listings.get(method);
    if (!listing) {
      listing = this.collectOnce(method, pick, target, map, seen) as Promise<Listed<unknown>>;
      this.listings.set(method, listing);
    }
    return listing as Promise<Listed<T>>;
  }

  private async collectOnce<T>(
    method: string,
    pick: (app: App) => ((ctx: AppCallContext) => Promise<T[]>) | undefined,
    target: (app: AppConfig, item: T) => Target,
    map: (app: AppConfig, item: T) => T,
    seen?: (app: AppConfig, items: T[]) => void,
  ): Promise<Listed<T>> {
    const listed: Listed<T> = { items: [], failures: [] };
    await Promise.all(
      this.deps.apps.map(async (config) => {
        const instance = this.deps.instance(config);
        const list = pick(instance)?.bind(instance);
        if (!list) return;
        try {
          const flight = sharedListing(this.deps.session, `${method} ${config.name}`, async () => {
            const items = await list(await this.deps.context(config));
            seen?.(config, items);
            return items;
          });
          const ms = this.deps.listTimeout(config);
          const items = await within(flight, ms, () => this.deps.landed(method.startsWith("prompts/") ? "prompts" : "resources"));
          if (items === LATE) {
            log("warn", "app.list_late", { app: config.name, session_id: this.deps.sessionId, list: method, timeout_ms: ms });
            listed.failures.push({ app: config.name, error: lateMessage(ms) });
            return;
          }
          const decisions = await Promise.all(items.map((item) => this.deps.decide(config, target(config, item), { method, params: {} })));
          listed.items.push(...items.filter((_, i) => decisions[i]!.allowed).map((item) => map(config, item)));
        } catch (err) {
          if (!(err instanceof UpstreamError)) throw err;
          log("warn", "app.list_failed", { app: config.name, session_id: this.deps.sessionId, error: err.message });
          listed.failures.push({ app: config.name, error: err.message });
        }
      }),
    );
    return listed;
  }

  private static result<K extends string, T>(key: K, listed: Listed<T>) {
    return { [key]: listed.items, ...(listed.failures.length ? { _meta: { "gateway/unavailableApps": listed.failures } } : {}) } as Record<K, T[]> & { _meta?: Record<string, unknown> };
  }

  /** Asks the policies; a deny becomes the agent's JSON-RPC error and the audit event's verdict. */
  private async enforce(app: AppConfig, target: Target, mcp: { method: string; params: unknown }, event?: AuditEvent): Promise<void> {
    const decision = await this.deps.decide(app, target, mcp);
    if (event && decision.policy) event.policy = decision.policy;
    if (decision.allowed) {
      if (event && decision.reason) event.reason = decision.reason;
      return;
    }
    if (event) {
      event.decision = "deny";
      event.outcome = "denied";
      event.reason = decision.reason ?? decision.externalMessage;
    }
    throw new JsonRpcError(GatewayErrorCode.PolicyDenied, decision.externalMessage ?? CONTENT_DENIED_MESSAGE);
  }

  async listPrompts() {
    return SessionContent.result(
      "prompts",
      await this.collect<Prompt>(
        "prompts/list",
        (a) => a.listPrompts,
        (app, p) => ({ prompt: { name: exposedName(app, p.name), app: app.name, upstreamName: p.name } }),
        (app, p) => ({ ...p, name: exposedName(app, p.name) }),
      ),
    );
  }

  async getPrompt(name: string, args: Record<string, string>, params: Record<string, unknown>): Promise<GetPromptResult> {
    return this.deps.audited({ method: "prompts/get", subject: { prompt: name }, arguments: args }, async (event) => {
      const target = candidateApp(this.deps.apps, name);
      const instance = target ? this.deps.instance(target.app) : undefined;
      if (target) event.app = target.app.name;
      if (!target || !instance?.getPrompt) {
        event.decision = "deny";
        event.outcome = "unknown_prompt";
        event.reason = "no app offers this prompt";
        throw new JsonRpcError(ErrorCode.InvalidParams, `Unknown prompt: ${name}`);
      }
      await this.enforce(target.app, { prompt: { name, app: target.app.name, upstreamName: target.upstreamName, arguments: args } }, { method: "prompts/get", params }, event);
      return instance.getPrompt(target.upstreamName, args, await this.deps.context(target.app, event)).catch(asJsonRpcError);
    });
  }

  async listResources() {
    const listed = await this.collect<Resource>(
      "resources/list",
      (a) => a.listResources,
      (app, r) => ({ resource: { uri: r.uri, name: exposedName(app, r.name), app: app.name } }),
      (app, r) => ({ ...r, name: exposedName(app, r.name) }),
      // Hidden ones too: which app serves a URI is routing, not permission, and a later read
      // of a hidden resource must reach its own app's policy (and audit) to be denied there.
      (app, resources) => {
        for (const r of resources) this.deps.resourceIndex[r.uri] = app.name;
      },
    );
    return SessionContent.result("resources", listed);
  }

  async listResourceTemplates() {
    return SessionContent.result(
      "resourceTemplates",
      await this.collect<ResourceTemplate>(
        "resources/templates/list",
        (a) => a.listResourceTemplates,
        (app, t) => ({ resource: { uriTemplate: t.uriTemplate, name: exposedName(app, t.name), app: app.name } }),
        (app, t) => ({ ...t, name: exposedName(app, t.name) }),
      ),
    );
  }

  /**
   * completion/complete (MCP server/utilities/completion): a prompt reference goes to the app
   * whose namespace prefixes its name (with the prefix stripped); a resource template reference
   * to the app that listed the URI, or the only app offering completion.
   */
  async complete(params: Record<string, unknown>): Promise<Record<string, unknown>> {
    const ref = (params.ref ?? {}) as { type?: unknown; name?: unknown; uri?: unknown };
    let target: { app: AppConfig; ref: Record<string, unknown> } | undefined;
    if (ref.type === "ref/prompt" && typeof ref.name === "string") {
      const candidate = candidateApp(this.deps.apps, ref.name);
      if (candidate) target = { app: candidate.app, ref: { ...ref, name: candidate.upstreamName } };
    } else if (ref.type === "ref/resource" && typeof ref.uri === "string") {
      const withCompletion = this.deps.apps.filter((a) => this.deps.instance(a).complete);
      const owner = this.deps.resourceIndex[ref.uri];
      const app = owner ? withCompletion.find((a) => a.name === owner) : withCompletion.length === 1 ? withCompletion[0] : undefined;
      if (app) target = { app, ref };
    }
    const instance = target ? this.deps.instance(target.app) : undefined;
    if (!target || !instance?.complete) throw new JsonRpcError(ErrorCode.InvalidParams, "Invalid params: no app offers completion for this reference");
    // Completions can reveal what a prompt or template would return, so they are decided as its listing is.
    const about: Target =
      ref.type === "ref/prompt"
        ? { prompt: { name: ref.name as string, app: target.app.name, upstreamName: target.ref.name as string } }
        : { resource: { uri: ref.uri as string, app: target.app.name } };
    await this.enforce(target.app, about, { method: "completion/complete", params });
    return instance.complete({ ...params, ref: target.ref }, await this.deps.context(target.app)).catch(asJsonRpcError);
  }

  /** resources/subscribe and resources/unsubscribe go to the app that serves the URI, as reads do. */
  async subscription(method: "resources/subscribe" | "resources/unsubscribe", uri: string): Promise<void> {
    await this.deps.audited({ method, subject: { resource: uri } }, async (event) => {
      const app = this.resourceApp(uri, (instance) => instance.subscription !== undefined, event);
      await this.enforce(app, { resource: { uri, app: app.name } }, { method, params: { uri } }, event);
      await this.deps.instance(app).subscription!(method, uri, await this.deps.context(app, event)).catch(asJsonRpcError);
    });
  }

  /** The app that listed `uri`, else the only app able to serve it; -32602 when there is none. */
  private resourceApp(uri: string, able: (instance: App) => boolean, event: AuditEvent): AppConfig {
    const candidates = this.deps.apps.filter((a) => able(this.deps.instance(a)));
    const owner = this.deps.resourceIndex[uri];
    const app = owner ? candidates.find((a) => a.name === owner) : candidates.length === 1 ? candidates[0] : undefined;
    if (!app) {
      event.decision = "deny";
      event.outcome = "unknown_resource";
      event.reason = "no app serves this resource";
      throw new JsonRpcError(ErrorCode.InvalidParams, `Unknown resource: ${uri}`);
    }
    event.app = app.name;
    return app;
  }

  /**
   * Reads from the app that listed the URI; a URI nobody listed (one built from a template)
   * goes to the only app that offers resources, and is refused when that is ambiguous.
   */
  async readResource(uri: string): Promise<ReadResourceResult> {
    return this.deps.audited({ method: "resources/read", subject: { resource: uri } }, async (event) => {
      const app = this.resourceApp(uri, (instance) => instance.readResource !== undefined, event);
      await this.enforce(app, { resource: { uri, app: app.name } }, { method: "resources/read", params: { uri } }, event);
      return this.deps.instance(app).readResource!(uri, await this.deps.context(app, event)).catch(asJsonRpcError);
    });
  }
}
