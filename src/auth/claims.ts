// Which user claims a client receives, by granted scope (OIDC Core §5.4).
const CLAIMS_BY_SCOPE: Record<string, string[]> = {
  profile: ["name", "given_name", "family_name", "preferred_username", "picture", "locale", "updated_at", "groups"],
  email: ["email", "email_verified"],
};

export function releasedClaims(claims: Record<string, unknown>, scopes: string[]): Record<string, unknown> {
  const released: Record<string, unknown> = {};
  for (const scope of scopes) {
    for (const name of CLAIMS_BY_SCOPE[scope] ?? []) if (claims[name] !== undefined) released[name] = claims[name];
  }
  return released;
}
