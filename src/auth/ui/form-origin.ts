// Whether a form post comes from this provider's own pages (OWASP CSRF Prevention Cheat Sheet,
// "Verifying Origin With Standard Headers"): a browser names the page's origin in `Origin` on
// every POST; absent or "null" (a privacy setting) it proves nothing either way, and the form's
// CSRF token, checked beside it, decides.
import type { Context } from "hono";
import type { AuthApp } from "../app-types.js";

export function postedFromOwnOrigin(c: Context<AuthApp>): boolean {
  const origin = c.req.header("Origin");
  return !origin || origin === "null" || origin === new URL(c.get("provider").issuer).origin;
}
