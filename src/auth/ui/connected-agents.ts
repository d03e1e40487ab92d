// "Connected agents" (docs/auth/connected-agents.md): the signed-in person's own list of the
// grants they have given, and a way to end each. Behind the person's sign-in session: without
// one, the browser signs in (interaction.ts signInToReturn) and comes back here. A revocation is
// a form post carrying the session's CSRF token (session.ts) from this tier's own origin
// (form-origin.ts); it ends the grant's refresh family and the access tokens minted from it at
// once (store.ts revokeGrant, as the admin API does), and is logged like an operator's action.
// Forgetting a remembered consent is the same kind of post; the next authorization asks again.
import { Hono, type Context } from "hono";
import { timingSafeEqualStrings } from "../../core/encoding.js";
import { log } from "../../core/log.js";
import type { AuthApp } from "../app-types.js";
import { viewConsents, viewGrants } from "../grants/grant-view.js";
import {
  CONNECTED_AGENTS_PATH,
  connectedAgentsErrorPage,
  connectedAgentsPage,
  FORGET_PATH,
  REVOKE_PATH,
} from "./connected-agents-pages.js";
import { postedFromOwnOrigin } from "./form-origin.js";
import { signInToReturn } from "./interaction.js";
import type { LoginSession } from "./session.js";
import { currentSession } from "./session.js";

/** A grant id is a family reference (family-reference.ts), a consent id a random token: short base64url. */
const RECORD_ID = /^[A-Za-z0-9_-]{1,128}$/;

function refuse(c: Context<AuthApp>, status: 403 | 404, description: string): Response | Promise<Response> {
  c.header("Cache-Control", "no-store");
  return c.html(connectedAgentsErrorPage(description), status);
}

export const connectedAgentsRoutes = new Hono<AuthApp>();

connectedAgentsRoutes.get(CONNECTED_AGENTS_PATH, async (c) => {
  const session = await currentSession(c);
  if (!session) return signInToReturn(c, CONNECTED_AGENTS_PATH, "your connected agents");
  const provider = c.get("provider");
  const [grants, consents] = await Promise.all([
    provider.store.listGrants(session.sub).then((records) => viewGrants(provider, records)),
    provider.store.listConsents(session.sub).then((records) => viewConsents(provider, records)),
  ]);
  c.header("Cache-Control", "no-store");
  return c.html(
    connectedAgentsPage({
      user: String(session.claims.preferred_username ?? session.claims.email ?? session.sub),
      csrf: session.csrf!,
      grants,
      consents,
      ...(c.req.query("revoked") === "1" ? { revoked: true } : {}),
      ...(c.req.query("forgotten") === "1" ? { forgotten: true } : {}),
    }),
  );
});

/**
 * The checks every form of the page passes before anything changes: our own origin, the
 * person's live session, its CSRF token. Answers the session and the form's record id (null
 * when malformed), or the response that refuses the post.
 */
async function genuinePost(
  c: Context<AuthApp>,
  field: string,
): Promise<{ session: LoginSession; id: string | null } | Response> {
  const form = await c.req.parseBody();
  if (!postedFromOwnOrigin(c)) return refuse(c, 403, "This request did not come from this page.");
  const session = await currentSession(c);
  // No session (ended, or a cross-site post, which SameSite=Lax strips of the cookie): sign in
  // again from the page; nothing changes on a request the person cannot be shown to have made.
  if (!session) {
    c.header("Cache-Control", "no-store");
    return c.redirect(CONNECTED_AGENTS_PATH, 303);
  }
  const genuine = typeof form.csrf === "string" && (await timingSafeEqualStrings(form.csrf, session.csrf!));
  if (!genuine) return refuse(c, 403, "This request did not come from this page, or the page is out of date.");
  const value = form[field];
  return { session, id: typeof value === "string" && RECORD_ID.test(value) ? value : null };
}

connectedAgentsRoutes.post(REVOKE_PATH, async (c) => {
  const post = await genuinePost(c, "grant");
  if (post instanceof Response) return post;
  const { session, id } = post;
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

connectedAgentsRoutes.post(FORGET_PATH, async (c) => {
  const post = await genuinePost(c, "consent");
  if (post instanceof Response) return post;
  const { session, id } = post;
  // One HDEL in this person's own consents: another person's id is nothing, and it is all or nothing.
  const forgotten = id ? await c.get("provider").store.forgetConsent(session.sub, id) : false;
  log("info", "account.forget_consent", { sub: session.sub, consent: id, forgotten });
  if (!forgotten) return refuse(c, 404, "You have no such remembered consent: it may have been forgotten already.");
  c.header("Cache-Control", "no-store");
  return c.redirect(`${CONNECTED_AGENTS_PATH}?forgotten=1`, 303);
});
