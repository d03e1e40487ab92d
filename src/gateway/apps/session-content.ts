// Prompts and resources of the session's apps (MCP Proxy apps re-expose their upstream's):
// prompt and resource names are namespaced like tools; resource URIs stay the upstream's own,
// and the session remembers which app listed each one so reads go back to it.
import type { GetPromptResult, Prompt, ReadResourceResult, Resource, ResourceTemplate } from "@modelcontextprotocol/sdk/types.js";
import { JsonRpcCode, JsonRpcError } from "../../core/errors.js";
import { log } from "../../core/log.js";
import type { AppConfig } from "../apps-schema.js";
import { UpstreamError, type App, type AppCallContext } from "./app.js";
import { candidateApp, exposedName } from "./catalog.js";
import { UpstreamJsonRpcError } from "./mcp-proxy.js";

export interface ContentDeps {
  apps: AppConfig[];
  instance(app: AppConfig): App;
  context(app: AppConfig): Promise<AppCallContext>;
  /** uri → app name, persisted with the session. */
  resourceIndex: Record<string, string>;
  sessionId: string;
}

type Listed<T> = { items: T[]; failures: { app: string; error: string }[] };

/** Upstream failures of a single operation become JSON-RPC errors the agent can read. */
function asJsonRpcError(err: unknown): never {
  if (err instanceof UpstreamJsonRpcError) throw new JsonRpcError(err.code, err.message);
  if (err instanceof UpstreamError) throw new JsonRpcError(JsonRpcCode.InternalError, err.message);
  throw err;
}

export class SessionContent {
  constructor(private readonly deps: ContentDeps) {}

  private async collect<T>(pick: (app: App) => ((ctx: AppCallContext) => Promise<T[]>) | undefined, map: (app: AppConfig, item: T) => T): Promise<Listed<T>> {
    const listed: Listed<T> = { items: [], failures: [] };
    await Promise.all(
      this.deps.apps.map(async (config) => {
        const instance = this.deps.instance(config);
        const list = pick(instance)?.bind(instance);
        if (!list) return;
        try {
          listed.items.push(...(await list(await this.deps.context(config))).map((item) => map(config, item)));
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

  async listPrompts() {
    return SessionContent.result("prompts", await this.collect<Prompt>((a) => a.listPrompts, (app, p) => ({ ...p, name: exposedName(app, p.name) })));
  }

  async getPrompt(name: string, args: Record<string, string>): Promise<GetPromptResult> {
    const target = candidateApp(this.deps.apps, name);
    const instance = target ? this.deps.instance(target.app) : undefined;
    if (!target || !instance?.getPrompt) throw new JsonRpcError(JsonRpcCode.InvalidParams, `Unknown prompt: ${name}`);
    return instance.getPrompt(target.upstreamName, args, await this.deps.context(target.app)).catch(asJsonRpcError);
  }

  async listResources() {
    const listed = await this.collect<Resource>(
      (a) => a.listResources,
      (app, r) => {
        this.deps.resourceIndex[r.uri] = app.name;
        return { ...r, name: exposedName(app, r.name) };
      },
    );
    return SessionContent.result("resources", listed);
  }

  async listResourceTemplates() {
    return SessionContent.result(
      "resourceTemplates",
      await this.collect<ResourceTemplate>((a) => a.listResourceTemplates, (app, t) => ({ ...t, name: exposedName(app, t.name) })),
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
    if (!target || !instance?.complete) throw new JsonRpcError(JsonRpcCode.InvalidParams, "Invalid params: no app offers completion for this reference");
    return instance.complete({ ...params, ref: target.ref }, await this.deps.context(target.app)).catch(asJsonRpcError);
  }

  /** resources/subscribe and resources/unsubscribe go to the app that serves the URI, as reads do. */
  async subscription(method: "resources/subscribe" | "resources/unsubscribe", uri: string): Promise<void> {
    const app = this.resourceApp(uri, (instance) => instance.subscription !== undefined);
    await this.deps.instance(app).subscription!(method, uri, await this.deps.context(app)).catch(asJsonRpcError);
  }

  /** The app that listed `uri`, else the only app able to serve it; -32602 when there is none. */
  private resourceApp(uri: string, able: (instance: App) => boolean): AppConfig {
    const candidates = this.deps.apps.filter((a) => able(this.deps.instance(a)));
    const owner = this.deps.resourceIndex[uri];
    const app = owner ? candidates.find((a) => a.name === owner) : candidates.length === 1 ? candidates[0] : undefined;
    if (!app) throw new JsonRpcError(JsonRpcCode.InvalidParams, `Unknown resource: ${uri}`);
    return app;
  }

  /**
   * Reads from the app that listed the URI; a URI nobody listed (one built from a template)
   * goes to the only app that offers resources, and is refused when that is ambiguous.
   */
  async readResource(uri: string): Promise<ReadResourceResult> {
    const app = this.resourceApp(uri, (instance) => instance.readResource !== undefined);
    return this.deps.instance(app).readResource!(uri, await this.deps.context(app)).catch(asJsonRpcError);
  }
}
