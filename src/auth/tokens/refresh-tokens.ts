// Refresh tokens: `<familyId>.<secret>`, both random base64url. The family id names the grant
// (OAuth 2.1 §4.3.1: every rotation of one grant shares it); the secret makes each rotation a new
// token. Redis keeps only the SHA-256 of the whole string, of the current token and of every
// token rotated out of the family. Access tokens name the family by a one-way reference
// (store/family-reference.ts), never by its id.
import { randomToken } from "../../core/encoding.js";
import type { Client } from "../clients/client.js";
import { GRANT_TYPES } from "../config-schema.js";
import type { ProviderContext } from "../provider-context.js";
import type { NewFamily, RefreshFamily } from "../store/store.js";

/** 32 random bytes are 43 base64url characters; allow some room, refuse anything wild. */
const PART = /^[A-Za-z0-9_-]{16,128}$/;

/**
 * Whether a grant to `client` comes with a refresh token: when the client registered the
 * refresh_token grant. `offline_access` is neither required nor enough: OAuth 2.1 does not tie
 * refresh tokens to it, the MCP 2026-07-28 authorization spec ("Refresh Tokens") leaves issuance to
 * the authorization server and has clients register `refresh_token` (adding `offline_access` only
 * when discovery lists it, which ours does), and clients of the 2025 revisions never ask for it.
 * From a client without the grant, `offline_access` is dropped at the authorization request
 * (grants/grant-checks.ts).
 */
export function shouldIssueRefreshToken(client: Client): boolean {
  return client.grantTypes.includes(GRANT_TYPES.refreshToken);
}

/** A fresh refresh token of the family `familyId`. */
export function newRefreshToken(familyId: string): string {
  return `${familyId}.${randomToken()}`;
}

/**
 * A refresh-token family to start (store.redeemCode starts it with the code's redemption), and
 * its first token. The family's lifetime is absolute: `refreshTokenTTL` from now, never extended
 * by rotation (the store rotates with KEEPTTL).
 */
export function newRefreshFamily(provider: ProviderContext, family: RefreshFamily, familyId: string): NewFamily {
  return {
    familyId,
    refreshToken: newRefreshToken(familyId),
    family,
    ttlMs: provider.config.provider.tokens.refreshTokenTTL,
  };
}

/** Splits a presented refresh token, or null when it cannot be one of ours (e.g. a JWT). */
export function parseRefreshToken(token: string): { familyId: string; token: string } | null {
  const parts = token.split(".");
  if (parts.length !== 2 || !parts.every((part) => PART.test(part))) return null;
  return { familyId: parts[0]!, token };
}

/**
 * The audience of an access token granted for `resources` (RFC 8707 §2): those resources, or,
 * when the grant named none, this provider itself, so that the token is good for /userinfo and
 * nowhere else.
 */
export function accessTokenAudience(provider: ProviderContext, resources: string[]): string | string[] {
  if (resources.length === 0) return provider.issuer;
  return resources.length === 1 ? resources[0]! : resources;
}
