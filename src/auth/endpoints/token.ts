// POST /token: one endpoint, one handler per grant type (RFC 6749 §3.2).
import type { Context } from "hono";
import { OAuthError } from "../../core/errors.js";
import { telemetryMetrics } from "../../core/telemetry/metrics.js";
import { inSpan, SpanKind } from "../../core/telemetry/spans.js";
import type { AuthApp } from "../app-types.js";
import { authenticateClient } from "../clients/client-auth.js";
import { GRANT_TYPES } from "../config-schema.js";
import { readForm, required } from "../form.js";
import { grantAuthorizationCode } from "../grants/authorization-code.js";
import { grantClientCredentials } from "../grants/client-credentials.js";
import type { Grant } from "../grants/grant.js";
import { grantRefreshToken } from "../grants/refresh-token.js";
import { grantTokenExchange } from "../grants/token-exchange.js";

const GRANTS: Record<string, Grant> = {
  [GRANT_TYPES.authorizationCode]: grantAuthorizationCode,
  [GRANT_TYPES.refreshToken]: grantRefreshToken,
  [GRANT_TYPES.clientCredentials]: grantClientCredentials,
  [GRANT_TYPES.tokenExchange]: grantTokenExchange,
};

/** Short names for span names (grant type URNs are long). */
const GRANT_NAMES: Record<string, string> = {
  [GRANT_TYPES.authorizationCode]: "authorization_code",
  [GRANT_TYPES.refreshToken]: "refresh_token",
  [GRANT_TYPES.clientCredentials]: "client_credentials",
  [GRANT_TYPES.tokenExchange]: "token_exchange",
};

export async function postToken(c: Context<AuthApp>): Promise<Response> {
  const provider = c.get("provider");
  const form = await readForm(c);
  const grantType = required(form, "grant_type");
  const grant = GRANTS[grantType];
  if (!grant) throw new OAuthError("unsupported_grant_type", `grant_type ${grantType} is not supported`, 400);
  const client = await authenticateClient(c, provider, form);
  if (!client.grantTypes.includes(grantType)) {
    throw new OAuthError("unauthorized_client", `this client may not use the ${grantType} grant`, 400);
  }
  // One span per grant (the token exchange of every tool call shows up here, server side).
  const attributes = { "oauth.grant_type": grantType, "oauth.client_id": client.clientId };
  const body = await inSpan(
    `oauth.token ${GRANT_NAMES[grantType] ?? grantType}`,
    { kind: SpanKind.INTERNAL, attributes },
    () => grant({ provider, client, form }),
  );
  telemetryMetrics().tokensIssued.add(1, { "oauth.grant_type": grantType });
  // RFC 6749 §5.1: token responses MUST NOT be cached.
  return c.json(body, 200, { "Cache-Control": "no-store", Pragma: "no-cache" });
}
