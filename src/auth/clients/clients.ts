// Who a client is: static clients from configuration, clients registered dynamically
// (RFC 7591, in Redis), and clients identified by a metadata document URL (MCP's preferred way).
import type { JWK } from "jose";
import type { ProviderContext } from "../provider-context.js";
import type { Client } from "./client.js";
import { findMetadataDocumentClient, isMetadataDocumentClientId } from "./metadata-document.js";

function staticClients(provider: ProviderContext): Client[] {
  return provider.config.provider.apps.map((app) => ({
    clientId: app.clientId,
    name: app.name,
    source: "config",
    tokenEndpointAuthMethod: app.tokenEndpointAuthMethod,
    ...(app.clientSecret ? { secret: provider.config.secrets[app.clientSecret.env] } : {}),
    ...(app.jwks ? { jwks: app.jwks as { keys: JWK[] } } : {}),
    redirectUris: app.redirectUris,
    postLogoutRedirectUris: app.postLogoutRedirectUris,
    grantTypes: app.grantTypes,
    scopes: app.scopes,
    allowedAudiences: app.allowedAudiences,
    skipConsent: app.skipConsent,
    introspection: app.introspection,
    tokenExchange: app.tokenExchange,
  }));
}

/** A client registered through /register (RFC 7591), or null. */
export async function findRegisteredClient(provider: ProviderContext, clientId: string): Promise<Client | null> {
  return provider.store.getClient<Client>(clientId);
}

/** The client named `clientId`, or null when no source knows it. */
export async function findClient(provider: ProviderContext, clientId: string): Promise<Client | null> {
  const configured = staticClients(provider).find((c) => c.clientId === clientId);
  if (configured) return configured;
  if (isMetadataDocumentClientId(clientId)) return findMetadataDocumentClient(provider, clientId);
  return findRegisteredClient(provider, clientId);
}
