// Who a client is: static clients from configuration, clients registered dynamically
// (RFC 7591, in Redis), and clients identified by a metadata document URL (MCP's preferred way).
import type { JWK } from "jose";
import type { ProviderContext } from "../provider-context.js";
import { findRegisteredClient } from "../endpoints/register.js";
import { findMetadataDocumentClient, isMetadataDocumentClientId } from "./metadata-document.js";

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
  grantTypes: string[];
  /**
   * Provider scopes the client may request, exactly (empty: none). OIDC scopes are allowed
   * besides to clients of the authorization code grant; for registered and metadata-document
   * clients the list is further capped by the configuration (see grant-checks.ts).
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

function staticClients(provider: ProviderContext): Client[] {
  return provider.config.provider.apps.map((app) => ({
    clientId: app.clientId,
    name: app.name,
    source: "config",
    tokenEndpointAuthMethod: app.tokenEndpointAuthMethod,
    ...(app.clientSecret ? { secret: provider.config.secrets[app.clientSecret.env] } : {}),
    ...(app.jwks ? { jwks: app.jwks as { keys: JWK[] } } : {}),
    redirectUris: app.redirectUris,
    grantTypes: app.grantTypes,
    scopes: app.scopes,
    allowedAudiences: app.allowedAudiences,
    skipConsent: app.skipConsent,
    introspection: app.introspection,
    tokenExchange: app.tokenExchange,
  }));
}

/** The client named `clientId`, or null when no source knows it. */
export async function findClient(provider: ProviderContext, clientId: string): Promise<Client | null> {
  const configured = staticClients(provider).find((c) => c.clientId === clientId);
  if (configured) return configured;
  if (isMetadataDocumentClientId(clientId)) return findMetadataDocumentClient(provider, clientId);
  return findRegisteredClient(provider, clientId);
}
