// GET /authorize: the authorization code flow with PKCE (OAuth 2.1 §4.1, RFC 7636, RFC 8707).
// Until the client and its redirect URI are known to be genuine, errors are shown as a page.
// After that, errors go back to the client (RFC 6749 §4.1.2.1, always with `iss`, RFC 9207) only
// when the operator configured it; a client that registered itself or is described by a metadata
// document could have named any redirect URI, so its errors stay on our page (RFC 9700 §4.11.2).
import type { Context } from "hono";
import { randomToken } from "../../core/encoding.js";
import { OAuthError } from "../../core/errors.js";
import type { AuthApp } from "../app-types.js";
import { findClient } from "../clients/clients.js";
import { redirectUriMatches } from "../clients/redirect-uri.js";
import { GRANT_TYPES } from "../config-schema.js";
import { formFrom } from "../form.js";
import { authorizationRedirect } from "../grants/authorization-response.js";
import { checkResources, checkScopes } from "../grants/grant-checks.js";
import { mayRemember } from "../grants/remembered-consent.js";
import { continueInteraction, INTERACTION_TTL_MS, needsConsent, type Interaction } from "../ui/interaction.js";
import { errorPage } from "../ui/pages.js";
import { currentSession } from "../ui/session.js";

/** RFC 7636 §4.1: 43 to 128 characters of [A-Z a-z 0-9 - . _ ~]. */
const CODE_CHALLENGE = /^[A-Za-z0-9\-._~]{43,128}$/;

function showError(c: Context<AuthApp>, status: 400, error: string, description: string): Response | Promise<Response> {
  c.header("Cache-Control", "no-store");
  return c.html(errorPage(error, description), status);
}

export async function getAuthorize(c: Context<AuthApp>): Promise<Response> {
  const provider = c.get("provider");
  let params;
  try {
    params = formFrom(new URL(c.req.url).searchParams);
  } catch (err) {
    return showError(c, 400, "invalid_request", (err as OAuthError).description);
  }
  const clientId = params.get("client_id");
  if (!clientId) return showError(c, 400, "invalid_request", "the client_id parameter is missing");
  const client = await findClient(provider, clientId);
  if (!client) return showError(c, 400, "invalid_client", "this application is not registered here");
  const redirectUri = params.get("redirect_uri");
  if (!redirectUri) return showError(c, 400, "invalid_request", "the redirect_uri parameter is missing");
  if (!redirectUriMatches(client.redirectUris, redirectUri)) {
    return showError(c, 400, "invalid_request", "the redirect_uri is not registered for this application");
  }

  // From here on the redirect URI is the client's own. RFC 9700 §4.11.2: whoever can register a
  // client can register an attacker's redirect URI, and a link to a request bound to fail would
  // make this server redirect victims there before anyone signed in (an open redirector). So only
  // a client the operator configured gets its errors back; any other sees them on our own page.
  // Nothing here has involved the user yet, so that holds for every error below, including
  // consent_required (which would otherwise tell the client that the user is signed in).
  const state = params.get("state");
  const vetted = client.source === "config";
  const fail = (error: string, description: string) =>
    vetted
      ? authorizationRedirect(provider.issuer, redirectUri, { error, error_description: description, state })
      : showError(c, 400, error, description);

  if (params.get("response_type") !== "code")
    return fail("unsupported_response_type", "only response_type=code is supported");
  if (!client.grantTypes.includes(GRANT_TYPES.authorizationCode))
    return fail("unauthorized_client", "this client may not use the authorization code flow");
  // OAuth 2.1 §4.1.1: PKCE is required; only S256 is accepted (`plain` offers no protection).
  const challenge = params.get("code_challenge");
  if (!challenge)
    return fail("invalid_request", "PKCE is required: send code_challenge with code_challenge_method=S256");
  if (params.get("code_challenge_method") !== "S256")
    return fail("invalid_request", "code_challenge_method must be S256");
  if (!CODE_CHALLENGE.test(challenge)) return fail("invalid_request", "code_challenge is malformed");
  if (params.get("request") || params.get("request_uri"))
    return fail("request_not_supported", "request objects are not supported");

  let scope: string;
  let resources: string[];
  try {
    scope = checkScopes(provider, client, params.get("scope")).join(" ");
    resources = checkResources(provider, client, params.getAll("resource"));
  } catch (err) {
    if (err instanceof OAuthError) return fail(err.error, err.description);
    throw err;
  }

  const interaction: Interaction = {
    id: randomToken(),
    csrf: randomToken(),
    clientId: client.clientId,
    clientName: client.name,
    redirectUri,
    scope,
    resource: resources,
    codeChallenge: challenge,
    ...(state ? { state } : {}),
    ...(params.get("nonce") ? { nonce: params.get("nonce") } : {}),
    skipConsent: client.skipConsent,
    rememberable: mayRemember(client, provider.config.provider.consent.rememberFor),
  };
  const session = await currentSession(c);
  const prompt = params.get("prompt")?.split(" ") ?? [];
  // OpenID Connect Core §3.1.2.1: `consent` asks even where a remembered consent would answer.
  if (prompt.includes("consent")) interaction.askConsent = true;
  const signedIn = prompt.includes("login") ? null : session;
  const ask = signedIn ? await needsConsent(c, interaction, signedIn) : true;
  if (prompt.includes("none") && (!signedIn || ask)) {
    return fail(
      session ? "consent_required" : "login_required",
      "the user must interact with the authorization server",
    );
  }
  await provider.store.saveInteraction(interaction.id, interaction, INTERACTION_TTL_MS);
  return continueInteraction(c, interaction, signedIn, signedIn ? ask : undefined);
}
