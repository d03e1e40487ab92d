// "Connected agents" (docs/auth/connected-agents.md): the signed-in person's own list of the
// grants they have given, and a way to end each. Behind the person's sign-in session: without
// one, the browser signs in (interaction.ts signInToReturn) and comes back here. A revocation is
// a form post carrying the session's CSRF token (session.ts) from this tier's own origin
// (form-origin.ts); it ends the grant's refresh family and the access tokens minted from it at
// once (store.ts revokeGrant, as the admin API does), and is logged like an operator's action.
import { Hono, type Context } from "hono";
import { timingSafeEqualStrings } from "../../core/encoding.js";
import { log } from "../../core/log.js";
import type { AuthApp } from "../app-types.js";
import { viewGrants } from "../grants/grant-view.js";
import {
  CONNECTED_AGENTS_PATH,
  connectedAgentsErrorPage,
  connectedAgentsPage,
  REVOKE_PATH,
} from "./connected-agents-pages.js";
import { postedFromOwnOrigin } from "./form-origin.js";
import { signInToReturn } from "./interaction.js";
import { currentSession } from "./session.js";

/** A grant id is a family reference (family-reference.ts): short base64url. */
const GRANT_ID = /^[A-Za-z0-9_-]{1,128}$/;

function refuse(c: Context<AuthApp>, status: 403 | 404, description: string): Response | Promise<Response> {
  c.header("Cache-Control", "no-store");
  return c.html(connectedAgentsErrorPage(description), status);
}

export const connectedAgentsRoutes = new Hono<AuthApp>();

connectedAgentsRoutes.get(CONNECTED_AGENTS_PATH, async (c) => {
  const session = await currentSession(c);
  if (!session) return signInToReturn(c, CONNECTED_AGENTS_PATH, "your connected agents");
  const provider = c.get("provider");
  const grants = await viewGrants(provider, await provider.store.listGrants(session.sub));
  c.header("Cache-Control", "no-store");
  return c.html(
    connectedAgentsPage({
      user: String(session.claims.preferred_username ?? session.claims.email ?? session.sub),
      csrf: session.csrf!,
      grants,
      ...(c.req.query("revoked") === "1" ? { revoked: true } : {}),
    }),
  );
});

connectedAgentsRoutes.post(REVOKE_PATH, async (c) => {
  const form = await c.req.parseBody();
  if (!postedFromOwnOrigin(c)) return refuse(c, 403, "This request did not come from this page.");
  const session = await currentSession(c);
  // No session (ended, or a cross-site post, which SameSite=Lax strips of the cookie): sign in
  // again from the page; nothing is revoked on a request the person cannot be shown to have made.
  if (!session) {
    c.header("Cache-Control", "no-store");
    return c.redirect(CONNECTED_AGENTS_PATH, 303);
  }
  const genuine = typeof form.csrf === "string" && (await timingSafeEqualStrings(form.csrf, session.csrf!));
  if (!genuine) return refuse(c, 403, "This request did not come from this page, or the page is out of date.");
  const id = typeof form.grant === "string" && GRANT_ID.test(form.grant) ? form.grant : null;
  const provider = c.get("provider");
  // revokeGrant looks the id up in this person's own index only: another person's id is no grant.
  const revoked = id
    ? await provider.store.revokeGrant(session.sub, id, provider.config.provider.tokens.accessTokenTTL)
    : false;
  log("info", "account.revoke_grant", { sub: session.sub, grant: id, revoked });
  if (!revoked) return refuse(c, 404, "You have no such connected agent: it may have been revoked already.");
  c.header("Cache-Control", "no-store");
  return c.redirect(`${CONNECTED_AGENTS_PATH}?revoked=1`, 303);
});
