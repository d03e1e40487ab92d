// The client model (RFC 6749 §2, RFC 7591 §2): what the auth tier knows about a client, whichever
// way it became known (clients.ts finds it), and what every layer that handles clients imports.
import type { JWK } from "jose";

export type ClientAuthMethod = "none" | "client_secret_basic" | "client_secret_post" | "private_key_jwt";

export interface Client {
  clientId: string;
  name: string;
  source: "config" | "registration" | "metadata-document";
  tokenEndpointAuthMethod: ClientAuthMethod;
  /** Plain secret (static clients, from a Wrangler secret). */
  secret?: string;
  /** SHA-256 of the secret (dynamically registered confidential clients). */
  secretHash?: string;
  jwks?: { keys: JWK[] };
  redirectUris: string[];
  /**
   * Where the client may ask to be sent after a sign-out (RP-Initiated Logout 1.0 §3.1
   * `post_logout_redirect_uris`), matched exactly. Absent: none.
   */
  postLogoutRedirectUris?: string[];
  grantTypes: string[];
  /**
   * Provider scopes the client may request, exactly (empty: none). OIDC scopes are allowed
   * besides to clients of the authorization code grant; for registered and metadata-document
   * clients the list is further capped by the configuration (see grants/grant-checks.ts).
   */
  scopes: string[];
  /** Audiences / resources the client may obtain tokens for. */
  allowedAudiences: string[];
  skipConsent: boolean;
  /** May be told the claims of tokens it introspects (RFC 7662; static clients only). */
  introspection?: boolean;
  /** RFC 8693 settings (static clients only; see `tokenExchange` in config-schema.ts). */
  tokenExchange?: { impersonation: boolean; subjectAudiences?: string[] };
}
