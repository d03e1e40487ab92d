// The client credentials grant (OAuth 2.1 §4.2): a machine agent obtains a token for itself.
// A token with no user behind it is the operator's to grant: configured clients (`apps[]`) get
// one; registered and metadata-document clients only under `registration.machineClients`, with
// its scopes and resources (grant-checks.ts; docs/auth-tier.md).
import { OAuthError } from "../../core/errors.js";
import { mintAccessToken } from "../tokens/jwt.js";
import { accessTokenAudience } from "../tokens/refresh-tokens.js";
import {
  checkResources,
  checkScopes,
  grantableResources,
  isConfiguredClient,
  mayObtainMachineTokens,
} from "./grant-checks.js";
import type { GrantRequest, TokenResponse } from "./grant.js";
import { OIDC_SCOPES } from "./scopes.js";

/**
 * The token's audience. Requested by RFC 8707 `resource` (absolute URIs) or `audience` (logical
 * names, as in RFC 8693 §2.1), both repeatable. When neither is sent, the audience is the one the
 * client is configured for, if it has exactly one; a provider-wide default would hand out tokens
 * for resources nobody asked for, so otherwise the client must name one.
 */
function requestedAudience({ provider, client, form }: GrantRequest): string[] {
  const resources = checkResources(provider, client, form.getAll("resource"), "machine");
  const allowed = grantableResources(provider, client, "machine");
  const audiences = form.getAll("audience");
  for (const audience of audiences) {
    if (!allowed.has(audience))
      throw new OAuthError("invalid_target", `tokens for ${audience} are not issued to this client`, 400);
  }
  const requested = [...new Set([...resources, ...audiences])];
  if (requested.length > 0) return requested;
  const own = isConfiguredClient(client) ? client.allowedAudiences : [...allowed];
  if (own.length === 1) return own;
  throw new OAuthError("invalid_target", "name the protected resource with the resource (or audience) parameter", 400);
}

export async function grantClientCredentials(request: GrantRequest): Promise<TokenResponse> {
  const { provider, client, form } = request;
  // OAuth 2.1 §4.2: only confidential clients; a public client's "credentials" prove nothing.
  if (client.tokenEndpointAuthMethod === "none") {
    throw new OAuthError("unauthorized_client", "public clients may not use the client_credentials grant", 400);
  }
  // Checked here as well as by the grant type list: a registration stored before the switch
  // existed, or made while it was on, gets nothing once it is off.
  if (!mayObtainMachineTokens(provider, client)) {
    throw new OAuthError("unauthorized_client", "client_credentials is for clients the operator configured", 400);
  }
  // OIDC scopes ask for an end user's identity; there is none in this grant.
  const userScope = form
    .get("scope")
    ?.split(" ")
    .find((s) => OIDC_SCOPES.includes(s));
  if (userScope)
    throw new OAuthError("invalid_scope", `the scope ${userScope} needs an end user; client_credentials has none`, 400);
  const scopes = checkScopes(provider, client, form.get("scope"), "machine");
  const audience = requestedAudience(request);

  // RFC 6749 §3.3: no scope requested means none granted (least privilege), not "all allowed".
  const scope = scopes.join(" ");
  const { token, claims } = await mintAccessToken(provider, {
    sub: client.clientId,
    clientId: client.clientId,
    scope,
    audience: accessTokenAudience(provider, audience),
    ttlSec: Math.floor(provider.config.provider.tokens.accessTokenTTL / 1000),
  });
  // OAuth 2.1 §4.2.3: no refresh token; the client can always ask again.
  return {
    access_token: token,
    token_type: "Bearer",
    expires_in: claims.exp - claims.iat,
    ...(scope ? { scope } : {}),
  };
}
