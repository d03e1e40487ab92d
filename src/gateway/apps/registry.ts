// One App instance per app configuration and isolate: apps keep caches (a parsed OpenAPI
// document, connected upstream clients) worth sharing across the sessions an isolate serves.
// What an upstream says about a session travels back in the call's own context (AppEvents).
import type { AppConfig } from "../apps-schema.js";
import type { App } from "./app.js";
import { McpBridgeApp } from "./mcp-bridge.js";
import { McpProxyApp } from "./mcp-proxy.js";

const instances = new WeakMap<AppConfig, App>();

export function appInstance(config: AppConfig): App {
  let app = instances.get(config);
  if (!app) {
    app = config.type === "mcpProxy" ? new McpProxyApp(config) : new McpBridgeApp(config);
    instances.set(config, app);
  }
  return app;
}
