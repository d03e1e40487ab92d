// grant_type=authorization_code (OAuth 2.1 §4.1.3): PKCE verification, exact redirect_uri,
// single-use codes, and revocation of everything a replayed code had issued (RFC 6749 §4.1.2).
// The code's binding is checked before it is consumed, and only its own client replaying it
// counts as a replay: an intercepted code can neither be burnt nor used to revoke its tokens.
import { randomToken, sha256Base64Url, timingSafeEqualSameLength } from "../../core/encoding.js";
import { OAuthError } from "../../core/errors.js";
import { required } from "../form.js";
import type { IssuedByCode } from "../store/store.js";
import { mintAccessToken, mintIdToken } from "../tokens/jwt.js";
import { accessTokenAudience, newRefreshFamily, shouldIssueRefreshToken } from "../tokens/refresh-tokens.js";
import { checkResources } from "./grant-checks.js";
import type { TokenResponse, GrantRequest } from "./grant.js";

/** RFC 7636 §4.1: 43 to 128 characters of [A-Z a-z 0-9 - . _ ~]. */
const CODE_VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

const invalidGrant = (why: string) => new OAuthError("invalid_grant", why, 400);
const REPLAYED = "the authorization code was already used; the tokens it issued are revoked";

/** What a code is bound to (OAuth 2.1 §4.1.3): its client, its redirect URI, its PKCE challenge. */
interface CodeBinding {
  clientId: string;
  redirectUri: string;
  codeChallenge: string;
}

/** Why the request does not match the code's binding, or null when it does. */
async function bindingMismatch(
  binding: CodeBinding,
  clientId: string,
  redirectUri: string,
  verifier: string,
): Promise<string | null> {
  if (binding.clientId !== clientId) return "the authorization code was issued to another client";
  if (binding.redirectUri !== redirectUri) return "redirect_uri does not match the authorization request";
  // RFC 7636 §4.6: S256 only (endpoints/authorize.ts refuses anything else). Both sides are
  // 43-character digests, so a comparison of the strings themselves leaks no length.
  if (!timingSafeEqualSameLength(await sha256Base64Url(verifier), binding.codeChallenge)) {
    return "the code_verifier does not match the code_challenge";
  }
  return null;
}

export async function grantAuthorizationCode({ provider, client, form }: GrantRequest): Promise<TokenResponse> {
  const code = required(form, "code");
  const redirectUri = required(form, "redirect_uri");
  const verifier = form.get("code_verifier");
  if (!verifier)
    throw new OAuthError("invalid_request", "PKCE is required: the code_verifier parameter is missing", 400);
  if (!CODE_VERIFIER.test(verifier)) throw invalidGrant("the code_verifier is malformed");
  const requestedResources = form.getAll("resource");
  const { store } = provider;
  const { tokens } = provider.config.provider;

  // Everything is checked before the code is consumed, so a request that cannot redeem it (another
  // client, a wrong verifier or redirect URI, a resource outside the grant) leaves it to its client.
  const peeked = await store.peekCode(code);
  if (!peeked) {
    // Used already, or never valid. A replay by the code's own client (the same binding) revokes
    // what the code issued (RFC 6749 §4.1.2); anyone else's attempt changes nothing.
    const issued = await store.getCodeRedemption(code);
    if (issued && !(await bindingMismatch(issued, client.clientId, redirectUri, verifier))) {
      await revokeIssued(provider, issued);
      throw invalidGrant(REPLAYED);
    }
    throw invalidGrant("the authorization code is invalid or expired");
  }
  const mismatch = await bindingMismatch(peeked, client.clientId, redirectUri, verifier);
  if (mismatch) throw invalidGrant(mismatch);
  // RFC 8707 §2.2: a resource at the token endpoint narrows the audience to what was authorized.
  const resources = requestedResources.length ? checkResources(provider, client, requestedResources) : peeked.resource;
  if (resources.some((r) => !peeked.resource.includes(r))) {
    throw new OAuthError("invalid_target", "the resource was not part of the authorization", 400);
  }
  const audience = accessTokenAudience(provider, resources);

  // Chosen before redemption so the redemption marker can name them: a replayed code then
  // revokes exactly what the first redemption issued.
  const accessJti = randomToken(16);
  const iat = Math.floor(Date.now() / 1000);
  const accessTtlSec = Math.floor(tokens.accessTokenTTL / 1000);
  const familyId = shouldIssueRefreshToken(client) ? randomToken() : undefined;
  // The refresh-token family starts in the script that consumes the code, so a redemption is one
  // store request. It is built from the record checked above: a code's record is written once,
  // never changed, so it is the record the script consumes. A replay or an invalid code creates none.
  const family = familyId
    ? newRefreshFamily(
        provider,
        {
          clientId: client.clientId,
          sub: peeked.sub,
          scope: peeked.scope,
          resource: peeked.resource,
          authTime: peeked.authTime,
          ...(peeked.sid ? { sid: peeked.sid } : {}),
          claims: peeked.claims,
          ...(peeked.accessClaims ? { accessClaims: peeked.accessClaims } : {}),
        },
        familyId,
      )
    : undefined;
  // Consumed atomically (GETDEL in one script): of concurrent redemptions exactly one gets the
  // record; the others find the marker, and since their binding matched, they are replays.
  const redeemed = await store.redeemCode(
    code,
    {
      accessJti,
      accessExp: iat + accessTtlSec,
      ...(familyId ? { familyId } : {}),
      clientId: peeked.clientId,
      redirectUri: peeked.redirectUri,
      codeChallenge: peeked.codeChallenge,
    },
    Math.max(tokens.accessTokenTTL, tokens.authorizationCodeTTL),
    family,
  );
  if (redeemed.status === "replayed") {
    await revokeIssued(provider, redeemed.issued);
    throw invalidGrant(REPLAYED);
  }
  if (redeemed.status === "invalid") throw invalidGrant("the authorization code is invalid or expired");
  // The record consumed is the record checked: a code's record is written once, never changed.
  const record = redeemed.record;

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
  if (family) body.refresh_token = family.refreshToken;
  if (record.scope.split(" ").includes("openid")) {
    body.id_token = await mintIdToken(provider, {
      sub: record.sub,
      clientId: client.clientId,
      authTime: record.authTime,
      claims: record.claims,
      ttlSec: Math.floor(tokens.idTokenTTL / 1000),
      ...(record.nonce ? { nonce: record.nonce } : {}),
      ...(record.sid ? { sid: record.sid } : {}),
    });
  }
  return body;
}

/** RFC 6749 §4.1.2: a replayed code revokes the tokens its first redemption issued. */
async function revokeIssued(provider: GrantRequest["provider"], issued: IssuedByCode): Promise<void> {
  await Promise.all([
    provider.store.revokeJti(issued.accessJti, issued.accessExp),
    issued.familyId
      ? provider.store.revokeFamily(issued.familyId, provider.config.provider.tokens.accessTokenTTL)
      : null,
  ]);
}
