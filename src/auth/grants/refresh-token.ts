// The refresh token grant (OAuth 2.1 §4.3) with rotation and reuse detection (OAuth 2.1 §4.3.1,
// RFC 9700 §4.14.2): every refresh returns a new refresh token, and the family's own client
// presenting a token that was really rotated out of the family revokes the whole family, its
// access tokens included. A token nobody was issued, or another client's, is only invalid_grant:
// whoever has seen an access token cannot end the user's grant.
//
// A retry is not a reuse: within `tokens.refreshReuseGrace` of a rotation, the same client
// presenting the token that rotation replaced, while its successor is still unused, gets that
// successor again with a new access token (docs/reliability/store-faults.md: an answer lost to a stall or a
// dropped connection must not cost the user the grant). Okta and Auth0 offer the same window.
import { OAuthError } from "../../core/errors.js";
import { log } from "../../core/log.js";
import { required, type Form } from "../form.js";
import type { ProviderContext } from "../provider-context.js";
import type { RefreshFamily } from "../store/store.js";
import { releasedClaims } from "../tokens/claims.js";
import { mintAccessToken, mintIdToken } from "../tokens/jwt.js";
import { accessTokenAudience, newRefreshToken, parseRefreshToken } from "../tokens/refresh-tokens.js";
import type { GrantRequest, TokenResponse } from "./grant.js";

const invalidGrant = () => new OAuthError("invalid_grant", "the refresh token is invalid, expired or revoked", 400);

/**
 * What this refresh may obtain from `family`: checked before the token rotates, so that a
 * refused request does not cost the client its refresh token.
 */
function checkRefreshRequest(family: RefreshFamily, form: Form): { scopes: string[]; resources: string[] } {
  const granted = family.scope.split(" ").filter(Boolean);
  // OAuth 2.1 §4.3.1: the scope may narrow the original grant, never widen it; omitted = original.
  const requested = form.get("scope")?.split(" ").filter(Boolean);
  const scopes = requested ? [...new Set(requested)] : granted;
  const extra = scopes.find((s) => !granted.includes(s));
  if (extra !== undefined) throw new OAuthError("invalid_scope", `the scope ${extra} was not granted`, 400);
  // RFC 8707 §2.2: a refresh may ask for a token for fewer of the grant's resources.
  const asked = [...new Set(form.getAll("resource"))];
  const foreign = asked.find((r) => !family.resource.includes(r));
  if (foreign !== undefined) throw new OAuthError("invalid_target", `the grant does not cover ${foreign}`, 400);
  return { scopes, resources: asked.length > 0 ? asked : family.resource };
}

export async function grantRefreshToken({ provider, client, form }: GrantRequest): Promise<TokenResponse> {
  const presented = required(form, "refresh_token");
  const parsed = parseRefreshToken(presented);
  if (!parsed) throw invalidGrant();
  const { store } = provider;
  const { tokens } = provider.config.provider;
  // A refresh that narrows nothing (no scope, no resource) checks nothing in the family's record
  // before rotating but its client, which the rotation script checks itself: one store request.
  if (form.get("scope") === undefined && form.getAll("resource").length === 0) {
    const answered = await refreshInOneStep({ provider, client, form }, parsed.familyId);
    if (answered) return answered;
  }

  // The current token of a live family, or else one really rotated out of it: anything else
  // (made up, another family's, expired, revoked) is invalid and changes nothing.
  // Records never change after creation, so checks made on these reads still hold after rotating.
  const current = await store.getFamily(parsed.familyId, presented);
  const family = current ?? (await store.getRotatedRefresh(parsed.familyId, presented))?.family;
  if (!family) throw invalidGrant();
  // OAuth 2.1 §4.3.1: the refresh token is bound to the client it was issued to. Another client
  // presenting it, even a superseded one, learns nothing and revokes nothing.
  if (family.clientId !== client.clientId) throw invalidGrant();
  // Checked before the token rotates, so that a refused request does not cost the client its token.
  const request = current ? checkRefreshRequest(current, form) : null;

  // A superseded token goes to the rotation too: the script revokes the family for it (reuse),
  // unless it is a retry of the rotation that superseded it (within the grace window).
  const next = newRefreshToken(parsed.familyId);
  const rotated = await store.rotateRefresh(
    parsed.familyId,
    presented,
    next,
    tokens.accessTokenTTL,
    tokens.refreshReuseGrace,
  );
  if (rotated.status === "reused") {
    throw new OAuthError("invalid_grant", "refresh token reuse detected; the grant is revoked", 400);
  }
  if (rotated.status === "retry") {
    log("info", "refresh.retried_within_grace", { client_id: client.clientId });
    return tokenResponse(provider, family, parsed.familyId, checkRefreshRequest(family, form), rotated.successor);
  }
  if (rotated.status !== "ok" || !request) throw invalidGrant();
  return tokenResponse(provider, family, parsed.familyId, request, next);
}

/**
 * The refresh of a request that asks for the whole grant: the family's lookup, its client check
 * and the rotation in one script (store.rotateRefreshOfClient), with the same outcomes as the
 * two-step path: another client's token, a made-up one or a dead family change nothing. Null when
 * the family is not in the client's grant index (another client's, or one created before the
 * indexes existed): nothing changed, and the two-step path decides.
 */
async function refreshInOneStep(
  { provider, client, form }: GrantRequest,
  familyId: string,
): Promise<TokenResponse | null> {
  const { tokens } = provider.config.provider;
  const presented = required(form, "refresh_token");
  const next = newRefreshToken(familyId);
  const { result, family } = await provider.store.rotateRefreshOfClient(
    familyId,
    presented,
    next,
    client.clientId,
    tokens.accessTokenTTL,
    tokens.refreshReuseGrace,
  );
  if (result.status === "unchecked") return null;
  if (result.status === "reused") {
    throw new OAuthError("invalid_grant", "refresh token reuse detected; the grant is revoked", 400);
  }
  if (!family || (result.status !== "ok" && result.status !== "retry")) throw invalidGrant();
  if (result.status === "retry") log("info", "refresh.retried_within_grace", { client_id: client.clientId });
  const successor = result.status === "retry" ? result.successor : next;
  return tokenResponse(provider, family, familyId, checkRefreshRequest(family, form), successor);
}

/** The answer of a refresh: a new access token (and ID token), and the family's refresh token `refreshToken`. */
async function tokenResponse(
  provider: ProviderContext,
  family: RefreshFamily,
  familyId: string,
  request: { scopes: string[]; resources: string[] },
  refreshToken: string,
): Promise<TokenResponse> {
  const { tokens } = provider.config.provider;
  const scope = request.scopes.join(" ");
  const { token, claims } = await mintAccessToken(provider, {
    sub: family.sub,
    clientId: family.clientId,
    scope,
    audience: accessTokenAudience(provider, request.resources),
    ttlSec: Math.floor(tokens.accessTokenTTL / 1000),
    familyId,
    ...(family.accessClaims ? { userClaims: family.accessClaims } : {}),
  });
  const body: TokenResponse = {
    access_token: token,
    token_type: "Bearer",
    expires_in: claims.exp - claims.iat,
    scope,
    refresh_token: refreshToken,
  };
  // OIDC Core §12.2: same iss, sub, aud; auth_time of the original authentication; no nonce.
  if (request.scopes.includes("openid")) {
    body.id_token = await mintIdToken(provider, {
      sub: family.sub,
      clientId: family.clientId,
      authTime: family.authTime,
      ...(family.sid ? { sid: family.sid } : {}),
      claims: releasedClaims(family.claims, request.scopes),
      ttlSec: Math.floor(tokens.idTokenTTL / 1000),
    });
  }
  return body;
}
