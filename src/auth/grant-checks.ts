// Checks shared by the grants: which scopes and resources a client may obtain.
import { OAuthError } from "../core/errors.js";
import type { Client } from "./clients.js";
import { supportedScopes } from "./discovery.js";
import type { ProviderContext } from "./provider-context.js";

/** The requested scopes, each known to the provider and allowed to the client (RFC 6749 §3.3). */
export function checkScopes(provider: ProviderContext, client: Client, scope: string | undefined): string[] {
  const requested = [...new Set((scope ?? "").split(" ").filter(Boolean))];
  const known = new Set(supportedScopes(provider));
  for (const s of requested) {
    if (!known.has(s)) throw new OAuthError("invalid_scope", `unknown scope: ${s}`, 400);
    if (client.scopes.length > 0 && !client.scopes.includes(s) && s !== "openid") {
      throw new OAuthError("invalid_scope", `this client may not request the scope ${s}`, 400);
    }
  }
  return requested;
}

/**
 * RFC 8707 §2: each resource is an absolute URI without a fragment, and must be one this
 * provider issues tokens for (provider-wide `resources` or the client's `allowedAudiences`).
 */
export function checkResources(provider: ProviderContext, client: Client, resources: string[]): string[] {
  const allowed = new Set([...provider.config.provider.resources, ...client.allowedAudiences]);
  for (const resource of resources) {
    let url: URL;
    try {
      url = new URL(resource);
    } catch {
      throw new OAuthError("invalid_target", "resource must be an absolute URI", 400);
    }
    if (url.hash) throw new OAuthError("invalid_target", "resource must not contain a fragment", 400);
    if (!allowed.has(resource)) throw new OAuthError("invalid_target", `tokens for ${resource} are not issued to this client`, 400);
  }
  return [...new Set(resources)];
}
