// The login session (docs/auth/sign-in-sessions.md): a cookie (default `maverics_session`,
// `__Host-maverics_session` under an https issuer; HttpOnly, Secure, SameSite=Lax; cookies.ts)
// holding a random secret, and a record in Redis under the secret's SHA-256, which is also the
// session's public id (`sid`, the claim ID tokens carry, OpenID Connect Front-Channel Logout 1.0
// §2): neither Redis nor a client ever holds a usable cookie. The session ends at its absolute
// lifetime or after its idle timeout, whichever comes first (session-clock.ts); each use restarts
// the idle clock only. The record names its user, so a later listing of a person's sessions and
// grants, or a sign-out everywhere, can start from it.
import type { Context } from "hono";
import { randomToken, sha256Base64Url } from "../../core/encoding.js";
import type { AuthApp } from "../app-types.js";
import { clearCookie, readCookie, writeCookie } from "./cookies.js";
import { sessionEnded, timeLeftAfterUse } from "./session-clock.js";
import type { AuthenticatedUser } from "./users.js";

export interface LoginSession {
  /** Public id: SHA-256 (base64url) of the cookie's secret; the `sid` of ID tokens from this session. */
  sid: string;
  sub: string;
  claims: Record<string, unknown>;
  method: AuthenticatedUser["method"];
  /** Unix seconds of the login (OIDC auth_time). */
  authTime: number;
  /** The sign-in, ms since the epoch: the lifetime runs from here. */
  createdAt: number;
  /** The last use, ms since the epoch: the idle clock runs from here. */
  lastActiveAt: number;
  /**
   * The synchronizer token of forms on the person's own pages (connected-agents.ts; OWASP CSRF
   * Prevention Cheat Sheet): random, held only here and in those pages. Optional because sessions
   * begun before it existed get one at their next use.
   */
  csrf?: string;
}

/** What a session cookie holds: 32 random bytes, base64url (randomToken). */
const COOKIE_SECRET = /^[A-Za-z0-9_-]{43}$/;

function settings(c: Context<AuthApp>) {
  return c.get("provider").config.provider.session;
}

export async function startSession(c: Context<AuthApp>, user: AuthenticatedUser): Promise<LoginSession> {
  const now = Date.now();
  const secret = randomToken();
  const session: LoginSession = {
    sid: await sha256Base64Url(secret),
    sub: user.sub,
    claims: user.claims,
    method: user.method,
    authTime: Math.floor(now / 1000),
    createdAt: now,
    lastActiveAt: now,
    csrf: randomToken(),
  };
  const { store, config } = c.get("provider");
  // A sign-in always gets a new secret (no session fixation, RFC 6819 §4.4.1.8); the session it
  // replaces in this browser ends with it rather than lingering until its idle timeout.
  const previous = readCookie(c, settings(c).cookieName);
  await Promise.all([
    previous && COOKIE_SECRET.test(previous) ? sha256Base64Url(previous).then((sid) => store.deleteSession(sid)) : null,
    store.saveSession(session.sid, session, timeLeftAfterUse(session, settings(c), now)),
    // /userinfo answers from the latest claims for as long as a grant from this login may live.
    store.saveUserClaims(user.sub, user.claims, config.provider.tokens.refreshTokenTTL),
  ]);
  // The cookie lives as long as the session could; the record decides whether it still does.
  writeCookie(c, settings(c).cookieName, secret, {
    sameSite: "Lax",
    maxAgeSeconds: Math.floor(settings(c).lifetime / 1000),
  });
  return session;
}

/** The browser's session as stored, without counting this as a use; null when absent, ended or unknown. */
export async function findSession(c: Context<AuthApp>): Promise<LoginSession | null> {
  const secret = readCookie(c, settings(c).cookieName);
  if (!secret || !COOKIE_SECRET.test(secret)) return null;
  const store = c.get("provider").store;
  const sid = await sha256Base64Url(secret);
  const session = await store.getSession<LoginSession>(sid);
  if (!session) return null;
  // Redis expires the record at the same moment; this holds even when a write's TTL was rounded up.
  if (sessionEnded(session, settings(c), Date.now())) {
    await store.deleteSession(sid);
    return null;
  }
  return session;
}

/** The browser's session, its idle clock restarted (never past its lifetime); null when there is none. */
export async function currentSession(c: Context<AuthApp>): Promise<LoginSession | null> {
  const session = await findSession(c);
  if (!session) return null;
  const now = Date.now();
  const left = timeLeftAfterUse(session, settings(c), now);
  const used: LoginSession = { ...session, lastActiveAt: now, csrf: session.csrf ?? randomToken() };
  await c.get("provider").store.saveSession(session.sid, used, left);
  return used;
}

/** Ends the browser's session: its record goes, and the cookie is removed. */
export async function endSession(c: Context<AuthApp>, session: LoginSession | null): Promise<void> {
  if (session) await c.get("provider").store.deleteSession(session.sid);
  clearCookie(c, settings(c).cookieName);
}
