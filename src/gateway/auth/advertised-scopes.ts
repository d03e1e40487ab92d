// The scopes the gateway tells clients to ask for (MCP 2026-07-28 authorization, "Scope Selection
// Strategy"): the `scope` of its 401 and 403 challenges (RFC 6750 §3) and the `scopes_supported` of
// its protected resource metadata (RFC 9728 §2). A client that configures no scope of its own asks
// for exactly these, so they must be enough for the gateway to list its catalog.
//
// What is advertised: `requiredScopes`, plus `scopesSupported` when configured, otherwise every
// token-exchange app's `defaults.scopes`: what the gateway asks for on every listing, prompt and
// resource of that app, so a token without them cannot even see the app's tools. Per-tool scopes
// (e.g. a write tool's) are left out, as the spec's scope minimization asks: a client that needs
// one steps up. `offline_access` is never advertised: refresh tokens are the authorization
// server's business, not a requirement of this resource (MCP 2026-07-28 authorization, "Refresh
// Tokens"); the configuration refuses it, and this filters it from derived lists too.
// docs/auth/scopes-and-refresh-tokens.md.
import type { GatewayConfig } from "../config.js";

/** OIDC Core §11: the scope that asks the authorization server for a refresh token. */
export const OFFLINE_ACCESS = "offline_access";

const advertised = new WeakMap<GatewayConfig, string[]>();

/** The scopes to advertise for `config`, in configuration order, without duplicates. */
export function advertisedScopes(config: GatewayConfig): string[] {
  let scopes = advertised.get(config);
  if (!scopes) advertised.set(config, (scopes = deriveScopes(config)));
  return scopes;
}

function deriveScopes(config: GatewayConfig): string[] {
  const { requiredScopes, scopesSupported } = config.provider.authorization.oauth;
  const basic = scopesSupported ?? config.apps.flatMap(defaultExchangeScopes);
  return [...new Set([...requiredScopes, ...basic])].filter((scope) => scope !== OFFLINE_ACCESS);
}

function defaultExchangeScopes(app: GatewayConfig["apps"][number]): string[] {
  const outbound = app.authorization.outbound;
  if (outbound.type !== "tokenExchange") return [];
  return outbound.tokenExchange.defaults.scopes.map((scope) => scope.name);
}
