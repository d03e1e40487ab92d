// Namespacing: each app's tools are exposed as `<namespace>__<tool>` (namespace = toolNamespace,
// default the app name). "__" keeps names within what every MCP client accepts
// ([A-Za-z0-9_-], which some clients require, is a subset of the spec's [A-Za-z0-9_.-]).
import type { AppConfig } from "../apps-schema.js";

export const NAMESPACE_SEPARATOR = "__";

export function namespaceOf(app: AppConfig): string {
  return app.toolNamespace ?? app.name;
}

export function exposedName(app: AppConfig, upstreamName: string): string {
  const ns = namespaceOf(app);
  return ns ? `${ns}${NAMESPACE_SEPARATOR}${upstreamName}` : upstreamName;
}

/**
 * The app whose namespace prefixes `exposed`, and the upstream name with the prefix stripped.
 * Only a candidate: the caller still checks the name is in that app's own catalog, so no name
 * can reach a tool its app did not list.
 */
export function candidateApp(apps: AppConfig[], exposed: string): { app: AppConfig; upstreamName: string } | null {
  for (const app of apps) {
    const ns = namespaceOf(app);
    if (!ns) continue;
    const prefix = `${ns}${NAMESPACE_SEPARATOR}`;
    if (exposed.startsWith(prefix) && exposed.length > prefix.length)
      return { app, upstreamName: exposed.slice(prefix.length) };
  }
  const unprefixed = apps.find((app) => namespaceOf(app) === "");
  return unprefixed ? { app: unprefixed, upstreamName: exposed } : null;
}
