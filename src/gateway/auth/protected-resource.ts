// GET /.well-known/oauth-protected-resource[/<resource path>]: OAuth 2.0 Protected Resource
// Metadata (RFC 9728), which MCP clients read after a 401 to find the authorization server and,
// in `scopes_supported`, the scopes to ask for (advertised-scopes.ts).
import type { Context } from "hono";
import type { GatewayApp } from "../app-types.js";
import type { McpProviderConfig } from "../config-schema.js";
import { advertisedScopes } from "./advertised-scopes.js";

/** RFC 9728 §3.1: the well-known path is inserted between the resource's host and its path. */
export function resourceMetadataUrl(provider: McpProviderConfig): string {
  const resource = new URL(provider.resource);
  const suffix = resource.pathname === "/" ? "" : resource.pathname.replace(/\/$/, "");
  return `${resource.origin}${provider.authorization.oauth.metadataPath}${suffix}`;
}

/** Both the root form and the path-suffixed form answer (clients try either). */
export function isMetadataPath(provider: McpProviderConfig, path: string): boolean {
  const root = provider.authorization.oauth.metadataPath;
  return path === root || path === new URL(resourceMetadataUrl(provider)).pathname;
}

export function getProtectedResourceMetadata(c: Context<GatewayApp>): Response {
  const config = c.get("config");
  const provider = config.provider;
  const { servers } = provider.authorization.oauth;
  const scopes = advertisedScopes(config);
  return c.json(
    {
      resource: provider.resource,
      authorization_servers: servers.map((s) => s.issuer.replace(/\/$/, "")),
      bearer_methods_supported: ["header"],
      ...(scopes.length ? { scopes_supported: scopes } : {}),
      resource_name: "AI Identity Gateway",
    },
    200,
    { "Cache-Control": "public, max-age=300" },
  );
}
