// POST /register: dynamic client registration (RFC 7591), and the client metadata rules
// (RFC 7591 §2) that client ID metadata documents (client-metadata.ts) share with it.
import { limitRegistration } from "./rate-limit.js";
import type { Context } from "hono";
import type { JWK } from "jose";
import { z } from "zod";
import { randomToken, sha256Base64Url } from "../core/encoding.js";
import { OAuthError } from "../core/errors.js";
import type { AuthApp } from "./app-types.js";
import type { Client, ClientAuthMethod } from "./clients.js";
import { GRANT_TYPES } from "./config-schema.js";
import { supportedScopes } from "./discovery.js";
import { grantableScopes } from "./grant-checks.js";
import type { ProviderContext } from "./provider-context.js";
import { isLoopbackHost } from "./redirect-uri.js";

/** Schemes that run or embed content in the browser instead of reaching a client: a code sent there is script injection. */
const DANGEROUS_SCHEMES = new Set(["javascript:", "data:", "file:", "vbscript:", "blob:", "about:", "filesystem:"]);
/** Members of a private or symmetric JWK: a registrant publishes public keys only. */
const PRIVATE_JWK_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/** Why `uri` may not be registered as a redirect URI, or null when it may. */
function redirectUriProblem(uri: string): string | null {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return "is not an absolute URI";
  }
  // RFC 6749 §3.1.2: the endpoint URI MUST NOT include a fragment (an empty "#" included).
  if (uri.includes("#")) return "must not contain a fragment";
  if (DANGEROUS_SCHEMES.has(url.protocol)) return `must not use the ${url.protocol} scheme`;
  if (url.username || url.password) return "must not contain user information";
  if (url.protocol === "https:") return null;
  // RFC 8252 §7.3 / §8.3: plain http only for a native app's loopback listener.
  if (url.protocol === "http:") return isLoopbackHost(url.hostname) ? null : "may use http only on a loopback host (127.0.0.1, [::1], localhost)";
  // RFC 8252 §7.1: a private-use scheme is a reverse domain name, so it contains a dot.
  if (!url.protocol.slice(0, -1).includes(".")) return `uses ${url.protocol} which is neither https nor a private-use scheme such as com.example.app:`;
  return null;
}

const jwkSet = z.object({
  keys: z
    .array(
      z
        .looseObject({ kty: z.enum(["EC", "RSA", "OKP"], { message: "expected a public EC, RSA or OKP key" }) })
        .refine((jwk) => PRIVATE_JWK_MEMBERS.every((member) => !(member in jwk)), "must be a public key (no private members)"),
    )
    .min(1)
    .max(10),
});

const ALLOWED_GRANTS: string[] = [GRANT_TYPES.authorizationCode, GRANT_TYPES.refreshToken, GRANT_TYPES.clientCredentials];

/** Client metadata (RFC 7591 §2) as registered, whatever way it arrived. */
export interface ClientMetadata {
  redirectUris: string[];
  tokenEndpointAuthMethod: ClientAuthMethod;
  grantTypes: string[];
  responseTypes: string[];
  clientName?: string;
  /** Space-separated scope values, unchecked: what is known depends on the provider. */
  scope?: string;
  jwks?: { keys: JWK[] };
}

/**
 * The client metadata schema, accepting the given token endpoint authentication methods.
 * Members it does not list are dropped: RFC 7591 §2 says to ignore metadata not understood.
 */
export function clientMetadataSchema(authMethods: readonly ClientAuthMethod[]) {
  return z
    .object({
      redirect_uris: z.array(z.string().max(2048)).max(20).optional(),
      // Default `none`, not RFC 7591 §2's client_secret_basic: registrants are MCP clients, which
      // are public clients; the response tells a client which method it got (RFC 7591 §3.2.1).
      token_endpoint_auth_method: z.string().default("none"),
      // RFC 7591 §2: grant_types defaults to authorization_code.
      grant_types: z.array(z.string()).min(1).max(10).default([GRANT_TYPES.authorizationCode]),
      response_types: z.array(z.string()).max(10).optional(),
      client_name: z.string().min(1).max(200).optional(),
      scope: z.string().max(2048).optional(),
      jwks: jwkSet.optional(),
      jwks_uri: z.unknown().optional(),
    })
    .superRefine((m, ctx) => {
      const issue = (path: string, message: string) => ctx.addIssue({ code: "custom", path: [path], message });
      m.redirect_uris?.forEach((uri, i) => {
        const problem = redirectUriProblem(uri);
        if (problem) ctx.addIssue({ code: "custom", path: ["redirect_uris", i], message: `${uri} ${problem}` });
      });
      const method = m.token_endpoint_auth_method;
      if (!(authMethods as readonly string[]).includes(method)) {
        issue("token_endpoint_auth_method", `must be one of ${authMethods.join(", ")}`);
      }
      // Fetching keys from a registrant-chosen URL would be a server-side request on anyone's behalf.
      if (m.jwks_uri !== undefined) issue("jwks_uri", "is not supported: send the public keys inline as jwks");
      if (method === "private_key_jwt" && !m.jwks) issue("jwks", "is required for private_key_jwt");
      for (const grant of m.grant_types) {
        if (grant === GRANT_TYPES.tokenExchange) {
          // Exchange lets a client mint tokens for other audiences from users' tokens; only the
          // operator grants that, to a configured client (docs/auth-tier.md).
          issue("grant_types", "token exchange is available to configured clients only, not through registration");
        } else if (!ALLOWED_GRANTS.includes(grant)) {
          issue("grant_types", `${grant} is not supported; use ${ALLOWED_GRANTS.join(", ")}`);
        }
      }
      // OAuth 2.1 §4.2: the client credentials grant is for confidential clients only.
      if (m.grant_types.includes(GRANT_TYPES.clientCredentials) && method === "none") {
        issue("grant_types", "client_credentials requires a confidential client (a token_endpoint_auth_method other than none)");
      }
      const usesCode = m.grant_types.includes(GRANT_TYPES.authorizationCode);
      // OAuth 2.1 §2.3: clients of the authorization code grant register their complete redirect URIs.
      if (usesCode && !m.redirect_uris?.length) issue("redirect_uris", "are required for the authorization_code grant");
      // RFC 7591 §2.1: response_types and grant_types must agree; only `code` exists here (OAuth 2.1).
      for (const type of m.response_types ?? []) if (type !== "code") issue("response_types", `${type} is not supported; use code`);
      if (m.response_types && usesCode !== m.response_types.includes("code")) {
        issue("response_types", "must be [\"code\"] with the authorization_code grant and [] without it");
      }
    })
    .transform(
      (m): ClientMetadata => ({
        redirectUris: m.redirect_uris ?? [],
        tokenEndpointAuthMethod: m.token_endpoint_auth_method as ClientAuthMethod,
        grantTypes: [...new Set(m.grant_types)],
        responseTypes: m.grant_types.includes(GRANT_TYPES.authorizationCode) ? ["code"] : [],
        ...(m.client_name !== undefined ? { clientName: m.client_name } : {}),
        ...(m.scope !== undefined ? { scope: m.scope } : {}),
        ...(m.jwks && m.token_endpoint_auth_method === "private_key_jwt" ? { jwks: m.jwks as { keys: JWK[] } } : {}),
      }),
    );
}

const registrationRequest = clientMetadataSchema(["none", "client_secret_basic", "client_secret_post", "private_key_jwt"]);

/** The first problem zod found, as the RFC 7591 §3.2.2 error it amounts to. */
export function metadataError(error: z.ZodError): OAuthError {
  const issue = error.issues[0]!;
  const field = issue.path.map(String).join(".");
  const description = field ? `${field}: ${issue.message}` : issue.message;
  return new OAuthError(issue.path[0] === "redirect_uris" ? "invalid_redirect_uri" : "invalid_client_metadata", description, 400);
}

/** RFC 7591 §3.1: the request is a JSON object. */
async function readJsonObject(c: Context<AuthApp>): Promise<unknown> {
  const type = c.req.header("Content-Type")?.split(";")[0]?.trim().toLowerCase();
  if (type !== "application/json") throw new OAuthError("invalid_client_metadata", "the body must be application/json", 400);
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

/**
 * Refuses what registration and metadata documents do not yield: a client of the client
 * credentials grant, unless `registration.machineClients` is on (RFC 7591 §3.2.2:
 * invalid_client_metadata). Such clients act for a signed-in user; machine clients are the
 * operator's to configure.
 */
export function machineGrantProblem(provider: ProviderContext, metadata: ClientMetadata): string | null {
  if (!metadata.grantTypes.includes(GRANT_TYPES.clientCredentials) || provider.config.provider.registration.machineClients.enabled) return null;
  return "grant_types: client_credentials is available to clients the operator configures, not through registration or metadata documents";
}

/**
 * The provider scopes a new registered or metadata-document client holds: what it asked for
 * (`scope`), or everything when it asked for nothing, capped by `registration.defaultScopes` for
 * its user-facing grants and `registration.machineClients.scopes` for client_credentials. Names
 * the provider does not know are dropped here; /register refuses them before.
 */
export function registeredScopes(provider: ProviderContext, metadata: ClientMetadata): string[] {
  const { defaultScopes, machineClients } = provider.config.provider.registration;
  const cap = new Set<string>();
  if (metadata.grantTypes.some((g) => g !== GRANT_TYPES.clientCredentials)) for (const s of defaultScopes) cap.add(s);
  if (machineClients.enabled && metadata.grantTypes.includes(GRANT_TYPES.clientCredentials)) for (const s of machineClients.scopes) cap.add(s);
  const requested = metadata.scope?.split(" ").filter(Boolean);
  return requested ? [...new Set(requested)].filter((s) => cap.has(s)) : [...cap];
}

/** The scope value RFC 7591 §3.2.1 returns: what the client may request, capped by what it asked for. */
function grantedScope(provider: ProviderContext, client: Client, metadata: ClientMetadata): string {
  const grantable = new Set([...grantableScopes(provider, client, "user"), ...grantableScopes(provider, client, "machine")]);
  const requested = metadata.scope?.split(" ").filter(Boolean);
  return (requested ? [...new Set(requested)] : supportedScopes(provider)).filter((s) => grantable.has(s)).join(" ");
}

/** The registered metadata as RFC 7591 §3.2.1 returns it (never the secret's hash). */
function registrationResponse(client: Client, metadata: ClientMetadata, issuedAt: number, secret: string | undefined, expiresAt: number, scope: string) {
  return {
    client_id: client.clientId,
    client_id_issued_at: issuedAt,
    ...(secret !== undefined ? { client_secret: secret, client_secret_expires_at: expiresAt } : {}),
    ...(metadata.clientName !== undefined ? { client_name: metadata.clientName } : {}),
    redirect_uris: client.redirectUris,
    grant_types: client.grantTypes,
    response_types: metadata.responseTypes,
    token_endpoint_auth_method: client.tokenEndpointAuthMethod,
    ...(scope ? { scope } : {}),
    ...(client.jwks ? { jwks: client.jwks } : {}),
  };
}

/** A client registered through /register, or null. */
export async function findRegisteredClient(provider: ProviderContext, clientId: string): Promise<Client | null> {
  return provider.store.getClient<Client>(clientId);
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
  if (unknown !== undefined) throw new OAuthError("invalid_client_metadata", `scope: ${unknown} is not a scope of this provider`, 400);
  // RFC 7591 §3.2.1: the server may replace requested values; the response says what was granted.
  const scopes = registeredScopes(provider, metadata);

  const clientId = randomToken();
  const confidential = metadata.tokenEndpointAuthMethod === "client_secret_basic" || metadata.tokenEndpointAuthMethod === "client_secret_post";
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
  return c.json(registrationResponse(client, metadata, issuedAt, secret, expiresAt, grantedScope(provider, client, metadata)), 201, { "Cache-Control": "no-store", Pragma: "no-cache" });
}
