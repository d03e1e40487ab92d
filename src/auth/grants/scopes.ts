// The scopes this provider knows (RFC 6749 §3.3): OpenID Connect's own (OIDC Core §5.4, §11)
// and the ones the configuration names. Discovery publishes them; the grants and registration
// refuse any other.
import { OIDC_SCOPE_NAMES } from "../config-schema.js";
import type { ProviderContext } from "../provider-context.js";

export const OIDC_SCOPES: string[] = [...OIDC_SCOPE_NAMES];

/** OIDC Core §11: asks for a refresh token. Advertised in discovery's `scopes_supported`, as MCP clients look for it there. */
export const OFFLINE_ACCESS = "offline_access";

export function supportedScopes(provider: ProviderContext): string[] {
  return [...new Set([...OIDC_SCOPES, ...provider.config.provider.scopes])];
}
