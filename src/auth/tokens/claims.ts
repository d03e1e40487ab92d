// Which user claims a client receives, by granted scope (OIDC Core §5.4).
const CLAIMS_BY_SCOPE: Record<string, string[]> = {
  profile: ["name", "given_name", "family_name", "preferred_username", "picture", "locale", "updated_at", "groups"],
  email: ["email", "email_verified"],
};

/**
 * User claims every access token of the user carries, whatever the scope (RFC 9068 §2.2.3.1:
 * groups and roles are for resource servers' authorization decisions, e.g. gateway policies).
 */
const ACCESS_TOKEN_CLAIMS = ["groups", "roles"] as const;

export function accessTokenClaims(claims: Record<string, unknown> | undefined): Record<string, unknown> {
  const selected: Record<string, unknown> = {};
  for (const name of ACCESS_TOKEN_CLAIMS) if (claims?.[name] !== undefined) selected[name] = claims[name];
  return selected;
}

export function releasedClaims(claims: Record<string, unknown>, scopes: string[]): Record<string, unknown> {
  const released: Record<string, unknown> = {};
  for (const scope of scopes) {
    for (const name of CLAIMS_BY_SCOPE[scope] ?? []) if (claims[name] !== undefined) released[name] = claims[name];
  }
  return released;
}
