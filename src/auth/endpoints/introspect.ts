// POST /introspect: token introspection (RFC 7662) for the resource servers the operator names
// (`apps[].introspection`, e.g. the gateway). Anything this provider would not honour right now,
// and anything asked by another client, is simply `{"active": false}` (RFC 7662 §2.2, §4).
import type { Context } from "hono";
import { OAuthError } from "../../core/errors.js";
import type { AuthApp } from "../app-types.js";
import { authenticateClient } from "../clients/client-auth.js";
import type { Client } from "../clients/client.js";
import { readForm, required } from "../form.js";
import type { ProviderContext } from "../provider-context.js";
import { lookupToken, type KnownToken } from "../tokens/lookup.js";

/**
 * RFC 7662 §2.1 leaves it to the server which tokens a caller may learn about, and §4 warns that
 * an open endpoint lets anyone probe tokens. Only a client the operator configured with
 * `introspection: true` learns anything, and of it only its own tokens and access tokens meant
 * for a resource it could obtain tokens for itself (the provider's resources and its allowed
 * audiences); refresh tokens only ever to their client. A self-registered client never does.
 */
function visibleTo(provider: ProviderContext, caller: Client, found: KnownToken): boolean {
  if (found.kind === "refresh") return found.family.clientId === caller.clientId;
  if (found.claims.client_id === caller.clientId) return true;
  const reachable = new Set([...provider.config.provider.resources, ...caller.allowedAudiences]);
  const audiences = Array.isArray(found.claims.aud) ? found.claims.aud : [found.claims.aud];
  return audiences.some((aud) => reachable.has(aud));
}

function introspectionOf(provider: ProviderContext, found: KnownToken): Record<string, unknown> {
  if (found.kind === "refresh") {
    const { family } = found;
    return { active: true, iss: provider.issuer, client_id: family.clientId, sub: family.sub, scope: family.scope };
  }
  const { claims } = found;
  return {
    active: true,
    iss: claims.iss,
    client_id: claims.client_id,
    sub: claims.sub,
    aud: claims.aud,
    ...(claims.scope ? { scope: claims.scope } : {}),
    exp: claims.exp,
    iat: claims.iat,
    ...(claims.nbf !== undefined ? { nbf: claims.nbf } : {}),
    jti: claims.jti,
    token_type: "Bearer",
    // RFC 8693 §4.1: who is acting on the subject's behalf.
    ...(claims.act ? { act: claims.act } : {}),
  };
}

export async function postIntrospect(c: Context<AuthApp>): Promise<Response> {
  const provider = c.get("provider");
  const form = await readForm(c);
  const caller = await authenticateClient(c, provider, form);
  // RFC 7662 §2.1 requires authorization to introspect; a public client proves no identity.
  if (caller.tokenEndpointAuthMethod === "none")
    throw new OAuthError("invalid_client", "only confidential clients may introspect tokens", 401);
  const token = required(form, "token");
  // Another client is not even looked up for, so it learns nothing from how long the answer took.
  const mayIntrospect = caller.source === "config" && caller.introspection === true;
  const found = mayIntrospect ? await lookupToken(provider, token) : null;
  const body = found && visibleTo(provider, caller, found) ? introspectionOf(provider, found) : { active: false };
  // RFC 7662 §4: the answer reflects the token's state now; caches must not replay it.
  return c.json(body, 200, { "Cache-Control": "no-store", Pragma: "no-cache" });
}
