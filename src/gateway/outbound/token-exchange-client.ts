// The gateway's side of RFC 8693: it authenticates to the identity provider as a confidential
// client and exchanges the agent's token for a per-tool token. The agent's token goes only to
// the identity provider, never upstream.
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
  /** Unix milliseconds. */
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

function jtiOf(token: string): string | undefined {
  try {
    const payload = JSON.parse(atob(token.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/"))) as { jti?: unknown };
    return typeof payload.jti === "string" ? payload.jti : undefined;
  } catch {
    return undefined;
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
  const jti = jtiOf(json.access_token);
  return { token: json.access_token, expiresAt: Date.now() + expiresIn * 1000, ...(jti ? { jti } : {}) };
}
