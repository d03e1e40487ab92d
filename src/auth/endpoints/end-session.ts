// GET and POST /logout: the end_session_endpoint of OpenID Connect RP-Initiated Logout 1.0
// (docs/auth/sign-in-sessions.md). A client sends the person here to end their session at this
// provider, with `id_token_hint`, `client_id`, `post_logout_redirect_uri` and `state` (§2). What
// the request may do is decided by ui/logout-rules.ts: a valid hint from the person's own session
// ends it at once; anything less asks them first; the browser goes back to the client only to a
// registered URI that a valid hint vouches for. Requests are idempotent (§4): without a session
// there is nothing to end, and that is no error.
import type { Context } from "hono";
import type { OAuthError } from "../../core/errors.js";
import type { AuthApp } from "../app-types.js";
import { findClient } from "../clients/clients.js";
import { formFrom, readForm, type Form } from "../form.js";
import { verifyIdTokenHint } from "../tokens/id-token-hint.js";
import { askToConfirm, finishLogout, logoutError } from "../ui/logout-confirmation.js";
import { needsConfirmation, postLogoutRedirect } from "../ui/logout-rules.js";
import { endSession, findSession } from "../ui/session.js";

export async function getEndSession(c: Context<AuthApp>): Promise<Response> {
  let params: Form;
  try {
    params = formFrom(new URL(c.req.url).searchParams);
  } catch (err) {
    return logoutError(c, (err as OAuthError).description);
  }
  return endSessionRequest(c, params);
}

/**
 * §2: the OP MUST accept POST with form serialization. A client posts from its own site, and the
 * session cookie (SameSite=Lax) is withheld from a cross-site POST, so the request is sent on as
 * a GET, which carries it.
 */
export async function postEndSession(c: Context<AuthApp>): Promise<Response> {
  let form: Form;
  try {
    form = await readForm(c);
  } catch (err) {
    return logoutError(c, (err as OAuthError).description);
  }
  c.header("Cache-Control", "no-store");
  return c.redirect(`${c.get("provider").issuer}/logout?${form.raw}`, 303);
}

async function endSessionRequest(c: Context<AuthApp>, params: Form): Promise<Response> {
  const provider = c.get("provider");
  const presented = params.get("id_token_hint");
  const hint = presented ? await verifyIdTokenHint(provider, presented) : null;
  const clientId = params.get("client_id");
  // §2: with both, the OP MUST verify that client_id is the client the ID token was issued to.
  if (hint && clientId && clientId !== hint.clientId)
    return logoutError(c, "The client_id is not the application the id_token_hint was issued to.");
  const named = hint?.clientId ?? clientId;
  const client = named ? await findClient(provider, named) : null;
  if (clientId && !client) return logoutError(c, "The client_id names no application registered here.");

  const session = await findSession(c);
  const postLogoutRedirectUri = params.get("post_logout_redirect_uri");
  const state = params.get("state");
  const redirect = postLogoutRedirect(
    { hint, client, ...(postLogoutRedirectUri ? { postLogoutRedirectUri } : {}), ...(state ? { state } : {}) },
    session,
  );
  if (session && needsConfirmation(hint, session)) {
    // Only a name the operator gave is shown; any other client's name is its own claim.
    return askToConfirm(c, session, redirect, client?.source === "config" ? client.name : undefined);
  }
  await endSession(c, session);
  return finishLogout(c, redirect);
}
