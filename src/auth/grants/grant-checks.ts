// Checks shared by the grants: which scopes and resources a client may obtain (RFC 6749 §3.3,
// RFC 8707 §2). No list here means "everything": a client obtains what its configuration grants.
//
// - A configured client (`apps[]`) obtains the provider scopes its `scopes` lists.
// - A registered (RFC 7591) or metadata-document client acts for a user: it obtains the provider
//   scopes its registration holds, capped by `registration.defaultScopes` as configured now. For
//   the client credentials grant (no user) it obtains nothing unless
//   `registration.machineClients` is on, and then at most that switch's scopes and resources.
// - The OIDC scopes (openid, profile, email, offline_access) ask about the signed-in user, who
//   consents to them: any client of the authorization code grant may request them, and no
//   client may in a grant without a user.
// - `offline_access` asks for a refresh token (OIDC Core §11; MCP 2026-07-28 authorization,
//   "Refresh Tokens"). Refresh tokens go to clients that registered the refresh_token grant, with
//   or without it (tokens/refresh-tokens.ts). A client that did not is not offered it, and its
//   request for it is ignored as OIDC Core §11 says (dropped from the grant, not refused), so the
//   granted scope never claims offline access the client does not get.
import { OAuthError } from "../../core/errors.js";
import type { Client } from "../clients/client.js";
import { GRANT_TYPES } from "../config-schema.js";
import type { ProviderContext } from "../provider-context.js";
import { OFFLINE_ACCESS, OIDC_SCOPES, supportedScopes } from "./scopes.js";

/** Whom the token is for: a signed-in user (authorization code, refresh) or the client itself (client_credentials). */
export type GrantPurpose = "user" | "machine";

/** The operator configured this client; registered and metadata-document clients are anyone's. */
export function isConfiguredClient(client: Client): boolean {
  return client.source === "config";
}

/**
 * Whether `client` may use the client credentials grant: a configured client that lists it, or,
 * with `registration.machineClients.enabled`, a confidential registered or metadata-document
 * client that registered it.
 */
export function mayObtainMachineTokens(provider: ProviderContext, client: Client): boolean {
  if (!client.grantTypes.includes(GRANT_TYPES.clientCredentials)) return false;
  return isConfiguredClient(client) || provider.config.provider.registration.machineClients.enabled;
}

/** The scopes `client` may obtain for `purpose`, as the module comment describes. */
export function grantableScopes(provider: ProviderContext, client: Client, purpose: GrantPurpose): Set<string> {
  const { registration } = provider.config.provider;
  let scopes = client.scopes;
  if (!isConfiguredClient(client)) {
    const machine = registration.machineClients;
    const cap = purpose === "machine" ? (machine.enabled ? machine.scopes : []) : registration.defaultScopes;
    scopes = scopes.filter((s) => cap.includes(s));
  }
  const allowed = new Set(scopes);
  if (purpose === "user" && client.grantTypes.includes(GRANT_TYPES.authorizationCode))
    for (const s of OIDC_SCOPES) if (s !== OFFLINE_ACCESS || mayRefresh(client)) allowed.add(s);
  return allowed;
}

function mayRefresh(client: Client): boolean {
  return client.grantTypes.includes(GRANT_TYPES.refreshToken);
}

/** The requested scopes, each known to the provider and allowed to the client for `purpose` (RFC 6749 §3.3). */
export function checkScopes(
  provider: ProviderContext,
  client: Client,
  scope: string | undefined,
  purpose: GrantPurpose = "user",
): string[] {
  const requested = [...new Set((scope ?? "").split(" ").filter(Boolean))];
  const known = new Set(supportedScopes(provider));
  const allowed = grantableScopes(provider, client, purpose);
  // OIDC Core §11: offline_access from a client that cannot refresh is ignored, not refused.
  const ignored = (s: string) => s === OFFLINE_ACCESS && purpose === "user" && !mayRefresh(client);
  for (const s of requested) {
    if (!known.has(s)) throw new OAuthError("invalid_scope", `unknown scope: ${s}`, 400);
    if (!allowed.has(s) && !ignored(s))
      throw new OAuthError("invalid_scope", `this client may not request the scope ${s}`, 400);
  }
  return requested.filter((s) => !ignored(s));
}

/**
 * The resources and audiences `client` may obtain tokens for: the provider-wide `resources` and
 * its `allowedAudiences`; for a registered machine client, the `machineClients.resources` only.
 */
export function grantableResources(provider: ProviderContext, client: Client, purpose: GrantPurpose): Set<string> {
  if (purpose === "machine" && !isConfiguredClient(client)) {
    const machine = provider.config.provider.registration.machineClients;
    return new Set(machine.enabled ? machine.resources : []);
  }
  return new Set([...provider.config.provider.resources, ...client.allowedAudiences]);
}

/** RFC 8707 §2 (and RFC 8693 §2.1 for token exchange): a `resource` is an absolute URI without a fragment. */
export function checkResourceUri(resource: string): void {
  let url: URL;
  try {
    url = new URL(resource);
  } catch {
    throw new OAuthError("invalid_target", "resource must be an absolute URI", 400);
  }
  if (url.hash) throw new OAuthError("invalid_target", "resource must not contain a fragment", 400);
}

/**
 * RFC 8707 §2: each resource is an absolute URI without a fragment, and must be one this
 * provider issues tokens for to this client (`grantableResources`).
 */
export function checkResources(
  provider: ProviderContext,
  client: Client,
  resources: string[],
  purpose: GrantPurpose = "user",
): string[] {
  const allowed = grantableResources(provider, client, purpose);
  for (const resource of resources) {
    checkResourceUri(resource);
    if (!allowed.has(resource))
      throw new OAuthError("invalid_target", `tokens for ${resource} are not issued to this client`, 400);
  }
  return [...new Set(resources)];
}
