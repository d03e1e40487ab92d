// The user-facing part of an authorization: login and consent, between GET /authorize and the
// redirect back with a code. A pending request (an "interaction") lives in Redis for 10 minutes
// and is bound to the browser that started it by a cookie (cookies.ts), so forms posted from
// elsewhere fail (with SameSite=Lax the cookie is not sent on cross-site POSTs); each form also
// carries the interaction's CSRF token. A sign-in for one of the tier's own pages (the person's
// connected agents, connected-agents.ts) is an interaction too, with no authorization request behind it:
// it names the local path to return to instead of a client (`returnTo`), and never yields a code.
// A consent the person asked to remember answers later requests it covers without the consent
// page (grants/remembered-consent.ts, docs/auth/connected-agents.md).
import { Hono, type Context } from "hono";
import { randomToken, timingSafeEqualStrings } from "../../core/encoding.js";
import { log } from "../../core/log.js";
import type { AuthApp } from "../app-types.js";
import { isMetadataDocumentClientId } from "../clients/metadata-document.js";
import { authorizationRedirect } from "../grants/authorization-response.js";
import { coveringConsent } from "../grants/remembered-consent.js";
import type { ProviderContext } from "../provider-context.js";
import { accessTokenClaims, releasedClaims } from "../tokens/claims.js";
import { clearCookie, readCookie, writeCookie } from "./cookies.js";
import { knownDevice, rememberDevice } from "./device-cookie.js";
import { postedFromOwnOrigin } from "./form-origin.js";
import { errorPage, consentPage, loginPage, type ConsentPageModel } from "./pages.js";
import { countLoginFailure, loginLockout } from "./rate-limit.js";
import { currentSession, startSession, type LoginSession } from "./session.js";
import { authenticateBuiltinUser } from "./users.js";

export const INTERACTION_TTL_MS = 10 * 60_000;
const BINDING_COOKIE = "aig_interaction";

export interface Interaction {
  id: string;
  csrf: string;
  clientId: string;
  clientName: string;
  redirectUri: string;
  scope: string;
  resource: string[];
  codeChallenge: string;
  state?: string;
  nonce?: string;
  skipConsent: boolean;
  /** The consent page may offer to remember the decision, and a remembered one may answer (remembered-consent.ts mayRemember). */
  rememberable?: boolean;
  /** `prompt=consent`: ask even when a remembered consent covers the request. */
  askConsent?: boolean;
  /**
   * Set only for a sign-in to one of the tier's own pages: the local path (never a URL, so no
   * open redirect) the browser goes back to once signed in. Its authorization fields are empty.
   */
  returnTo?: string;
}

/** A path on this tier, as a sign-in for its own pages may return to: no scheme, host or `//`. */
export const LOCAL_PATH = /^\/(?![/\\])[A-Za-z0-9/_-]*$/;

function bindToBrowser(c: Context<AuthApp>, interaction: Interaction): void {
  writeCookie(c, BINDING_COOKIE, interaction.id, { sameSite: "Lax", maxAgeSeconds: INTERACTION_TTL_MS / 1000 });
}

function redirectTo(c: Context<AuthApp>, path: string): Response {
  c.header("Cache-Control", "no-store");
  return c.redirect(path, 303);
}

function expired(c: Context<AuthApp>): Response | Promise<Response> {
  c.header("Cache-Control", "no-store");
  return c.html(errorPage("invalid_request", "this sign-in request has expired or was already used"), 400);
}

/**
 * The redirect to the client, answered through the context: a Response built apart from it
 * would drop the cookies this request set (the new login session, the device cookie, the
 * binding's removal).
 */
function backToClient(c: Context<AuthApp>, redirect: Response): Response {
  c.header("Cache-Control", "no-store");
  return c.redirect(redirect.headers.get("Location")!, 303);
}

/**
 * Whether the person must be asked: not for a client the operator exempted, nor for a request a
 * consent they asked to remember covers (unless `prompt=consent`). A remembered consent that
 * answers is logged, so the operator can tell a silent authorization from a forged one.
 */
export async function needsConsent(
  c: Context<AuthApp>,
  interaction: Interaction,
  session: LoginSession,
): Promise<boolean> {
  if (interaction.skipConsent) return false;
  const { rememberFor } = c.get("provider").config.provider.consent;
  // `rememberFor: 0s` turns remembering off: what was remembered before no longer answers either.
  if (!interaction.rememberable || interaction.askConsent || rememberFor <= 0) return true;
  const consent = coveringConsent(await c.get("provider").store.listConsents(session.sub), interaction);
  if (!consent) return true;
  log("info", "consent.remembered_used", { sub: session.sub, client_id: interaction.clientId, consent: consent.id });
  return false;
}

/**
 * After /authorize (or a page of the tier's own): log in, ask for consent, or finish, depending
 * on what is already known (`askConsent`: needsConsent's answer, when the caller has it already).
 */
export async function continueInteraction(
  c: Context<AuthApp>,
  interaction: Interaction,
  session: LoginSession | null,
  askConsent?: boolean,
): Promise<Response> {
  bindToBrowser(c, interaction);
  if (!session) return redirectTo(c, `/login?interaction=${interaction.id}`);
  if (askConsent ?? (await needsConsent(c, interaction, session)))
    return redirectTo(c, `/consent?interaction=${interaction.id}`);
  return completeInteraction(c, interaction.id, session);
}

/**
 * Starts a sign-in for one of the tier's own pages, not tied to an authorization request
 * (interactions are how the login page, its CSRF token and the upstream login find their way
 * back). `returnTo` is a path the tier chose, checked once more so it can never become a redirect
 * elsewhere.
 */
export async function signInToReturn(c: Context<AuthApp>, returnTo: string, pageName: string): Promise<Response> {
  if (!LOCAL_PATH.test(returnTo)) throw new Error(`not a local path: ${returnTo}`);
  const interaction: Interaction = {
    id: randomToken(),
    csrf: randomToken(),
    clientId: "",
    clientName: pageName,
    redirectUri: "",
    scope: "",
    resource: [],
    codeChallenge: "",
    skipConsent: true,
    returnTo,
  };
  await c.get("provider").store.saveInteraction(interaction.id, interaction, INTERACTION_TTL_MS);
  return continueInteraction(c, interaction, null);
}

/** Loads the interaction a form or link names, if this browser started it. */
export async function boundInteraction(c: Context<AuthApp>, id: string | undefined): Promise<Interaction | null> {
  if (!id || readCookie(c, BINDING_COOKIE) !== id) return null;
  return c.get("provider").store.getInteraction<Interaction>(id);
}

/** A form post is genuine when its CSRF token matches and it comes from our own origin. */
async function checkForm(c: Context<AuthApp>, interaction: Interaction, csrf: unknown): Promise<boolean> {
  if (!postedFromOwnOrigin(c)) return false;
  return typeof csrf === "string" && (await timingSafeEqualStrings(csrf, interaction.csrf));
}

/** Issues the authorization code and sends the browser back to the client. */
export async function completeInteraction(
  c: Context<AuthApp>,
  interactionId: string,
  session: LoginSession,
): Promise<Response> {
  const provider = c.get("provider");
  // Read and removed in one step: an interaction yields at most one code.
  const interaction = await provider.store.takeInteraction<Interaction>(interactionId);
  if (!interaction) return expired(c);
  clearCookie(c, BINDING_COOKIE);
  // A sign-in for the tier's own page ends there: no client, no code.
  if (interaction.returnTo !== undefined)
    return LOCAL_PATH.test(interaction.returnTo) ? redirectTo(c, interaction.returnTo) : expired(c);
  const code = randomToken();
  const scopes = interaction.scope.split(" ").filter(Boolean);
  await provider.store.saveCode(
    code,
    {
      clientId: interaction.clientId,
      redirectUri: interaction.redirectUri,
      sub: session.sub,
      scope: interaction.scope,
      resource: interaction.resource,
      codeChallenge: interaction.codeChallenge,
      ...(interaction.nonce ? { nonce: interaction.nonce } : {}),
      authTime: session.authTime,
      sid: session.sid,
      claims: releasedClaims(session.claims, scopes),
      accessClaims: accessTokenClaims(session.claims),
    },
    provider.config.provider.tokens.authorizationCodeTTL,
  );
  return backToClient(
    c,
    authorizationRedirect(provider.issuer, interaction.redirectUri, { code, state: interaction.state }),
  );
}

async function denyInteraction(c: Context<AuthApp>, interactionId: string): Promise<Response> {
  const provider = c.get("provider");
  const interaction = await provider.store.takeInteraction<Interaction>(interactionId);
  if (!interaction) return expired(c);
  clearCookie(c, BINDING_COOKIE);
  return backToClient(
    c,
    authorizationRedirect(provider.issuer, interaction.redirectUri, {
      error: "access_denied",
      error_description: "the user denied the request",
      state: interaction.state,
    }),
  );
}

function renderLogin(
  c: Context<AuthApp>,
  interaction: Interaction,
  status: 200 | 401 | 429,
  error?: string,
  username?: string,
) {
  const login = c.get("provider").config.provider.login;
  c.header("Cache-Control", "no-store");
  return c.html(
    loginPage({
      interaction: interaction.id,
      csrf: interaction.csrf,
      clientName: interaction.clientName,
      builtinUsers: login.users.length > 0,
      ...(login.upstream ? { upstream: { name: login.upstream.name } } : {}),
      ...(error ? { error } : {}),
      ...(username ? { username } : {}),
    }),
    status,
  );
}

/**
 * For a client the operator did not configure (a metadata document or RFC 7591 registration),
 * what the consent page can show that the client did not merely assert about itself: the host
 * of its document URL, or the host its redirect URI sends the code to (for a private-use scheme,
 * RFC 8252 §7.1, the scheme). Configured clients get none.
 */
function unverifiedClient(provider: ProviderContext, interaction: Interaction): Pick<ConsentPageModel, "unverified"> {
  if (provider.config.provider.apps.some((app) => app.clientId === interaction.clientId)) return {};
  if (isMetadataDocumentClientId(interaction.clientId))
    return { unverified: { host: new URL(interaction.clientId).host, via: "metadata-document" } };
  const redirect = new URL(interaction.redirectUri);
  return { unverified: { host: redirect.host || redirect.protocol.slice(0, -1), via: "redirect-uri" } };
}

/** The remembered-consent lifetime as the consent page states it, in whole days (at least one). */
function rememberDays(c: Context<AuthApp>): number {
  return Math.max(1, Math.round(c.get("provider").config.provider.consent.rememberFor / 86_400_000));
}

async function rememberDecision(c: Context<AuthApp>, interaction: Interaction, session: LoginSession): Promise<void> {
  const now = Date.now();
  const consent = {
    id: randomToken(),
    clientId: interaction.clientId,
    redirectUri: interaction.redirectUri,
    scope: interaction.scope,
    resource: interaction.resource,
    rememberedAt: now,
    expiresAt: now + c.get("provider").config.provider.consent.rememberFor,
  };
  await c.get("provider").store.rememberConsent(session.sub, consent);
  log("info", "consent.remembered", { sub: session.sub, client_id: consent.clientId, consent: consent.id });
}

export const interactionRoutes = new Hono<AuthApp>();

interactionRoutes.get("/login", async (c) => {
  const interaction = await boundInteraction(c, c.req.query("interaction"));
  return interaction ? renderLogin(c, interaction, 200) : expired(c);
});

interactionRoutes.post("/login", async (c) => {
  const form = await c.req.parseBody();
  const interaction = await boundInteraction(c, typeof form.interaction === "string" ? form.interaction : undefined);
  if (!interaction || !(await checkForm(c, interaction, form.csrf))) return expired(c);
  const username = typeof form.username === "string" ? form.username.slice(0, 256) : "";
  const password = typeof form.password === "string" ? form.password.slice(0, 1024) : "";
  // Checked before the password, so a locked-out guesser learns nothing from further tries.
  const device = await knownDevice(c, username);
  const lockedFor = await loginLockout(c, username, device);
  if (lockedFor) {
    c.header("Retry-After", lockedFor);
    return renderLogin(
      c,
      interaction,
      429,
      `Too many failed sign-in attempts. Try again in ${Math.ceil(Number(lockedFor) / 60)} minute(s).`,
      username,
    );
  }
  const user = await authenticateBuiltinUser(c.get("provider").config.provider.login.users, username, password);
  if (!user) {
    await countLoginFailure(c, username, device);
    return renderLogin(c, interaction, 401, "The username or password is not correct.", username);
  }
  const [session] = await Promise.all([startSession(c, user), rememberDevice(c, username)]);
  if (await needsConsent(c, interaction, session)) return redirectTo(c, `/consent?interaction=${interaction.id}`);
  return completeInteraction(c, interaction.id, session);
});

interactionRoutes.get("/consent", async (c) => {
  const interaction = await boundInteraction(c, c.req.query("interaction"));
  // A sign-in for the tier's own pages has nothing to consent to.
  if (!interaction || interaction.returnTo !== undefined) return expired(c);
  const session = await currentSession(c);
  if (!session) return redirectTo(c, `/login?interaction=${interaction.id}`);
  c.header("Cache-Control", "no-store");
  return c.html(
    consentPage({
      interaction: interaction.id,
      csrf: interaction.csrf,
      clientName: interaction.clientName,
      clientId: interaction.clientId,
      ...unverifiedClient(c.get("provider"), interaction),
      user: String(session.claims.preferred_username ?? session.claims.email ?? session.sub),
      scopes: interaction.scope.split(" ").filter(Boolean),
      resources: interaction.resource,
      ...(interaction.rememberable ? { rememberDays: rememberDays(c) } : {}),
    }),
  );
});

interactionRoutes.post("/consent", async (c) => {
  const form = await c.req.parseBody();
  const interaction = await boundInteraction(c, typeof form.interaction === "string" ? form.interaction : undefined);
  if (!interaction || interaction.returnTo !== undefined || !(await checkForm(c, interaction, form.csrf)))
    return expired(c);
  const session = await currentSession(c);
  if (!session) return redirectTo(c, `/login?interaction=${interaction.id}`);
  if (form.decision !== "allow") return denyInteraction(c, interaction.id);
  // Remembered before the code is issued: if the store fails here, the interaction is still
  // pending and the person can answer again; nothing was issued on a half-kept decision.
  if (form.remember === "1" && interaction.rememberable && c.get("provider").config.provider.consent.rememberFor > 0)
    await rememberDecision(c, interaction, session);
  return completeInteraction(c, interaction.id, session);
});
