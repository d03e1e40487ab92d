// grant_type=authorization_code (OAuth 2.1 §4.1.3): PKCE verification, exact redirect_uri,
// single-use codes, and revocation of everything a replayed code had issued (RFC 6749 §4.1.2).
import { randomToken, sha256Base64Url, timingSafeEqualStrings } from "../core/encoding.js";
import { OAuthError } from "../core/errors.js";
import { required } from "./form.js";
import { checkResources } from "./grant-checks.js";
import { accessTokenAudience, issueRefreshToken, shouldIssueRefreshToken } from "./refresh-tokens.js";
import type { TokenResponse, GrantRequest } from "./token.js";
import { mintAccessToken, mintIdToken } from "./tokens.js";

/** RFC 7636 §4.1: 43 to 128 characters of [A-Z a-z 0-9 - . _ ~]. */
const CODE_VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

const invalidGrant = (why: string) => new OAuthError("invalid_grant", why, 400);

export async function grantAuthorizationCode({ provider, client, form }: GrantRequest): Promise<TokenResponse> {
  const code = required(form, "code");
  const redirectUri = required(form, "redirect_uri");
  const verifier = form.get("code_verifier");
  if (!verifier) throw new OAuthError("invalid_request", "PKCE is required: the code_verifier parameter is missing", 400);
  if (!CODE_VERIFIER.test(verifier)) throw invalidGrant("the code_verifier is malformed");
  const requestedResources = form.getAll("resource");
  const { tokens } = provider.config.provider;

  // Chosen before redemption so the redemption marker can name them: a replayed code then
  // revokes exactly what the first redemption issued.
  const accessJti = randomToken(16);
  const iat = Math.floor(Date.now() / 1000);
  const accessTtlSec = Math.floor(tokens.accessTokenTTL / 1000);
  const familyId = shouldIssueRefreshToken(client) ? randomToken() : undefined;
  const redeemed = await provider.store.redeemCode(
    code,
    { accessJti, accessExp: iat + accessTtlSec, ...(familyId ? { familyId } : {}) },
    Math.max(tokens.accessTokenTTL, tokens.authorizationCodeTTL),
  );
  if (redeemed.status === "replayed") {
    await Promise.all([
      provider.store.revokeJti(redeemed.issued.accessJti, redeemed.issued.accessExp),
      redeemed.issued.familyId ? provider.store.revokeFamily(redeemed.issued.familyId, tokens.accessTokenTTL) : null,
    ]);
    throw invalidGrant("the authorization code was already used; the tokens it issued are revoked");
  }
  if (redeemed.status === "invalid") throw invalidGrant("the authorization code is invalid or expired");
  const record = redeemed.record;

  if (record.clientId !== client.clientId) throw invalidGrant("the authorization code was issued to another client");
  if (record.redirectUri !== redirectUri) throw invalidGrant("redirect_uri does not match the authorization request");
  if (!(await timingSafeEqualStrings(await sha256Base64Url(verifier), record.codeChallenge))) {
    throw invalidGrant("the code_verifier does not match the code_challenge");
  }
  // RFC 8707 §2.2: a resource at the token endpoint narrows the audience to what was authorized.
  const resources = requestedResources.length ? checkResources(provider, client, requestedResources) : record.resource;
  if (resources.some((r) => !record.resource.includes(r))) {
    throw new OAuthError("invalid_target", "the resource was not part of the authorization", 400);
  }
  const audience = accessTokenAudience(provider, resources);

  const { token: accessToken } = await mintAccessToken(provider, {
    sub: record.sub,
    clientId: client.clientId,
    scope: record.scope,
    audience,
    ttlSec: accessTtlSec,
    jti: accessJti,
    iat,
    ...(familyId ? { familyId } : {}),
    ...(record.accessClaims ? { userClaims: record.accessClaims } : {}),
  });
  const body: TokenResponse = { access_token: accessToken, token_type: "Bearer", expires_in: accessTtlSec };
  if (record.scope) body.scope = record.scope;
  if (familyId) {
    body.refresh_token = await issueRefreshToken(
      provider,
      {
        clientId: client.clientId,
        sub: record.sub,
        scope: record.scope,
        resource: record.resource,
        authTime: record.authTime,
        claims: record.claims,
        ...(record.accessClaims ? { accessClaims: record.accessClaims } : {}),
      },
      familyId,
    );
  }
  if (record.scope.split(" ").includes("openid")) {
    body.id_token = await mintIdToken(provider, {
      sub: record.sub,
      clientId: client.clientId,
      authTime: record.authTime,
      claims: record.claims,
      ttlSec: Math.floor(tokens.idTokenTTL / 1000),
      ...(record.nonce ? { nonce: record.nonce } : {}),
    });
  }
  return body;
}
