// Device cookies (OWASP Authentication Cheat Sheet, "Account Lockout", and its "Slow Down Online
// Guessing Attacks with Device Cookies"): a browser that signed in with a user's password gets a
// cookie naming that user and a random device id, signed by this provider, so the login lockout
// (rate-limit.ts) can tell the user's own browser from everyone else. Failures from unknown
// browsers lock out unknown browsers only; a known browser has its own small budget. The user
// is therefore not locked out of their account by a guesser, who never holds their cookie.
//
// The cookie is a compact JWS signed with the provider's signing keys (keys.ts), so it needs no
// secret of its own and survives key rotation like the tokens do. It cannot pass for a token:
// its `typ` is its own and its audience is this provider's login page, which no resource
// server, client or token endpoint accepts. One cookie per browser: the last user who signed
// in there (cookies.ts: HttpOnly, Secure, SameSite=Strict, `__Host-` under an https issuer).
import type { Context } from "hono";
import { decodeProtectedHeader, jwtVerify, SignJWT } from "jose";
import { randomToken } from "../../core/encoding.js";
import type { AuthApp } from "../app-types.js";
import { readCookie, writeCookie } from "./cookies.js";

const DEVICE_COOKIE = "aig_device";
const DEVICE_TYPE = "aig-device+jwt";
const MAX_COOKIE_CHARS = 2048;

/** A browser that signed in as the user now signing in. */
export interface KnownDevice {
  /** The device cookie's random id: its failures are counted under it. */
  id: string;
}

const audience = (issuer: string) => `${issuer}/login`;
/** Usernames are compared as the lockout counts them. */
const normalized = (username: string) => username.toLowerCase();

/** The browser's device cookie, when it is genuine, current and for `username`; else null. */
export async function knownDevice(c: Context<AuthApp>, username: string): Promise<KnownDevice | null> {
  const token = readCookie(c, DEVICE_COOKIE);
  if (!token || token.length > MAX_COOKIE_CHARS) return null;
  const { issuer, keys } = c.get("provider");
  try {
    const { kid } = decodeProtectedHeader(token);
    const verifier = kid ? keys.verifiers.get(kid) : undefined;
    if (!verifier) return null;
    const { payload } = await jwtVerify(token, verifier.key, {
      algorithms: [verifier.alg],
      typ: DEVICE_TYPE,
      issuer,
      audience: audience(issuer),
      requiredClaims: ["sub", "jti", "exp"],
    });
    return payload.sub === normalized(username) && typeof payload.jti === "string" ? { id: payload.jti } : null;
  } catch {
    return null;
  }
}

/** After a sign-in with the password: this browser is now known for `username`, with a fresh budget. */
export async function rememberDevice(c: Context<AuthApp>, username: string): Promise<void> {
  const { issuer, keys, config } = c.get("provider");
  const lifetimeSeconds = Math.floor(config.provider.rateLimits.loginFailures.deviceLifetime / 1000);
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: keys.signer.alg, kid: keys.signer.kid, typ: DEVICE_TYPE })
    .setIssuer(issuer)
    .setAudience(audience(issuer))
    .setSubject(normalized(username))
    .setJti(randomToken(16))
    .setIssuedAt(now)
    .setExpirationTime(now + lifetimeSeconds)
    .sign(keys.signer.key);
  writeCookie(c, DEVICE_COOKIE, token, { sameSite: "Strict", maxAgeSeconds: lifetimeSeconds });
}
