// Bearer token validation at the MCP endpoint (MCP authorization, RFC 6750, RFC 9068, RFC 8707):
// the token must be a JWT signed by a configured authorization server, for this gateway's
// audience, unexpired. 401s carry WWW-Authenticate with the resource metadata URL (RFC 9728 §5.1)
// and the scopes a client should ask for (RFC 6750 §3; MCP 2026-07-28 authorization, "Scope
// Selection Strategy": clients request the challenge's `scope` first); 403s name every scope the
// request lacks in one challenge (RFC 6750 §3.1).
import { ErrorCode } from "@modelcontextprotocol/sdk/types.js";
import type { Context } from "hono";
import { decodeJwt, errors as joseErrors, jwtVerify } from "jose";
import { GatewayErrorCode, JsonRpcError } from "../../core/errors.js";
import { ExpiringCache } from "../../core/expiring-cache.js";
import { log } from "../../core/log.js";
import type { GatewayApp } from "../app-types.js";
import type { AuthorizationServerConfig } from "../config-schema.js";
import { advertisedScopes } from "./advertised-scopes.js";
import { keySetFor } from "./jwks.js";
import type { Principal } from "./principal.js";
import { resourceMetadataUrl } from "./protected-resource.js";
import { endSessionOfInactiveToken, IntrospectionUnavailable, tokenActivity } from "./token-introspection.js";

function quoted(value: string): string {
  return `"${value.replace(/["\\]/g, "")}"`;
}

function unauthorized(c: Context<GatewayApp>, error?: { code: string; description: string }): JsonRpcError {
  const config = c.get("config");
  const params = [`resource_metadata=${quoted(resourceMetadataUrl(config.provider))}`];
  const scopes = advertisedScopes(config);
  if (scopes.length) params.push(`scope=${quoted(scopes.join(" "))}`);
  if (error) params.push(`error=${quoted(error.code)}`, `error_description=${quoted(error.description)}`);
  return new JsonRpcError(
    GatewayErrorCode.ServerError,
    error ? `Unauthorized: ${error.description}` : "Unauthorized: a bearer token is required",
    401,
    undefined,
    {
      "WWW-Authenticate": `Bearer ${params.join(", ")}`,
    },
  );
}

const invalidToken = (c: Context<GatewayApp>, description: string) =>
  unauthorized(c, { code: "invalid_token", description });

/** RFC 6750 §3.1: a valid token without the needed scope gets 403 with the scope it needs. */
function insufficientScope(c: Context<GatewayApp>, required: string[]): JsonRpcError {
  const params = [
    `error="insufficient_scope"`,
    `scope=${quoted(required.join(" "))}`,
    `resource_metadata=${quoted(resourceMetadataUrl(c.get("config").provider))}`,
  ];
  return new JsonRpcError(
    GatewayErrorCode.ServerError,
    `Forbidden: the token lacks the scope ${required.join(" ")}`,
    403,
    undefined,
    {
      "WWW-Authenticate": `Bearer ${params.join(", ")}`,
    },
  );
}

export interface Authenticated {
  principal: Principal;
  /** The verified bearer token itself: the subject of token exchanges, never sent upstream. */
  token: string;
  /** The verified token's claims (policies see a documented subset: policy/input.ts USER_CLAIMS). */
  claims: Record<string, unknown>;
}

/** The caller of this request, or a 401 JsonRpcError to throw. */
export async function authenticate(c: Context<GatewayApp>): Promise<Authenticated> {
  const header = c.req.header("Authorization");
  if (!header) throw unauthorized(c);
  const match = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(header.trim());
  if (!match) throw invalidToken(c, "the Authorization header is not a Bearer token");
  const token = match[1]!;
  const { servers } = c.get("config").provider.authorization.oauth;

  // A token verified before is found under the server that verified it, without decoding it again.
  let server = servers.find((s) => verifiedTokens.get(s)?.get(token));
  if (!server) {
    let issuer: unknown;
    try {
      issuer = decodeJwt(token).iss;
    } catch {
      throw invalidToken(c, "the token is not a JWT");
    }
    server = servers.find((s) => s.issuer === issuer || s.issuer.replace(/\/$/, "") === issuer);
    if (!server) throw invalidToken(c, "the token was not issued by a trusted authorization server");
  }
  const { principal, claims } = await verifyWith(c, server, token);
  await ensureActive(c, server, token, principal, claims);
  const required = c.get("config").provider.authorization.oauth.requiredScopes;
  const missing = required.filter((scope) => !principal.scopes.includes(scope));
  if (missing.length) throw insufficientScope(c, required);
  return { principal, token, claims };
}

/** With `tokenValidation.introspection`: a revoked token gets 401 invalid_token; no answer, 503. */
async function ensureActive(
  c: Context<GatewayApp>,
  server: AuthorizationServerConfig,
  token: string,
  principal: Principal,
  claims: Record<string, unknown>,
): Promise<void> {
  if (!server.tokenValidation.introspection) return;
  const config = c.get("config");
  let activity;
  try {
    activity = await tokenActivity(c.env, config.provider, config.secrets, server, {
      token,
      expiresAt: principal.expiresAt,
      ...(typeof claims.jti === "string" ? { jti: claims.jti } : {}),
    });
  } catch (err) {
    if (!(err instanceof IntrospectionUnavailable)) throw err;
    log("warn", "auth.introspection_failed", { issuer: server.issuer, error: err.message });
    throw new JsonRpcError(
      ErrorCode.InternalError,
      "the authorization server cannot confirm the token is still active; try again shortly",
      503,
      undefined,
      { "Retry-After": String(err.retryAfter) },
    );
  }
  if (activity === "inactive") {
    endSessionOfInactiveToken(c, c.req.header(config.provider.transports.stream.session.headerName), principal);
    throw invalidToken(c, "the token is no longer active (revoked)");
  }
}

interface Verified {
  principal: Principal;
  claims: Record<string, unknown>;
}

/**
 * Tokens already verified, per authorization server configuration: an agent presents the same
 * token on every MCP request of its session, and one signature check is most of what a request
 * costs the front (npm run bench). Entries end with the token's `exp` plus the clock skew, as
 * jwtVerify judges it, and after five minutes at most (the JWKS itself is cached for ten).
 */
const verifiedTokens = new WeakMap<AuthorizationServerConfig, ExpiringCache<Verified>>();

async function verifyWith(c: Context<GatewayApp>, server: AuthorizationServerConfig, token: string): Promise<Verified> {
  let verified = verifiedTokens.get(server);
  if (!verified) verifiedTokens.set(server, (verified = new ExpiringCache(1_000, 5 * 60_000)));
  // Copies: a request must not change what the next one is told.
  const known = verified.get(token);
  if (known)
    return { principal: { ...known.principal, scopes: [...known.principal.scopes] }, claims: { ...known.claims } };
  const result = await verifySignature(c, server, token);
  const toleranceMs = Math.floor(server.tokenValidation.jwt.clockSkew / 1000) * 1000;
  verified.set(
    token,
    { principal: { ...result.principal, scopes: [...result.principal.scopes] }, claims: { ...result.claims } },
    result.principal.expiresAt * 1000 + toleranceMs,
  );
  return result;
}

async function verifySignature(
  c: Context<GatewayApp>,
  server: AuthorizationServerConfig,
  token: string,
): Promise<Verified> {
  const validation = server.tokenValidation;
  let keys;
  try {
    keys = await keySetFor(c.env, server);
  } catch {
    throw new JsonRpcError(ErrorCode.InternalError, "the authorization server's keys are unavailable", 503, undefined, {
      "Retry-After": "5",
    });
  }
  try {
    const { payload } = await jwtVerify(token, keys, {
      issuer: [server.issuer, server.issuer.replace(/\/$/, "")],
      audience: validation.expectedAudiences,
      algorithms: validation.jwt.algorithms,
      clockTolerance: Math.floor(validation.jwt.clockSkew / 1000),
      requiredClaims: ["sub", "exp"],
      ...(validation.jwt.requireAccessTokenType ? { typ: "at+jwt" } : {}),
    });
    const clientId = [payload.client_id, payload.azp, payload.cid].find((v): v is string => typeof v === "string");
    if (!clientId) throw invalidToken(c, "the token names no client");
    const principal: Principal = {
      issuer: payload.iss!,
      sub: payload.sub!,
      clientId,
      scopes: typeof payload.scope === "string" ? payload.scope.split(" ").filter(Boolean) : [],
      expiresAt: payload.exp!,
      ...(typeof payload.fam === "string" ? { grant: payload.fam } : {}),
    };
    return { principal, claims: payload };
  } catch (err) {
    if (err instanceof JsonRpcError) throw err;
    if (err instanceof joseErrors.JWTExpired) throw invalidToken(c, "the token has expired");
    if (err instanceof joseErrors.JWTClaimValidationFailed)
      throw invalidToken(c, `the token's ${err.claim} claim is not acceptable`);
    if (err instanceof joseErrors.JWKSNoMatchingKey) throw invalidToken(c, "the token was signed by an unknown key");
    if (err instanceof joseErrors.JWKSTimeout || !(err instanceof joseErrors.JOSEError)) {
      throw new JsonRpcError(
        ErrorCode.InternalError,
        "the authorization server's keys are unavailable",
        503,
        undefined,
        { "Retry-After": "5" },
      );
    }
    throw invalidToken(c, "the token's signature or header is not valid");
  }
}
