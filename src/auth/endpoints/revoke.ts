// POST /revoke: token revocation (RFC 7009). Revoking a refresh token ends its whole family,
// access tokens included; revoking an access token ends that token alone (RFC 7009 §2.1
// allows, but does not require, revoking its refresh token too; logging out is the client's call).
import type { Context } from "hono";
import type { AuthApp } from "../app-types.js";
import { authenticateClient } from "../clients/client-auth.js";
import { readForm, required } from "../form.js";
import { lookupToken } from "../tokens/lookup.js";

export async function postRevoke(c: Context<AuthApp>): Promise<Response> {
  const provider = c.get("provider");
  const form = await readForm(c);
  // RFC 7009 §2.1: confidential clients authenticate; public clients identify with client_id.
  const client = await authenticateClient(c, provider, form);
  const token = required(form, "token");
  // Both token types are revocable, so `token_type_hint` never leads to unsupported_token_type;
  // the token's own shape says what it is.
  const found = await lookupToken(provider, token);
  // RFC 7009 §2.1: only the client the token was issued to may revoke it. RFC 7009 §2.2: the
  // answer is 200 either way (also for unknown or already invalid tokens), so a caller learns
  // nothing about other clients' tokens.
  if (found?.kind === "refresh" && found.family.clientId === client.clientId) {
    await provider.store.revokeFamily(found.familyId, provider.config.provider.tokens.accessTokenTTL);
  } else if (found?.kind === "access" && found.claims.client_id === client.clientId) {
    await provider.store.revokeJti(found.claims.jti, found.claims.exp);
  }
  return c.body(null, 200, { "Cache-Control": "no-store" });
}
