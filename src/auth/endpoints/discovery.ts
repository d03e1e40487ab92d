// GET /.well-known/openid-configuration (OIDC Discovery 1.0) and
// GET /.well-known/oauth-authorization-server (RFC 8414): the same metadata document.
import type { Context } from "hono";
import type { AuthApp } from "../app-types.js";
import { CLIENT_AUTH_METHODS, GRANT_TYPES } from "../config-schema.js";
import { supportedScopes } from "../grants/scopes.js";
import type { ProviderContext } from "../provider-context.js";

export const ENDPOINTS = {
  authorization: "/authorize",
  token: "/token",
  jwks: "/jwks",
  userinfo: "/userinfo",
  registration: "/register",
  introspection: "/introspect",
  revocation: "/revoke",
  endSession: "/logout",
} as const;

export function providerMetadata(provider: ProviderContext): Record<string, unknown> {
  const { issuer } = provider;
  const config = provider.config.provider;
  const url = (path: string) => `${issuer}${path}`;
  const algs = [...new Set(provider.config.signingKeys.keys.map((k) => k.alg))];
  const authMethods = CLIENT_AUTH_METHODS.filter((m) => m !== "none");
  return {
    issuer,
    authorization_endpoint: url(ENDPOINTS.authorization),
    token_endpoint: url(ENDPOINTS.token),
    jwks_uri: url(ENDPOINTS.jwks),
    userinfo_endpoint: url(ENDPOINTS.userinfo),
    ...(config.registration.enabled ? { registration_endpoint: url(ENDPOINTS.registration) } : {}),
    introspection_endpoint: url(ENDPOINTS.introspection),
    revocation_endpoint: url(ENDPOINTS.revocation),
    // OpenID Connect RP-Initiated Logout 1.0 §2.1.
    end_session_endpoint: url(ENDPOINTS.endSession),
    scopes_supported: supportedScopes(provider),
    response_types_supported: ["code"],
    response_modes_supported: ["query"],
    grant_types_supported: Object.values(GRANT_TYPES),
    subject_types_supported: ["public"],
    id_token_signing_alg_values_supported: algs,
    token_endpoint_auth_methods_supported: [...CLIENT_AUTH_METHODS],
    token_endpoint_auth_signing_alg_values_supported: ["ES256", "EdDSA", "RS256", "PS256"],
    introspection_endpoint_auth_methods_supported: authMethods,
    revocation_endpoint_auth_methods_supported: [...CLIENT_AUTH_METHODS],
    // OAuth 2.1 / MCP authorization: PKCE with S256 only.
    code_challenge_methods_supported: ["S256"],
    claims_supported: [
      "sub",
      "iss",
      "aud",
      "exp",
      "iat",
      "auth_time",
      "nonce",
      "name",
      "email",
      "email_verified",
      "preferred_username",
      "groups",
    ],
    // RFC 9207: `iss` accompanies every authorization response.
    authorization_response_iss_parameter_supported: true,
    // MCP authorization (2025-11-25): client ID metadata documents.
    client_id_metadata_document_supported: config.clientIdMetadataDocuments.enabled,
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
  };
}

export function getMetadata(c: Context<AuthApp>): Response {
  return c.json(providerMetadata(c.get("provider")), 200, { "Cache-Control": "public, max-age=300" });
}

export function getJwks(c: Context<AuthApp>): Response {
  return c.json(c.get("provider").keys.publicJwks, 200, { "Cache-Control": "public, max-age=300" });
}
