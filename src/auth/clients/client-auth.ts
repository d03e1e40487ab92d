// Client authentication at the token, introspection and revocation endpoints
// (RFC 6749 §2.3, OIDC Core §9, RFC 7523 for private_key_jwt).
import type { Context } from "hono";
import { createLocalJWKSet, decodeJwt, jwtVerify } from "jose";
import { sha256Base64Url, timingSafeEqualSameLength } from "../../core/encoding.js";
import { OAuthError } from "../../core/errors.js";
import type { Form } from "../form.js";
import type { ProviderContext } from "../provider-context.js";
import { StoreUnavailable } from "../store/store.js";
import type { Client } from "./client.js";
import { findClient } from "./clients.js";

const CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/** RFC 6749 §5.2: invalid_client is 401, with WWW-Authenticate when the client tried Basic. */
function invalidClient(description: string, triedBasic: boolean): OAuthError {
  return new OAuthError(
    "invalid_client",
    description,
    401,
    triedBasic ? { "WWW-Authenticate": 'Basic realm="token", charset="UTF-8"' } : {},
  );
}

function readBasic(header: string | undefined): { id: string; secret: string } | null | "malformed" {
  if (!header || !/^basic /i.test(header)) return null;
  try {
    const decoded = atob(header.slice(6).trim());
    const colon = decoded.indexOf(":");
    if (colon < 0) return "malformed";
    // RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic encoding.
    return {
      id: decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, " ")),
      secret: decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, " ")),
    };
  } catch {
    return "malformed";
  }
}

/**
 * SHA-256 of the configured clients' secrets, computed once per isolate: a configured secret is
 * compared on every request of its client. Bounded: only secrets from configuration come here.
 */
const configuredSecretDigests = new Map<string, Promise<string>>();
const MAX_CONFIGURED_SECRETS = 256;

function configuredSecretDigest(secret: string): Promise<string> {
  let digest = configuredSecretDigests.get(secret);
  if (!digest) {
    if (configuredSecretDigests.size >= MAX_CONFIGURED_SECRETS) configuredSecretDigests.clear();
    digest = sha256Base64Url(secret);
    configuredSecretDigests.set(secret, digest);
  }
  return digest;
}

/**
 * Compares SHA-256 digests in constant time (fixed length: nothing about the secret's length
 * leaks), the configured side's digest computed once; a registered client keeps only its digest.
 */
async function secretMatches(client: Client, presented: string): Promise<boolean> {
  const expected = client.secret !== undefined ? await configuredSecretDigest(client.secret) : client.secretHash;
  if (expected === undefined) return false;
  return timingSafeEqualSameLength(expected, await sha256Base64Url(presented));
}

/**
 * Authenticates the calling client by the one method it used, and checks that the method is
 * the one registered for it. Public clients (`none`) are identified, not authenticated.
 */
export async function authenticateClient(c: Context, provider: ProviderContext, form: Form): Promise<Client> {
  const basic = readBasic(c.req.header("Authorization"));
  const triedBasic = basic !== null;
  if (basic === "malformed") throw invalidClient("malformed Basic credentials", true);
  const assertion = form.get("client_assertion");
  const bodySecret = form.get("client_secret");
  const used = [
    basic ? "client_secret_basic" : null,
    bodySecret ? "client_secret_post" : null,
    assertion ? "private_key_jwt" : null,
  ].filter(Boolean);
  if (used.length > 1) throw new OAuthError("invalid_request", "use exactly one client authentication method", 400);

  if (assertion) return authenticateByAssertion(provider, form, assertion);

  const clientId = basic ? basic.id : form.get("client_id");
  if (!clientId) throw invalidClient("client authentication is required", triedBasic);
  if (basic && form.get("client_id") && form.get("client_id") !== basic.id) {
    throw new OAuthError("invalid_request", "client_id does not match the authenticated client", 400);
  }
  const client = await findClient(provider, clientId);
  if (!client) throw invalidClient("unknown client", triedBasic);
  const method = basic ? "client_secret_basic" : bodySecret ? "client_secret_post" : "none";
  if (method !== client.tokenEndpointAuthMethod)
    throw invalidClient(`this client authenticates with ${client.tokenEndpointAuthMethod}`, triedBasic);
  if (method !== "none" && !(await secretMatches(client, basic ? basic.secret : bodySecret!))) {
    throw invalidClient("client authentication failed", triedBasic);
  }
  return client;
}

/** RFC 7523 §3 / OIDC Core §9: a JWT signed with the client's registered key. */
async function authenticateByAssertion(provider: ProviderContext, form: Form, assertion: string): Promise<Client> {
  if (form.get("client_assertion_type") !== CLIENT_ASSERTION_TYPE) {
    throw new OAuthError("invalid_request", `client_assertion_type must be ${CLIENT_ASSERTION_TYPE}`, 400);
  }
  // Read unverified only to learn whose keys verify it; jwtVerify below checks everything.
  let iss: unknown;
  try {
    iss = decodeJwt(assertion).iss;
  } catch {
    throw invalidClient("the client assertion is not a JWT", false);
  }
  const clientId = form.get("client_id") ?? (typeof iss === "string" ? iss : undefined);
  if (!clientId) throw invalidClient("the client assertion names no client", false);
  const client = await findClient(provider, clientId);
  if (!client || client.tokenEndpointAuthMethod !== "private_key_jwt" || !client.jwks)
    throw invalidClient("unknown client or not a private_key_jwt client", false);
  try {
    const { payload } = await jwtVerify(assertion, createLocalJWKSet(client.jwks), {
      issuer: clientId,
      subject: clientId,
      audience: [provider.issuer, `${provider.issuer}/token`],
      algorithms: ["ES256", "EdDSA", "RS256", "PS256"],
      requiredClaims: ["jti", "exp"],
      maxTokenAge: "5m",
    });
    // A client assertion is single use (RFC 7523 §3, item 7).
    const lifetime = Math.max(1, (payload.exp! - Math.floor(Date.now() / 1000)) * 1000);
    if (!(await provider.store.claimOnce("client-assertion", `${clientId}:${payload.jti}`, lifetime))) {
      throw invalidClient("the client assertion was already used", false);
    }
  } catch (err) {
    if (err instanceof OAuthError || err instanceof StoreUnavailable) throw err;
    throw invalidClient("the client assertion is not valid", false);
  }
  return client;
}
