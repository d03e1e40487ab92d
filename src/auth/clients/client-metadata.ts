// Client metadata (RFC 7591 §2): the rules a client's own description must meet, whether it
// arrives at /register (endpoints/register.ts) or in a client ID metadata document
// (metadata-document.ts), and what such a client may hold.
import type { JWK } from "jose";
import { z } from "zod";
import { OAuthError } from "../../core/errors.js";
import { GRANT_TYPES } from "../config-schema.js";
import type { ProviderContext } from "../provider-context.js";
import type { ClientAuthMethod } from "./client.js";
import { redirectUriProblem } from "./redirect-uri.js";

/** Members of a private or symmetric JWK: a registrant publishes public keys only. */
const PRIVATE_JWK_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

const jwkSet = z.object({
  keys: z
    .array(
      z
        .looseObject({ kty: z.enum(["EC", "RSA", "OKP"], { message: "expected a public EC, RSA or OKP key" }) })
        .refine(
          (jwk) => PRIVATE_JWK_MEMBERS.every((member) => !(member in jwk)),
          "must be a public key (no private members)",
        ),
    )
    .min(1)
    .max(10),
});

const ALLOWED_GRANTS: string[] = [
  GRANT_TYPES.authorizationCode,
  GRANT_TYPES.refreshToken,
  GRANT_TYPES.clientCredentials,
];

/** Client metadata (RFC 7591 §2) as registered, whatever way it arrived. */
export interface ClientMetadata {
  redirectUris: string[];
  /** RP-Initiated Logout 1.0 §3.1 `post_logout_redirect_uris`. */
  postLogoutRedirectUris: string[];
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
      post_logout_redirect_uris: z.array(z.string().max(2048)).max(20).optional(),
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
      // RP-Initiated Logout 1.0 §3.1: the browser is sent there as to a redirect URI, so the same rules hold.
      m.post_logout_redirect_uris?.forEach((uri, i) => {
        const problem = redirectUriProblem(uri);
        if (problem)
          ctx.addIssue({ code: "custom", path: ["post_logout_redirect_uris", i], message: `${uri} ${problem}` });
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
        issue(
          "grant_types",
          "client_credentials requires a confidential client (a token_endpoint_auth_method other than none)",
        );
      }
      const usesCode = m.grant_types.includes(GRANT_TYPES.authorizationCode);
      // OAuth 2.1 §2.3: clients of the authorization code grant register their complete redirect URIs.
      if (usesCode && !m.redirect_uris?.length) issue("redirect_uris", "are required for the authorization_code grant");
      // RFC 7591 §2.1: response_types and grant_types must agree; only `code` exists here (OAuth 2.1).
      for (const type of m.response_types ?? [])
        if (type !== "code") issue("response_types", `${type} is not supported; use code`);
      if (m.response_types && usesCode !== m.response_types.includes("code")) {
        issue("response_types", 'must be ["code"] with the authorization_code grant and [] without it');
      }
    })
    .transform((m): ClientMetadata => ({
      redirectUris: m.redirect_uris ?? [],
      postLogoutRedirectUris: m.post_logout_redirect_uris ?? [],
      tokenEndpointAuthMethod: m.token_endpoint_auth_method as ClientAuthMethod,
      grantTypes: [...new Set(m.grant_types)],
      responseTypes: m.grant_types.includes(GRANT_TYPES.authorizationCode) ? ["code"] : [],
      ...(m.client_name !== undefined ? { clientName: m.client_name } : {}),
      ...(m.scope !== undefined ? { scope: m.scope } : {}),
      ...(m.jwks && m.token_endpoint_auth_method === "private_key_jwt" ? { jwks: m.jwks as { keys: JWK[] } } : {}),
    }));
}

/** The first problem zod found, as the RFC 7591 §3.2.2 error it amounts to. */
export function metadataError(error: z.ZodError): OAuthError {
  const issue = error.issues[0]!;
  const field = issue.path.map(String).join(".");
  const description = field ? `${field}: ${issue.message}` : issue.message;
  return new OAuthError(
    issue.path[0] === "redirect_uris" ? "invalid_redirect_uri" : "invalid_client_metadata",
    description,
    400,
  );
}

/**
 * Refuses what registration and metadata documents do not yield: a client of the client
 * credentials grant, unless `registration.machineClients` is on (RFC 7591 §3.2.2:
 * invalid_client_metadata). Such clients act for a signed-in user; machine clients are the
 * operator's to configure.
 */
export function machineGrantProblem(provider: ProviderContext, metadata: ClientMetadata): string | null {
  if (
    !metadata.grantTypes.includes(GRANT_TYPES.clientCredentials) ||
    provider.config.provider.registration.machineClients.enabled
  )
    return null;
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
  if (machineClients.enabled && metadata.grantTypes.includes(GRANT_TYPES.clientCredentials))
    for (const s of machineClients.scopes) cap.add(s);
  const requested = metadata.scope?.split(" ").filter(Boolean);
  return requested ? [...new Set(requested)].filter((s) => cap.has(s)) : [...cap];
}
