// Minting and verifying the JWTs this provider issues. Access tokens follow RFC 9068
// (`typ: at+jwt`); ID tokens follow OIDC Core §2.
import { errors as joseErrors, jwtVerify, SignJWT, decodeProtectedHeader, type JWTPayload } from "jose";
import { randomToken } from "../../core/encoding.js";
import { OAuthError } from "../../core/errors.js";
import { ExpiringCache } from "../../core/expiring-cache.js";
import type { KeyRing } from "../keys.js";
import type { ProviderContext } from "../provider-context.js";
import { familyReference } from "../store/family-reference.js";
import { accessTokenClaims } from "./claims.js";

/** RFC 8693 §4.1: the acting party, nested when the subject token already named one. */
export interface ActClaim {
  sub: string;
  client_id?: string;
  act?: ActClaim;
}

export interface AccessTokenClaims extends JWTPayload {
  iss: string;
  sub: string;
  aud: string | string[];
  exp: number;
  iat: number;
  jti: string;
  client_id: string;
  scope?: string;
  act?: ActClaim;
  /**
   * The refresh-token family the token came from, so that revoking the family revokes it: the
   * family's reference (store/family-reference.ts), never the family id itself.
   */
  fam?: string;
  /**
   * The store epoch the token was issued under (docs/reliability/store-faults.md): once the store has
   * another one, it has lost what it knew about this token (its revocation included), so the
   * token is no longer honoured.
   */
  ep?: string;
}

export interface AccessTokenInput {
  sub: string;
  clientId: string;
  scope: string;
  audience: string | string[];
  ttlSec: number;
  act?: ActClaim;
  /** The refresh-token family the token belongs to; the token carries only its reference. */
  familyId?: string;
  /** Upper bound on `exp` (e.g. the subject token's expiry in a token exchange). */
  notAfter?: number;
  /** A `jti` chosen beforehand (the code grant records it before minting, for replay revocation). */
  jti?: string;
  /** Issue time chosen beforehand, in seconds. */
  iat?: number;
  /** User claims for resource servers (groups, roles: claims.ts accessTokenClaims). */
  userClaims?: Record<string, unknown>;
}

export const ACCESS_TOKEN_TYPE = "at+jwt";
/** The `typ` of ID tokens, which tells them from access tokens and the device cookie. */
export const ID_TOKEN_TYPE = "JWT";
const nowSec = () => Math.floor(Date.now() / 1000);

async function sign(provider: ProviderContext, payload: JWTPayload, typ: string): Promise<string> {
  const { signer } = provider.keys;
  return new SignJWT(payload).setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ }).sign(signer.key);
}

export async function mintAccessToken(
  provider: ProviderContext,
  input: AccessTokenInput,
): Promise<{ token: string; claims: AccessTokenClaims }> {
  const iat = input.iat ?? nowSec();
  const exp = Math.min(iat + input.ttlSec, input.notAfter ?? Number.POSITIVE_INFINITY);
  const claims: AccessTokenClaims = {
    // First, so that no user claim can stand in for a registered one.
    ...accessTokenClaims(input.userClaims),
    iss: provider.issuer,
    sub: input.sub,
    aud: input.audience,
    exp,
    iat,
    nbf: iat,
    jti: input.jti ?? randomToken(16),
    client_id: input.clientId,
    ...(input.scope ? { scope: input.scope } : {}),
    ...(input.act ? { act: input.act } : {}),
    ...(input.familyId ? { fam: await familyReference(input.familyId) } : {}),
    ep: await provider.store.currentEpoch(),
  };
  return { token: await sign(provider, claims, ACCESS_TOKEN_TYPE), claims };
}

export interface IdTokenInput {
  sub: string;
  clientId: string;
  authTime: number;
  nonce?: string;
  /** The login session the ID token comes from (OpenID Connect Front-Channel Logout 1.0 §2). */
  sid?: string;
  claims: Record<string, unknown>;
  ttlSec: number;
}

export async function mintIdToken(provider: ProviderContext, input: IdTokenInput): Promise<string> {
  const iat = nowSec();
  return sign(
    provider,
    {
      ...input.claims,
      iss: provider.issuer,
      sub: input.sub,
      aud: input.clientId,
      azp: input.clientId,
      iat,
      exp: iat + input.ttlSec,
      auth_time: input.authTime,
      ...(input.nonce ? { nonce: input.nonce } : {}),
      ...(input.sid ? { sid: input.sid } : {}),
    },
    ID_TOKEN_TYPE,
  );
}

export interface VerifyOptions {
  /** Required audience, when the caller needs one. */
  audience?: string | string[];
  /** Error code to raise (`invalid_grant` for subject tokens, `invalid_token` for bearer use). */
  errorCode?: string;
}

/**
 * Access tokens that passed every check but revocation, per key ring (SIGNING_KEYS): an agent's
 * session presents the same subject token for every tool call, so its signature is checked
 * once; revocation is checked on every use (RFC 7009), expiry by the cache.
 */
const verified = new WeakMap<KeyRing, ExpiringCache<AccessTokenClaims>>();

function verifiedTokens(provider: ProviderContext): ExpiringCache<AccessTokenClaims> {
  let tokens = verified.get(provider.keys);
  if (!tokens) verified.set(provider.keys, (tokens = new ExpiringCache(2_000, 5 * 60_000)));
  return tokens;
}

/**
 * Verifies an access token issued here: signature by one of our keys with its own algorithm
 * (never `none`, never HMAC), `typ: at+jwt`, issuer, time claims, audience, and revocation.
 */
export async function verifyAccessToken(
  provider: ProviderContext,
  token: string,
  options: VerifyOptions = {},
): Promise<AccessTokenClaims> {
  const errorCode = options.errorCode ?? "invalid_token";
  const reject = (why: string): never => {
    throw new OAuthError(errorCode, why, errorCode === "invalid_token" ? 401 : 400);
  };
  // The issuer and the audiences asked for decide the outcome as much as the token does.
  const tokens = verifiedTokens(provider);
  const cacheKey = `${provider.issuer}\0${[options.audience ?? []].flat().join(" ")}\0${token}`;
  const known = tokens.get(cacheKey);
  if (known) return checkRevocation(provider, { ...known }, reject);

  let kid: string | undefined;
  try {
    kid = decodeProtectedHeader(token).kid;
  } catch {
    reject("the token is not a JWT");
  }
  const verifier = kid ? provider.keys.verifiers.get(kid) : undefined;
  if (!verifier) return reject("the token was not signed by this provider");
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, verifier.key, {
      algorithms: [verifier.alg],
      issuer: provider.issuer,
      typ: ACCESS_TOKEN_TYPE,
      requiredClaims: ["sub", "exp", "iat", "jti", "client_id"],
      ...(options.audience ? { audience: options.audience } : {}),
    }));
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) return reject("the token has expired");
    if (err instanceof joseErrors.JWTClaimValidationFailed)
      return reject(`the token's ${err.claim} claim is not acceptable`);
    return reject("the token's signature or header is not valid");
  }
  const claims = payload as AccessTokenClaims;
  // RFC 7519 §4.1.4 as jose checks it (no tolerance): expired once `exp` is not after now.
  tokens.set(cacheKey, { ...claims }, claims.exp * 1000);
  return checkRevocation(provider, claims, reject);
}

/**
 * RFC 7009: never cached, one Redis round trip on every use of a token, which also reads the
 * store's epoch (a token from before the store lost its data is unknown, so refused).
 */
async function checkRevocation(
  provider: ProviderContext,
  claims: AccessTokenClaims,
  reject: (why: string) => never,
): Promise<AccessTokenClaims> {
  const revocation = await provider.store.isRevoked(claims);
  if (revocation === "unknown-epoch")
    reject("the token was issued before the authorization server's store lost its data; sign in again");
  if (revocation) reject("the token has been revoked");
  return claims;
}
