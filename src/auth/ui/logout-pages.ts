// The pages of a sign-out (OpenID Connect RP-Initiated Logout 1.0 §2, §3): the question the
// person is asked when the request cannot prove it comes from their own session, and the page
// shown when there is nowhere trustworthy to send them afterwards. Escaped like every page (pages.ts).
import { html } from "hono/html";
import { page } from "./pages.js";

export interface ConfirmLogoutModel {
  logout: string;
  csrf: string;
  user: string;
  /** The asking client's name, only when the operator configured it (otherwise self-asserted). */
  clientName?: string;
}

export function confirmLogoutPage(m: ConfirmLogoutModel) {
  return page(
    "Sign out?",
    html`<h1>Sign out?</h1>
      <p>
        You are signed in as <strong>${m.user}</strong>.
        ${m.clientName ? html`<strong>${m.clientName}</strong> asks` : "An application asks"} to sign you out here.
      </p>
      <p>Signing out ends your session: every application will ask you to sign in again.</p>
      <form method="post" action="/logout/confirm">
        <input type="hidden" name="logout" value="${m.logout}" />
        <input type="hidden" name="csrf" value="${m.csrf}" />
        <button type="submit" name="decision" value="logout">Sign out</button>
        <button type="submit" name="decision" value="stay" class="secondary">Stay signed in</button>
      </form>`,
  );
}

export function signedOutPage() {
  return page(
    "Signed out",
    html`<h1>You are signed out</h1>
      <p role="status">Your session here has ended. You can close this window.</p>`,
  );
}

export function stillSignedInPage() {
  return page(
    "Still signed in",
    html`<h1>You are still signed in</h1>
      <p role="status">Nothing was changed. You can close this window.</p>`,
  );
}

export function logoutErrorPage(description: string) {
  return page(
    "Sign-out error",
    html`<h1>This sign-out request cannot continue</h1>
      <p class="error" role="alert">${description}</p>
      <p>Nothing was changed. Close this window and sign out again from the application.</p>`,
  );
}
