// Login through an upstream OpenID Connect provider (Okta, Entra ID, Auth0, Keycloak...), with
// oauth4webapi as the relying party: the authorization code flow with PKCE, state and nonce
// (OIDC Core §3.1; RFC 9700 §2.1.1). The pending login lives in Redis keyed by its `state`, so
// the callback can land on any instance; it is taken (read and deleted) once, so a replayed
// callback finds nothing. The callback must also come back to the browser that started the
// interaction (its binding cookie), which stops login CSRF: a victim cannot be made to finish a
// login an attacker started upstream (RFC 9700 §4.7).
//
// Nothing upstream reaches the client: any failure ends on our error page, never in a redirect
// to the client's redirect URI, and never with details beyond an error code (details are logged).
import { Hono, type Context } from "hono";
import * as oauth from "oauth4webapi";
import { log } from "../../core/log.js";
import type { AuthApp } from "../app-types.js";
import type { UpstreamIdpConfig } from "../config-schema.js";
import { boundInteraction, continueInteraction, INTERACTION_TTL_MS } from "./interaction.js";
import { errorPage } from "./pages.js";
import { startSession } from "./session.js";

const CALLBACK_PATH = "/login/callback";
/** Upstream metadata rarely changes; refetching it on every login would add a round trip. */
const DISCOVERY_TTL_MS = 10 * 60_000;
/** Upper bound on each request to the upstream provider, so a stuck IdP cannot hang a login. */
const UPSTREAM_TIMEOUT_MS = 5_000;
/** oauth4webapi's generateRandomState(): 32 random bytes, base64url. */
const STATE = /^[A-Za-z0-9_-]{43}$/;
/** Upstream claims kept in the session; tokens/claims.ts releases them to clients by scope. */
const KEPT_CLAIMS = ["email", "email_verified", "name", "preferred_username", "groups"] as const;

/** What the callback needs to finish the login it belongs to. */
interface PendingUpstreamLogin {
  interactionId: string;
  codeVerifier: string;
  nonce: string;
}

/** A login that cannot continue: shown as an error page with this status. */
class UpstreamLoginError extends Error {
  constructor(
    readonly status: 400 | 404 | 409 | 502,
    readonly error: string,
    readonly description: string,
  ) {
    super(`${error}: ${description}`);
    this.name = "UpstreamLoginError";
  }
}

const expired = () =>
  new UpstreamLoginError(400, "invalid_request", "this sign-in request has expired or was already used");

// Pending logins share the interactions' namespace and lifetime: they are part of one.
const pendingKey = (state: string) => `upstream:${state}`;

function upstreamConfig(c: Context<AuthApp>): UpstreamIdpConfig {
  const upstream = c.get("provider").config.provider.login.upstream;
  if (!upstream)
    throw new UpstreamLoginError(404, "invalid_request", "sign-in through an identity provider is not configured");
  return upstream;
}

/**
 * oauth4webapi refuses plain http. A loopback issuer (an IdP on this machine, as in local
 * development and the tests) is the one case where that is allowed: its traffic never leaves
 * the host, so TLS would protect nothing. Anything else must be https.
 */
function requestOptions(issuer: URL): { signal: AbortSignal; [oauth.allowInsecureRequests]?: boolean } {
  const loopback =
    issuer.hostname === "localhost" || issuer.hostname === "[::1]" || /^127(\.\d{1,3}){3}$/.test(issuer.hostname);
  return {
    signal: AbortSignal.timeout(UPSTREAM_TIMEOUT_MS),
    ...(issuer.protocol === "http:" && loopback ? { [oauth.allowInsecureRequests]: true } : {}),
  };
}

/** The upstream's metadata (OIDC Discovery §4), from the Redis cache when fresh. */
async function upstreamMetadata(c: Context<AuthApp>, upstream: UpstreamIdpConfig): Promise<oauth.AuthorizationServer> {
  const { store } = c.get("provider");
  const cacheName = `upstream-discovery:${upstream.issuer}`;
  const cached = await store.cacheGet<oauth.AuthorizationServer>(cacheName);
  if (cached) return cached;
  const issuer = new URL(upstream.issuer);
  let metadata: oauth.AuthorizationServer;
  try {
    // Checks that the document names the configured issuer (OIDC Discovery §4.3).
    metadata = await oauth.processDiscoveryResponse(
      issuer,
      await oauth.discoveryRequest(issuer, { ...requestOptions(issuer), algorithm: "oidc" }),
    );
  } catch (err) {
    throw upstreamFailure("discovery", err);
  }
  await store.cacheSet(cacheName, metadata, DISCOVERY_TTL_MS);
  return metadata;
}

function upstreamFailure(stage: string, err: unknown): UpstreamLoginError {
  const { code, error } = err as { code?: string; error?: string };
  log("warn", "upstream_login.failed", {
    stage,
    code,
    error,
    message: err instanceof Error ? err.message : String(err),
  });
  return new UpstreamLoginError(
    502,
    "temporarily_unavailable",
    "the identity provider could not be reached or its answer could not be verified",
  );
}

/** RFC 8414 §2: without a stated preference, client_secret_basic is the method every server supports. */
function clientAuthentication(metadata: oauth.AuthorizationServer, secret: string): oauth.ClientAuth {
  const methods = metadata.token_endpoint_auth_methods_supported;
  if (methods && !methods.includes("client_secret_basic") && methods.includes("client_secret_post"))
    return oauth.ClientSecretPost(secret);
  return oauth.ClientSecretBasic(secret);
}

function keptClaims(source: Record<string, unknown>): Record<string, unknown> {
  const kept: Record<string, unknown> = {};
  for (const name of KEPT_CLAIMS) if (source[name] !== undefined) kept[name] = source[name];
  return kept;
}

/** GET /login/upstream?interaction=…: sends the browser to the upstream authorization endpoint. */
async function startUpstreamLogin(c: Context<AuthApp>): Promise<Response> {
  const provider = c.get("provider");
  const upstream = upstreamConfig(c);
  const interaction = await boundInteraction(c, c.req.query("interaction"));
  if (!interaction) throw expired();
  const metadata = await upstreamMetadata(c, upstream);
  if (!metadata.authorization_endpoint)
    throw upstreamFailure("discovery", new Error("no authorization_endpoint in the metadata"));

  const state = oauth.generateRandomState();
  const pending: PendingUpstreamLogin = {
    interactionId: interaction.id,
    codeVerifier: oauth.generateRandomCodeVerifier(),
    nonce: oauth.generateRandomNonce(),
  };
  await provider.store.saveInteraction(pendingKey(state), pending, INTERACTION_TTL_MS);

  const target = new URL(metadata.authorization_endpoint);
  const scopes = new Set(["openid", ...upstream.scopes]);
  for (const [name, value] of Object.entries({
    client_id: upstream.clientId,
    redirect_uri: provider.issuer + CALLBACK_PATH,
    response_type: "code",
    scope: [...scopes].join(" "),
    state,
    nonce: pending.nonce,
    // Sent even when the upstream does not advertise PKCE: servers ignore what they do not know.
    code_challenge: await oauth.calculatePKCECodeChallenge(pending.codeVerifier),
    code_challenge_method: "S256",
  })) {
    target.searchParams.set(name, value);
  }
  c.header("Cache-Control", "no-store");
  return c.redirect(target.href, 303);
}

/** GET /login/callback: the upstream's answer; on success the user is logged in here. */
async function finishUpstreamLogin(c: Context<AuthApp>): Promise<Response> {
  const provider = c.get("provider");
  const upstream = upstreamConfig(c);
  const params = new URL(c.req.url).searchParams;
  const state = params.get("state");
  if (!state || !STATE.test(state)) throw expired();
  // Taken, not read: a state (and so a code sent with it) is good for one callback only.
  const pending = await provider.store.takeInteraction<PendingUpstreamLogin>(pendingKey(state));
  if (!pending) throw expired();
  const interaction = await boundInteraction(c, pending.interactionId);
  if (!interaction) throw expired();

  const metadata = await upstreamMetadata(c, upstream);
  const client: oauth.Client = { client_id: upstream.clientId };
  let callback: URLSearchParams;
  try {
    // Checks state and, when the upstream sends it, `iss` (RFC 9207 mix-up defence).
    callback = oauth.validateAuthResponse(metadata, client, params, state);
  } catch (err) {
    if (err instanceof oauth.AuthorizationResponseError) {
      log("info", "upstream_login.refused", { error: err.error });
      throw new UpstreamLoginError(
        400,
        err.error === "access_denied" ? "access_denied" : "invalid_request",
        "the identity provider did not sign you in",
      );
    }
    log("warn", "upstream_login.bad_callback", { message: (err as Error).message });
    throw new UpstreamLoginError(400, "invalid_request", "the identity provider's answer is not valid");
  }

  const issuer = new URL(upstream.issuer);
  let sub: string;
  let claims: Record<string, unknown>;
  try {
    const response = await oauth.authorizationCodeGrantRequest(
      metadata,
      client,
      clientAuthentication(metadata, provider.config.secrets[upstream.clientSecret.env]!),
      callback,
      provider.issuer + CALLBACK_PATH,
      pending.codeVerifier,
      requestOptions(issuer),
    );
    // Validates the ID token's iss, aud, azp, exp, iat and nonce (OIDC Core §3.1.3.7). Its
    // signature is not checked: it came straight from the token endpoint over TLS (step 6).
    const tokens = await oauth.processAuthorizationCodeResponse(metadata, client, response, {
      expectedNonce: pending.nonce,
      requireIdToken: true,
    });
    const idToken = oauth.getValidatedIdTokenClaims(tokens)!;
    sub = idToken.sub;
    claims = keptClaims(idToken);
    // OIDC Core §5.4: claims asked for by scope may come only from UserInfo (many providers keep
    // the ID token small); its `sub` must be the ID token's (OIDC Core §5.3.2).
    if (metadata.userinfo_endpoint) {
      const userinfo = await oauth.processUserInfoResponse(
        metadata,
        client,
        sub,
        await oauth.userInfoRequest(metadata, client, tokens.access_token, requestOptions(issuer)),
      );
      claims = { ...claims, ...keptClaims(userinfo) };
    }
  } catch (err) {
    throw upstreamFailure("token", err);
  }

  // Our tokens carry the upstream's `sub` as it is, and built-in users' subjects live in the same
  // space: one that matched would make the two people one principal to policies, sessions and
  // every upstream API. Refused loudly, so the first such sign-in shows the clash to an admin.
  if (provider.config.provider.login.users.some((user) => (user.sub ?? user.username) === sub)) {
    log("warn", "upstream_login.subject_clash", { issuer: upstream.issuer });
    throw new UpstreamLoginError(
      409,
      "access_denied",
      "this account's identifier is also a built-in user's; an administrator must give that built-in user another sub (login.users[].sub)",
    );
  }
  const session = await startSession(c, { sub, claims, method: "upstream" });
  return continueInteraction(c, interaction, session);
}

function renderUpstreamError(err: Error, c: Context<AuthApp>): Response | Promise<Response> {
  if (!(err instanceof UpstreamLoginError)) throw err;
  c.header("Cache-Control", "no-store");
  return c.html(errorPage(err.error, err.description), err.status);
}

export const upstreamLoginRoutes = new Hono<AuthApp>();

upstreamLoginRoutes.get("/login/upstream", startUpstreamLogin);
upstreamLoginRoutes.get(CALLBACK_PATH, finishUpstreamLogin);
upstreamLoginRoutes.onError(renderUpstreamError);
