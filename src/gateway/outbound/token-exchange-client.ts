// The gateway's side of RFC 8693: it authenticates to the identity provider as a confidential
// client and exchanges the agent's token for a per-tool token. The agent's token goes only to
// the identity provider, never upstream.
import { decodeJwt } from "jose";
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

/** Exchanges through `binding` (the identity provider's service binding) when given, else over the network. */
export async function exchangeToken(idp: IdentityProviderConfig, secret: string, request: ExchangeRequest, binding?: BindingFetcher): Promise<ExchangedToken> {
  const body = new URLSearchParams({
    grant_type: TOKEN_EXCHANGE,
    subject_token: request.subjectToken,
    subject_token_type: ACCESS_TOKEN_TYPE,
    requested_token_type: ACCESS_TOKEN_TYPE,
    audience: request.audience,
    expires_in: String(Math.max(1, Math.floor(request.ttlMs / 1000))),
    exchange_type: request.type,
  });
  if (request.scopes.length) body.set("scope", request.scopes.join(" "));
  // RFC 6749 §2.3.1: client id and secret are form-encoded before Basic encoding.
  const basic = btoa(`${encodeURIComponent(idp.clientId)}:${encodeURIComponent(secret)}`);
  const init: RequestInit = {
    method: "POST",
    headers: {
      "Content-Type": "application/x-www-form-urlencoded",
      Accept: "application/json",
      Authorization: `Basic ${basic}`,
      ...(request.traceparent ? { traceparent: request.traceparent } : {}),
    },
    body,
    signal: AbortSignal.timeout(10_000),
  };
  const sentAt = Date.now();
  let res: Response;
  try {
    res = binding ? await binding.fetch(idp.tokenEndpoint, init) : await fetch(idp.tokenEndpoint, init);
  } catch (err) {
    throw new ExchangeError("temporarily_unavailable", `the identity provider could not be reached: ${(err as Error).name}`);
  }
  let json: Record<string, unknown>;
  try {
    json = (await res.json()) as Record<string, unknown>;
  } catch {
    throw new ExchangeError("server_error", `the identity provider answered ${res.status} without JSON`);
  }
  if (!res.ok || typeof json.access_token !== "string") {
    const error = typeof json.error === "string" ? json.error : "server_error";
    const description = typeof json.error_description === "string" ? json.error_description : `status ${res.status}`;
    throw new ExchangeError(error, `token exchange refused (${error}): ${description}`);
  }
  const expiresIn = typeof json.expires_in === "number" ? json.expires_in : Math.floor(request.ttlMs / 1000);
  const { exp, jti } = claimsOf(json.access_token);
  const expiresAt = Math.min(sentAt + expiresIn * 1000, exp === undefined ? Infinity : exp * 1000);
  return { token: json.access_token, expiresAt, ...(jti ? { jti } : {}) };
}
