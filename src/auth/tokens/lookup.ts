// What a token presented to introspection (RFC 7662) or revocation (RFC 7009) is: one of our
// refresh tokens or access tokens, still honoured, or nothing this provider knows.
import { OAuthError } from "../../core/errors.js";
import type { ProviderContext } from "../provider-context.js";
import type { RefreshFamily } from "../store/store.js";
import { verifyAccessToken, type AccessTokenClaims } from "./jwt.js";
import { parseRefreshToken } from "./refresh-tokens.js";

/** A token this provider issued and still honours. */
export type KnownToken =
  { kind: "refresh"; familyId: string; family: RefreshFamily } | { kind: "access"; claims: AccessTokenClaims };

/**
 * Finds what `token` is, by its shape rather than the caller's `token_type_hint` (RFC 7662 §2.1,
 * RFC 7009 §2.1: hints are only hints): a current refresh token of a live family, or a valid,
 * unexpired, unrevoked access token signed here. Null for anything else.
 */
export async function lookupToken(provider: ProviderContext, token: string): Promise<KnownToken | null> {
  const refresh = parseRefreshToken(token);
  if (refresh) {
    const family = await provider.store.getFamily(refresh.familyId, token);
    return family ? { kind: "refresh", familyId: refresh.familyId, family } : null;
  }
  try {
    return { kind: "access", claims: await verifyAccessToken(provider, token) };
  } catch (err) {
    if (err instanceof OAuthError) return null;
    throw err;
  }
}
