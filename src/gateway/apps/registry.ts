// One App instance per app configuration and isolate: apps keep caches (a parsed OpenAPI
// document, connected upstream clients) worth sharing across the sessions an isolate serves.
import type { AppConfig } from "../apps-schema.js";
import type { App, AppSessionState } from "./app.js";
import { McpBridgeApp } from "./mcp-bridge.js";
import { McpProxyApp } from "./mcp-proxy.js";

const instances = new WeakMap<AppConfig, App>();

export type ListName = "tools" | "prompts" | "resources";

/**
 * App instances are shared by the sessions of an isolate, so an upstream's list_changed
 * notification is routed back to its session through the session state object the call used.
 */
export const listChangedListeners = new WeakMap<AppSessionState, (list: ListName) => void>();

/** Likewise for notifications/resources/updated of a subscribed resource. */
export const resourceUpdatedListeners = new WeakMap<AppSessionState, (params: unknown) => void>();

export function appInstance(config: AppConfig): App {
  let app = instances.get(config);
  if (!app) {
    app =
      config.type === "mcpProxy"
        ? new McpProxyApp(config, {
            onListChanged: (list, state) => listChangedListeners.get(state)?.(list),
            onResourceUpdated: (params, state) => resourceUpdatedListeners.get(state)?.(params),
          })
        : new McpBridgeApp(config);
    instances.set(config, app);
  }
  return app;
}
