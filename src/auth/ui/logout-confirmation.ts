// Asking the person before a sign-out the request alone cannot justify (OpenID Connect
// RP-Initiated Logout 1.0 §2, §6; docs/auth/sign-in-sessions.md). The question is a form with a
// CSRF token, posted to POST /logout/confirm; the pending sign-out lives in Redis for 10 minutes
// and names the session it was asked about, so a confirmation only ends that session: a form an
// attacker obtained for his own browser ends nothing in anyone else's.
import { Hono, type Context } from "hono";
import { randomToken, timingSafeEqualStrings } from "../../core/encoding.js";
import type { AuthApp } from "../app-types.js";
import { postedFromOwnOrigin } from "./form-origin.js";
import { confirmLogoutPage, logoutErrorPage, signedOutPage, stillSignedInPage } from "./logout-pages.js";
import { endSession, findSession, type LoginSession } from "./session.js";

export const PENDING_LOGOUT_TTL_MS = 10 * 60_000;

/** A sign-out waiting for the person's answer. */
export interface PendingLogout {
  id: string;
  csrf: string;
  /** The session the question is about. */
  sid: string;
  /** Where to send the browser afterwards (logout-rules.ts postLogoutRedirect), or null. */
  redirect: string | null;
}

/** The end of a sign-out: back to the client's registered URI, or our own "signed out" page. */
export function finishLogout(c: Context<AuthApp>, redirect: string | null): Response | Promise<Response> {
  c.header("Cache-Control", "no-store");
  return redirect ? c.redirect(redirect, 303) : c.html(signedOutPage());
}

export function logoutError(c: Context<AuthApp>, description: string): Response | Promise<Response> {
  c.header("Cache-Control", "no-store");
  return c.html(logoutErrorPage(description), 400);
}

/** Records the pending sign-out and shows the question. */
export async function askToConfirm(
  c: Context<AuthApp>,
  session: LoginSession,
  redirect: string | null,
  clientName?: string,
): Promise<Response> {
  const pending: PendingLogout = { id: randomToken(), csrf: randomToken(), sid: session.sid, redirect };
  await c.get("provider").store.saveLogout(pending.id, pending, PENDING_LOGOUT_TTL_MS);
  c.header("Cache-Control", "no-store");
  return c.html(
    confirmLogoutPage({
      logout: pending.id,
      csrf: pending.csrf,
      user: String(session.claims.preferred_username ?? session.claims.email ?? session.sub),
      ...(clientName ? { clientName } : {}),
    }),
  );
}

export const logoutConfirmationRoutes = new Hono<AuthApp>();

logoutConfirmationRoutes.post("/logout/confirm", async (c) => {
  const form = await c.req.parseBody();
  // Taken at once: whatever the answer, a question is answered once.
  const pending =
    typeof form.logout === "string" && form.logout.length <= 64
      ? await c.get("provider").store.takeLogout<PendingLogout>(form.logout)
      : null;
  const genuine =
    pending &&
    postedFromOwnOrigin(c) &&
    typeof form.csrf === "string" &&
    (await timingSafeEqualStrings(form.csrf, pending.csrf));
  if (!pending || !genuine)
    return logoutError(c, "This sign-out request has expired, was already answered, or did not come from this page.");
  const session = await findSession(c);
  if (!session || session.sid !== pending.sid)
    return logoutError(c, "This sign-out request was made for another session.");
  if (form.decision !== "logout") {
    c.header("Cache-Control", "no-store");
    return c.html(stillSignedInPage());
  }
  await endSession(c, session);
  return finishLogout(c, pending.redirect);
});
