// grant_type=urn:ietf:params:oauth:grant-type:token-exchange (RFC 8693): trades an access token
// issued here (the subject) for a short-lived token bound to the audience of one tool. It runs
// on every tool call, so it costs one Redis round trip (the revocation check) and nothing more.
//
// Choices RFC 8693 leaves to the server (docs/auth-tier.md, "Token exchange"), written down here:
// - Only access tokens issued here are exchanged, and only access tokens are issued
//   (`subject_token_type`, `actor_token_type` and `requested_token_type` must all be
//   urn:ietf:params:oauth:token-type:access_token).
// - A subject or actor token must have been issued for an audience the caller serves
//   (`tokenExchange.subjectAudiences`, default the provider's `resources`), so a client cannot
//   exchange tokens that were meant for someone else (confused deputy).
// - At least one `audience` or `resource` is required, each in the caller's own
//   `allowedAudiences`; the issued token's `aud` is exactly those.
// - Scopes: requested ⊆ subject token's scopes ∩ the caller's `scopes` (an empty list allows
//   none), so a tool token never carries more than the user and the operator granted; without
//   `scope`, that intersection.
// - Lifetime: extension parameter `expires_in` (seconds), default `tokens.exchange.defaultTTL`;
//   above `tokens.exchange.maxTTL` the request is refused, not silently capped. The token never
//   outlives the subject (or actor) token.
// - Extension parameter `exchange_type=delegation|impersonation` (default delegation).
//   Delegation adds `act` naming the actor (the actor token's subject, else the agent that held the subject token), nested
//   over the subject token's own `act` (RFC 8693 §4.1). Impersonation is for clients configured
//   with `tokenExchange.impersonation` only; it adds no `act` but keeps one the subject token
//   already had, so a delegation chain cannot be laundered away.
// - The issued token carries no `fam` (refresh family): it goes to an upstream, which has no
//   business knowing the user's grant. Revoking the grant stops further exchanges at once (the
//   subject token is checked on every exchange); tokens already exchanged live out their short
//   lifetime (`tokens.exchange.maxTTL`, 5 minutes at most by default).
import { OAuthError } from "../../core/errors.js";
import type { Client } from "../clients/client.js";
import { required, type Form } from "../form.js";
import type { ProviderContext } from "../provider-context.js";
import { mintAccessToken, verifyAccessToken, type AccessTokenClaims, type ActClaim } from "../tokens/jwt.js";
import { checkResourceUri } from "./grant-checks.js";
import type { GrantRequest, TokenResponse } from "./grant.js";

/** RFC 8693 §3: the token type URI of an OAuth access token. */
export const ACCESS_TOKEN_TYPE_URI = "urn:ietf:params:oauth:token-type:access_token";

export type ExchangeType = "delegation" | "impersonation";

const invalidRequest = (why: string) => new OAuthError("invalid_request", why, 400);
const invalidTarget = (why: string) => new OAuthError("invalid_target", why, 400);
const invalidScope = (why: string) => new OAuthError("invalid_scope", why, 400);

/** A positive number of seconds, digits only (no signs, fractions or exponents). */
const SECONDS = /^[1-9][0-9]{0,9}$/;

interface ExchangeRequest {
  subjectToken: string;
  actorToken?: string;
  audience: string[];
  scope?: string[];
  ttlSec: number;
  exchangeType: ExchangeType;
}

export async function grantTokenExchange({ provider, client, form }: GrantRequest): Promise<TokenResponse> {
  // RFC 8693 §2.1: exchange is for clients that prove who they are; a public client
  // only names itself (as with client_credentials, OAuth 2.1 §4.2).
  if (client.tokenEndpointAuthMethod === "none")
    throw new OAuthError("unauthorized_client", "public clients may not exchange tokens", 400);
  const request = readExchangeRequest(provider, client, form);

  // Both tokens are checked concurrently: their revocation lookups cost one round trip of latency.
  const accepted = client.tokenExchange?.subjectAudiences ?? provider.config.provider.resources;
  const [subject, actor] = await Promise.all([
    verifyPresentedToken(provider, request.subjectToken, "subject_token", accepted),
    request.actorToken ? verifyPresentedToken(provider, request.actorToken, "actor_token", accepted) : undefined,
  ]);

  const scope = grantedScopes(subject, client, request.scope).join(" ");
  const act = request.exchangeType === "delegation" ? delegatedAct(subject, actor) : subject.act;
  const { token, claims } = await mintAccessToken(provider, {
    sub: subject.sub,
    // RFC 8693 §4.3: client_id names the client the new token is issued to, the caller.
    clientId: client.clientId,
    scope,
    audience: request.audience.length === 1 ? request.audience[0]! : request.audience,
    ttlSec: request.ttlSec,
    notAfter: Math.min(subject.exp, actor?.exp ?? Number.POSITIVE_INFINITY),
    ...(act ? { act } : {}),
    // The same user: its groups and roles travel on to the upstream.
    userClaims: subject as unknown as Record<string, unknown>,
  });
  // RFC 8693 §2.2.1
  const body: TokenResponse = {
    access_token: token,
    issued_token_type: ACCESS_TOKEN_TYPE_URI,
    token_type: "Bearer",
    expires_in: claims.exp - claims.iat,
  };
  if (scope) body.scope = scope;
  return body;
}

/** Validates every parameter before any token is verified: bad input costs no crypto, no I/O. */
function readExchangeRequest(provider: ProviderContext, client: Client, form: Form): ExchangeRequest {
  const subjectToken = required(form, "subject_token");
  requireAccessTokenType(required(form, "subject_token_type"), "subject_token_type");
  // RFC 8693 §2.1: actor_token_type is REQUIRED with an actor_token and MUST NOT be sent without.
  const actorToken = form.get("actor_token");
  const actorTokenType = form.get("actor_token_type");
  if (actorToken) requireAccessTokenType(required(form, "actor_token_type"), "actor_token_type");
  else if (actorTokenType) throw invalidRequest("actor_token_type must not be sent without an actor_token");
  const requestedType = form.get("requested_token_type");
  if (requestedType) requireAccessTokenType(requestedType, "requested_token_type");

  const exchangeType = readExchangeType(client, form, Boolean(actorToken));
  const scope = form.get("scope");
  return {
    subjectToken,
    ...(actorToken ? { actorToken } : {}),
    audience: readTargets(client, form),
    ...(scope !== undefined ? { scope: [...new Set(scope.split(" ").filter(Boolean))] } : {}),
    ttlSec: readLifetime(provider, form),
    exchangeType,
  };
}

function requireAccessTokenType(value: string, parameter: string): void {
  if (value !== ACCESS_TOKEN_TYPE_URI) throw invalidRequest(`${parameter} must be ${ACCESS_TOKEN_TYPE_URI}`);
}

function readExchangeType(client: Client, form: Form, hasActorToken: boolean): ExchangeType {
  const value = form.get("exchange_type") ?? "delegation";
  if (value !== "delegation" && value !== "impersonation")
    throw invalidRequest("exchange_type must be delegation or impersonation");
  if (value === "impersonation") {
    if (hasActorToken) throw invalidRequest("an actor_token names an actor, which impersonation does not have");
    if (!client.tokenExchange?.impersonation)
      throw new OAuthError("unauthorized_client", "this client may not request impersonation", 400);
  }
  return value;
}

/**
 * RFC 8693 §2.1 `audience` and `resource` (both may repeat) name where the token will be used.
 * Only the caller's own `allowedAudiences` qualify: the provider-wide resources are what users
 * grant to agents, not what a client may mint tool tokens for.
 */
function readTargets(client: Client, form: Form): string[] {
  const resources = form.getAll("resource");
  for (const resource of resources) checkResourceUri(resource);
  const targets = [...new Set([...form.getAll("audience"), ...resources])];
  // RFC 8707 §2: invalid_target covers a resource that is "missing".
  if (targets.length === 0) throw invalidTarget("name the token's audience or resource");
  for (const target of targets) {
    if (!client.allowedAudiences.includes(target))
      throw invalidTarget(`this client may not obtain tokens for ${target}`);
  }
  return targets;
}

/** Requested lifetime in seconds (`expires_in`), else the configured default. */
function readLifetime(provider: ProviderContext, form: Form): number {
  const { defaultTTL, maxTTL } = provider.config.provider.tokens.exchange;
  const maxSec = Math.max(1, Math.floor(maxTTL / 1000));
  const requested = form.get("expires_in");
  if (requested === undefined) return Math.min(maxSec, Math.max(1, Math.floor(defaultTTL / 1000)));
  if (!SECONDS.test(requested)) throw invalidRequest("expires_in must be a positive whole number of seconds");
  const ttlSec = Number(requested);
  if (ttlSec > maxSec) throw invalidRequest(`expires_in may not exceed ${maxSec} seconds`);
  return ttlSec;
}

/**
 * RFC 8693 §2.2.2: an invalid subject or actor token is `invalid_request`. Beyond what
 * verifyAccessToken checks (signature by our keys, typ, issuer, expiry, revocation), the token
 * must have been issued for an audience this client accepts.
 */
async function verifyPresentedToken(
  provider: ProviderContext,
  token: string,
  parameter: string,
  accepted: string[],
): Promise<AccessTokenClaims> {
  try {
    return await verifyAccessToken(provider, token, { audience: accepted, errorCode: "invalid_request" });
  } catch (err) {
    if (err instanceof OAuthError) throw invalidRequest(`${parameter} is not acceptable: ${err.description}`);
    throw err;
  }
}

/** Requested ⊆ subject's scopes ∩ the client's scopes; default all of that. */
function grantedScopes(subject: AccessTokenClaims, client: Client, requested: string[] | undefined): string[] {
  const allowed = (subject.scope ?? "").split(" ").filter((s) => s && client.scopes.includes(s));
  if (requested === undefined) return allowed;
  for (const s of requested) {
    if (!allowed.includes(s)) throw invalidScope(`the scope ${s} is not granted by the subject token to this client`);
  }
  return requested;
}

/**
 * RFC 8693 §4.1: the current actor outermost, earlier actors nested inside. Without an actor
 * token the actor is the agent that held the subject token (its `client_id`), not the caller:
 * the gateway brokers the exchange, the agent acts for the user (docs/auth-tier.md). The caller is
 * still recorded, as the issued token's `client_id`.
 */
function delegatedAct(subject: AccessTokenClaims, actor: AccessTokenClaims | undefined): ActClaim {
  const current: ActClaim = actor
    ? { sub: actor.sub, client_id: actor.client_id }
    : { sub: subject.client_id, client_id: subject.client_id };
  return subject.act ? { ...current, act: subject.act } : current;
}
