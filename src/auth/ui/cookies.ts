// The auth tier's cookies (login session, interaction binding, device cookie), all HttpOnly,
// Secure and Path=/. With an https issuer (every deployment) each is a `__Host-` cookie
// (RFC 6265bis §4.1.3.2): the browser accepts it only with Secure, Path=/ and no Domain, from a
// secure origin, so a sibling subdomain or a plain-http answer on the path cannot plant or
// overwrite one (login fixation, RFC 6819 §4.4.1.8), and only the prefixed name is read.
// A plain-http issuer (local runs) keeps the plain names: browsers refuse `__Host-` cookies
// there (localhost aside), and the issuer, not the request, says which deployment this is.
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { AuthApp } from "../app-types.js";

const HOST_PREFIX = "__Host-";
const MAX_AGE_LIMIT_SECONDS = 400 * 24 * 3600;

interface CookieName {
  name: string;
  prefix?: "host";
}

/** `name` as Hono's cookie helpers take it: without `__Host-`, and prefix "host" under an https issuer. */
function cookieName(c: Context<AuthApp>, name: string): CookieName {
  if (!c.get("provider").issuer.startsWith("https:")) return { name };
  // A configured name may already carry the prefix; it is added once.
  return { name: name.startsWith(HOST_PREFIX) ? name.slice(HOST_PREFIX.length) : name, prefix: "host" };
}

export function readCookie(c: Context<AuthApp>, name: string): string | undefined {
  const named = cookieName(c, name);
  return getCookie(c, named.name, named.prefix);
}

export function writeCookie(
  c: Context<AuthApp>,
  name: string,
  value: string,
  options: { maxAgeSeconds: number; sameSite: "Lax" | "Strict" },
): void {
  const named = cookieName(c, name);
  setCookie(c, named.name, value, {
    httpOnly: true,
    secure: true,
    path: "/",
    sameSite: options.sameSite,
    // RFC 6265bis §5.6.2 caps Max-Age at 400 days (and Hono refuses more).
    maxAge: Math.min(options.maxAgeSeconds, MAX_AGE_LIMIT_SECONDS),
    ...(named.prefix ? { prefix: named.prefix } : {}),
  });
}

export function clearCookie(c: Context<AuthApp>, name: string): void {
  const named = cookieName(c, name);
  deleteCookie(c, named.name, {
    httpOnly: true,
    secure: true,
    path: "/",
    ...(named.prefix ? { prefix: named.prefix } : {}),
  });
}
