// What every grant handler takes and returns, so the token endpoint (endpoints/token.ts) can
// dispatch to them by table and the handlers need nothing from it (RFC 6749 §3.2, §5.1).
import type { Client } from "../clients/client.js";
import type { Form } from "../form.js";
import type { ProviderContext } from "../provider-context.js";

/** A token request, its client already authenticated and allowed the grant type. */
export interface GrantRequest {
  provider: ProviderContext;
  client: Client;
  form: Form;
}

/** The body of a successful token response (RFC 6749 §5.1, RFC 8693 §2.2.1). */
export type TokenResponse = Record<string, string | number>;

/** One grant type's handler. */
export type Grant = (request: GrantRequest) => Promise<TokenResponse>;
