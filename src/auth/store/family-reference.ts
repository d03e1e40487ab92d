// How access tokens name their refresh-token family (the `fam` claim), so that revoking the
// family revokes them (OAuth 2.1 §4.3.1, RFC 7009 §2.1): a one-way function of the family id.
// The id is the first half of every refresh token of the family (tokens/refresh-tokens.ts), so it never
// travels in a bearer token, and a token's holder cannot name the family at the token endpoint.
import { sha256Base64Url } from "../../core/encoding.js";

export function familyReference(familyId: string): Promise<string> {
  return sha256Base64Url(`refresh-family:${familyId}`);
}
