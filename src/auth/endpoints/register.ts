// POST /register: dynamic client registration (RFC 7591). The client metadata rules (RFC 7591 §2),
// which client ID metadata documents share, are in clients/client-metadata.ts.
import type { Context } from "hono";
import { randomToken, sha256Base64Url } from "../../core/encoding.js";
import { OAuthError } from "../../core/errors.js";
import type { AuthApp } from "../app-types.js";
import {
  clientMetadataSchema,
  machineGrantProblem,
  metadataError,
  registeredScopes,
  type ClientMetadata,
} from "../clients/client-metadata.js";
import type { Client } from "../clients/client.js";
import { grantableScopes } from "../grants/grant-checks.js";
import { supportedScopes } from "../grants/scopes.js";
import type { ProviderContext } from "../provider-context.js";
import { limitRegistration } from "../ui/rate-limit.js";

const registrationRequest = clientMetadataSchema([
  "none",
  "client_secret_basic",
  "client_secret_post",
  "private_key_jwt",
]);

/** RFC 7591 §3.1: the request is a JSON object. */
async function readJsonObject(c: Context<AuthApp>): Promise<unknown> {
  const type = c.req.header("Content-Type")?.split(";")[0]?.trim().toLowerCase();
  if (type !== "application/json")
    throw new OAuthError("invalid_client_metadata", "the body must be application/json", 400);
  let body: unknown;
  try {
    body = JSON.parse(await c.req.text());
  } catch {
    throw new OAuthError("invalid_client_metadata", "the body is not valid JSON", 400);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new OAuthError("invalid_client_metadata", "the body must be a JSON object", 400);
  }
  return body;
}

/** The scope value RFC 7591 §3.2.1 returns: what the client may request, capped by what it asked for. */
function grantedScope(provider: ProviderContext, client: Client, metadata: ClientMetadata): string {
  const grantable = new Set([
    ...grantableScopes(provider, client, "user"),
    ...grantableScopes(provider, client, "machine"),
  ]);
  const requested = metadata.scope?.split(" ").filter(Boolean);
  return (requested ? [...new Set(requested)] : supportedScopes(provider)).filter((s) => grantable.has(s)).join(" ");
}

/** The registered metadata as RFC 7591 §3.2.1 returns it (never the secret's hash). */
function registrationResponse(
  client: Client,
  metadata: ClientMetadata,
  issuedAt: number,
  secret: string | undefined,
  expiresAt: number,
  scope: string,
) {
  return {
    client_id: client.clientId,
    client_id_issued_at: issuedAt,
    ...(secret !== undefined ? { client_secret: secret, client_secret_expires_at: expiresAt } : {}),
    ...(metadata.clientName !== undefined ? { client_name: metadata.clientName } : {}),
    redirect_uris: client.redirectUris,
    ...(client.postLogoutRedirectUris?.length ? { post_logout_redirect_uris: client.postLogoutRedirectUris } : {}),
    grant_types: client.grantTypes,
    response_types: metadata.responseTypes,
    token_endpoint_auth_method: client.tokenEndpointAuthMethod,
    ...(scope ? { scope } : {}),
    ...(client.jwks ? { jwks: client.jwks } : {}),
  };
}

/**
 * Open registration, as MCP clients expect (no initial access token, RFC 7591 §3). What a
 * registrant gets is deliberately small: a client that acts for a signed-in user, the configured
 * default scopes, no audiences beyond the provider's own resources, no token exchange, no
 * client_credentials (unless `registration.machineClients` allows it), and always the consent page.
 */
export async function register(c: Context<AuthApp>): Promise<Response> {
  const provider = c.get("provider");
  const { registration } = provider.config.provider;
  // Disabled, the endpoint looks absent, as discovery says (no registration_endpoint).
  if (!registration.enabled) throw new OAuthError("invalid_request", "no such endpoint", 404);
  await limitRegistration(c);
  const parsed = registrationRequest.safeParse(await readJsonObject(c));
  if (!parsed.success) throw metadataError(parsed.error);
  const metadata = parsed.data;
  const machineProblem = machineGrantProblem(provider, metadata);
  if (machineProblem) throw new OAuthError("invalid_client_metadata", machineProblem, 400);
  const known = new Set(supportedScopes(provider));
  const unknown = (metadata.scope ?? "").split(" ").find((s) => s && !known.has(s));
  if (unknown !== undefined)
    throw new OAuthError("invalid_client_metadata", `scope: ${unknown} is not a scope of this provider`, 400);
  // RFC 7591 §3.2.1: the server may replace requested values; the response says what was granted.
  const scopes = registeredScopes(provider, metadata);

  const clientId = randomToken();
  const confidential =
    metadata.tokenEndpointAuthMethod === "client_secret_basic" ||
    metadata.tokenEndpointAuthMethod === "client_secret_post";
  const secret = confidential ? randomToken() : undefined;
  const client: Client = {
    clientId,
    name: metadata.clientName ?? clientId,
    source: "registration",
    tokenEndpointAuthMethod: metadata.tokenEndpointAuthMethod,
    // Only the hash is kept, so a copy of Redis holds no usable client secret.
    ...(secret !== undefined ? { secretHash: await sha256Base64Url(secret) } : {}),
    ...(metadata.jwks ? { jwks: metadata.jwks } : {}),
    redirectUris: metadata.redirectUris,
    postLogoutRedirectUris: metadata.postLogoutRedirectUris,
    grantTypes: metadata.grantTypes,
    scopes,
    allowedAudiences: [],
    skipConsent: false,
  };
  await provider.store.saveClient(clientId, client, registration.ttl);
  const issuedAt = Math.floor(Date.now() / 1000);
  // The registration, and with it the secret, lives for `registration.ttl`; saying when tells the
  // client when to register again (RFC 7591 §3.2.1: 0 would mean "never expires").
  const expiresAt = issuedAt + Math.floor(registration.ttl / 1000);
  return c.json(
    registrationResponse(client, metadata, issuedAt, secret, expiresAt, grantedScope(provider, client, metadata)),
    201,
    { "Cache-Control": "no-store", Pragma: "no-cache" },
  );
}
