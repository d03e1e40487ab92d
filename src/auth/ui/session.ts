// The login session: a cookie (default `maverics_session`, `__Host-maverics_session` under an https
// issuer; HttpOnly, Secure, SameSite=Lax; cookies.ts) naming a record in Redis, with an absolute
// lifetime and an idle timeout from config.
import type { Context } from "hono";
import { randomToken } from "../../core/encoding.js";
import type { AuthApp } from "../app-types.js";
import { clearCookie, readCookie, writeCookie } from "./cookies.js";
import type { AuthenticatedUser } from "./users.js";

export interface LoginSession {
  id: string;
  sub: string;
  claims: Record<string, unknown>;
  method: AuthenticatedUser["method"];
  /** Unix seconds of the login (OIDC auth_time). */
  authTime: number;
  createdAt: number;
}

function settings(c: Context<AuthApp>) {
  return c.get("provider").config.provider.session;
}

/** Idle timeout, but never beyond the absolute lifetime. */
function remainingTtl(c: Context<AuthApp>, session: LoginSession): number {
  const { lifetime, idleTimeout } = settings(c);
  return Math.min(idleTimeout, session.createdAt + lifetime - Date.now());
}

export async function startSession(c: Context<AuthApp>, user: AuthenticatedUser): Promise<LoginSession> {
  const now = Date.now();
  const session: LoginSession = { id: randomToken(), sub: user.sub, claims: user.claims, method: user.method, authTime: Math.floor(now / 1000), createdAt: now };
  const { store, config } = c.get("provider");
  await Promise.all([
    store.saveSession(session.id, session, remainingTtl(c, session)),
    // /userinfo answers from the latest claims for as long as a grant from this login may live.
    store.saveUserClaims(user.sub, user.claims, config.provider.tokens.refreshTokenTTL),
  ]);
  writeCookie(c, settings(c).cookieName, session.id, { sameSite: "Lax", maxAgeSeconds: Math.floor(settings(c).lifetime / 1000) });
  return session;
}

/** The current session, its idle timer pushed forward; null when absent, expired or unknown. */
export async function currentSession(c: Context<AuthApp>): Promise<LoginSession | null> {
  const id = readCookie(c, settings(c).cookieName);
  if (!id || !/^[A-Za-z0-9_-]{43}$/.test(id)) return null;
  const store = c.get("provider").store;
  const session = await store.getSession<LoginSession>(id);
  if (!session) return null;
  const ttl = remainingTtl(c, session);
  if (ttl <= 0) {
    await store.deleteSession(id);
    return null;
  }
  await store.saveSession(id, session, ttl);
  return session;
}

export async function endSession(c: Context<AuthApp>): Promise<void> {
  const id = readCookie(c, settings(c).cookieName);
  if (id) await c.get("provider").store.deleteSession(id);
  clearCookie(c, settings(c).cookieName);
}
