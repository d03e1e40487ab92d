// GET /.well-known/oauth-protected-resource[/<resource path>]: OAuth 2.0 Protected Resource
// Metadata (RFC 9728), which MCP clients read after a 401 to find the authorization server and,
// in `scopes_supported`, the scopes to ask for (advertised-scopes.ts).
import type { Context } from "hono";
import type { GatewayApp } from "../app-types.js";
import type { McpProviderConfig } from "../config-schema.js";
import { advertisedScopes } from "./advertised-scopes.js";

/** Per loaded configuration (it does not change once loaded): every request asks. */
const metadataUrls = new WeakMap<McpProviderConfig, { url: string; path: string }>();

function metadataLocation(provider: McpProviderConfig): { url: string; path: string } {
  let known = metadataUrls.get(provider);
  if (!known) {
    const resource = new URL(provider.resource);
    const suffix = resource.pathname === "/" ? "" : resource.pathname.replace(/\/$/, "");
    const url = `${resource.origin}${provider.authorization.oauth.metadataPath}${suffix}`;
    metadataUrls.set(provider, (known = { url, path: new URL(url).pathname }));
  }
  return known;
}

/** RFC 9728 §3.1: the well-known path is inserted between the resource's host and its path. */
export function resourceMetadataUrl(provider: McpProviderConfig): string {
  return metadataLocation(provider).url;
}

/** Both the root form and the path-suffixed form answer (clients try either). */
export function isMetadataPath(provider: McpProviderConfig, path: string): boolean {
  return path === provider.authorization.oauth.metadataPath || path === metadataLocation(provider).path;
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
