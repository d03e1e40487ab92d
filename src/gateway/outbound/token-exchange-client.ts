// The gateway's side of RFC 8693: it authenticates to the identity provider as a confidential
// client and exchanges the agent's token for a per-tool token. The agent's token goes only to
// the identity provider, never upstream. oauth4webapi builds the request (client_secret_basic)
// and checks the token response; the identity provider's service binding is its customFetch.
import { decodeJwt } from "jose";
import * as oauth from "oauth4webapi";
import type { IdentityProviderConfig } from "../apps-schema.js";

const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";

export interface ExchangeRequest {
  subjectToken: string;
  audience: string;
  scopes: string[];
  ttlMs: number;
  type: "delegation" | "impersonation";
  traceparent?: string;
}

export interface ExchangedToken {
  token: string;
  /**
   * Unix milliseconds: when the upstream will refuse the token. The token's own `exp` (RFC 7519
   * §4.1.4) when it is a JWT, and never later than the send time plus `expires_in` (RFC 6749
   * §5.1), so neither whole-second claims nor the time the exchange took make it look younger.
   */
  expiresAt: number;
  jti?: string;
}

/** The identity provider refused or could not be reached; `error` is its OAuth error code. */
export class ExchangeError extends Error {
  constructor(
    readonly error: string,
    message: string,
  ) {
    super(message);
    this.name = "ExchangeError";
  }
}

/**
 * The claims the cache needs, read without verification: the gateway only needs to know when its
 * own exchanged token dies, and the upstream verifies it. Not a JWT (an opaque token): none.
 */
function claimsOf(token: string): { exp?: number; jti?: string } {
  try {
    const { exp, jti } = decodeJwt(token);
    return { ...(typeof exp === "number" ? { exp } : {}), ...(typeof jti === "string" ? { jti } : {}) };
  } catch {
    return {};
  }
}

/** A service binding, as far as this module needs one. */
export interface BindingFetcher {
  fetch(input: string, init: RequestInit): Promise<Response>;
}

/** RFC 8693 §2.2.1: "N_A" when the issued token is not an access token; accepted as well as Bearer. */
const RECOGNIZED_TOKEN_TYPES: oauth.RecognizedTokenTypes = { n_a: () => undefined };

/** Exchanges through `binding` (the identity provider's service binding) when given, else over the network. */
export async function exchangeToken(
  idp: IdentityProviderConfig,
  secret: string,
  request: ExchangeRequest,
  binding?: BindingFetcher,
): Promise<ExchangedToken> {
  const parameters: Record<string, string> = {
    subject_token: request.subjectToken,
    subject_token_type: ACCESS_TOKEN_TYPE,
    requested_token_type: ACCESS_TOKEN_TYPE,
    audience: request.audience,
    expires_in: String(Math.max(1, Math.floor(request.ttlMs / 1000))),
    exchange_type: request.type,
  };
  if (request.scopes.length) parameters.scope = request.scopes.join(" ");
  // The identity provider is configured by its token endpoint alone; oauth4webapi reads the
  // issuer only to check an ID Token, which a token exchange for an access token does not return.
  const as: oauth.AuthorizationServer = {
    issuer: new URL(idp.tokenEndpoint).origin,
    token_endpoint: idp.tokenEndpoint,
  };
  const client: oauth.Client = { client_id: idp.clientId };
  const sentAt = Date.now();
  let response: Response;
  try {
    // ClientSecretBasic form-encodes id and secret before Basic encoding (RFC 6749 §2.3.1).
    response = await oauth.genericTokenEndpointRequest(
      as,
      client,
      oauth.ClientSecretBasic(secret),
      TOKEN_EXCHANGE,
      parameters,
      {
        ...(binding ? { [oauth.customFetch]: (url: string, init: RequestInit) => binding.fetch(url, init) } : {}),
        // The configuration decides the scheme: http is for local stacks and service bindings.
        [oauth.allowInsecureRequests]: true,
        ...(request.traceparent ? { headers: { traceparent: request.traceparent } } : {}),
        signal: AbortSignal.timeout(10_000),
      },
    );
  } catch (err) {
    throw new ExchangeError(
      "temporarily_unavailable",
      `the identity provider could not be reached: ${(err as Error).name}`,
    );
  }
  if (response.status !== 200) throw await refusal(response);
  let answer: oauth.TokenEndpointResponse;
  try {
    answer = await oauth.processGenericTokenEndpointResponse(as, client, response, {
      recognizedTokenTypes: RECOGNIZED_TOKEN_TYPES,
    });
  } catch (err) {
    throw new ExchangeError(
      "server_error",
      `the identity provider answered without a usable token: ${(err as Error).message}`,
    );
  }
  const expiresIn = answer.expires_in ?? Math.floor(request.ttlMs / 1000);
  const { exp, jti } = claimsOf(answer.access_token);
  const expiresAt = Math.min(sentAt + expiresIn * 1000, exp === undefined ? Infinity : exp * 1000);
  return { token: answer.access_token, expiresAt, ...(jti ? { jti } : {}) };
}

const GATEWAY_STATUSES = new Set([502, 503, 504]);

/**
 * The identity provider's refusal (RFC 6749 §5.2), read here for every status: oauth4webapi
 * reads an error body only on a 4xx without a WWW-Authenticate challenge, so a 503
 * temporarily_unavailable or a 401 invalid_client would lose its error code.
 */
async function refusal(response: Response): Promise<ExchangeError> {
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    // 502, 503 and 504 without an OAuth body come from what stands in front of the identity provider
    // (a proxy, the platform) while the provider itself cannot be reached: as transient as a refused
    // connection, so the same error.
    if (GATEWAY_STATUSES.has(response.status))
      return new ExchangeError(
        "temporarily_unavailable",
        `the identity provider could not be reached (HTTP ${response.status})`,
      );
    return new ExchangeError("server_error", `the identity provider answered ${response.status} without JSON`);
  }
  const { error, error_description: description } = (typeof body === "object" && body !== null ? body : {}) as {
    error?: unknown;
    error_description?: unknown;
  };
  const code = typeof error === "string" ? error : "server_error";
  return new ExchangeError(
    code,
    `token exchange refused (${code}): ${typeof description === "string" ? description : `status ${response.status}`}`,
  );
}
