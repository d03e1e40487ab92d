// Abuse limits of the auth tier (oidcProvider.rateLimits): fixed windows counted in Redis, so
// every instance sees the same counts. Only endpoints an attacker can hammer without holding a
// credential are limited; the token endpoint's hot path (token exchange) is not.
//
// The client's address is known only when the operator names a header the platform sets
// (oidcProvider.clientAddress.header, e.g. CF-Connecting-IP on Cloudflare, which overwrites what
// the client sent). Anything else in a request is the client's choice, and a limit keyed on it
// is escaped by varying it; so without a trusted address, limits key on what the client cannot
// vary: the tier (registrations) and the username (failed logins).
//
// Failed logins follow OWASP's device cookies (device-cookie.ts): failures from unknown browsers
// count per username (per username and address, plus a wider per-username cap, when addresses
// are known) and lock out unknown browsers only; a browser that signed in as the user before
// counts its failures under its own device id, so a guesser cannot lock the user out of it.
import type { Context } from "hono";
import { OAuthError } from "../../core/errors.js";
import type { AuthApp } from "../app-types.js";
import type { KnownDevice } from "./device-cookie.js";

/** IPv4 or IPv6 text as platforms write it; anything else in the header counts as no address. */
const ADDRESS = /^[0-9A-Fa-f:.]{2,45}$/;

/** The caller's address from the header the operator trusts; null when none is configured or sent. */
export function clientAddress(c: Context<AuthApp>): string | null {
  const header = c.get("provider").config.provider.clientAddress.header;
  if (!header) return null;
  const value = c.req.header(header)?.trim();
  return value && ADDRESS.test(value) ? value.toLowerCase() : null;
}

function retryAfterSeconds(ms: number): string {
  return String(Math.max(1, Math.ceil(ms / 1000)));
}

/** Counts a dynamic client registration; over the limit, 429 with Retry-After (RFC 6585 §4). */
export async function limitRegistration(c: Context<AuthApp>): Promise<void> {
  const provider = c.get("provider");
  const { limit, window } = provider.config.provider.rateLimits.registration;
  const address = clientAddress(c);
  const { count, retryAfterMs } = await provider.store.countInWindow(
    "register",
    JSON.stringify([provider.issuer, address]),
    window,
  );
  if (count > limit) {
    const from = address ? "this address" : "anywhere (no client address is known)";
    throw new OAuthError(
      "temporarily_unavailable",
      `too many client registrations from ${from}; try again later`,
      429,
      { "Retry-After": retryAfterSeconds(retryAfterMs) },
    );
  }
}

interface Bucket {
  scope: string;
  id: string;
  limit: number;
}

/** The counters a failed login of `username` from this browser goes to. */
function loginFailureBuckets(c: Context<AuthApp>, username: string, device: KnownDevice | null): Bucket[] {
  const provider = c.get("provider");
  const limits = provider.config.provider.rateLimits.loginFailures;
  if (device)
    return [
      { scope: "login-failure-device", id: JSON.stringify([provider.issuer, device.id]), limit: limits.deviceLimit },
    ];
  const user = username.toLowerCase();
  const address = clientAddress(c);
  if (!address) return [{ scope: "login-failure", id: JSON.stringify([provider.issuer, user]), limit: limits.limit }];
  return [
    { scope: "login-failure", id: JSON.stringify([provider.issuer, user, address]), limit: limits.limit },
    { scope: "login-failure", id: JSON.stringify([provider.issuer, user]), limit: limits.usernameLimit },
  ];
}

/** Seconds to wait when this browser may not try `username` now, else null. */
export async function loginLockout(
  c: Context<AuthApp>,
  username: string,
  device: KnownDevice | null,
): Promise<string | null> {
  const provider = c.get("provider");
  const { window } = provider.config.provider.rateLimits.loginFailures;
  const counts = await Promise.all(
    loginFailureBuckets(c, username, device).map(async (bucket) => ({
      bucket,
      ...(await provider.store.countInWindow(bucket.scope, bucket.id, window, false)),
    })),
  );
  const over = counts.filter(({ bucket, count }) => count >= bucket.limit);
  return over.length ? retryAfterSeconds(Math.max(...over.map((o) => o.retryAfterMs))) : null;
}

export async function countLoginFailure(
  c: Context<AuthApp>,
  username: string,
  device: KnownDevice | null,
): Promise<void> {
  const provider = c.get("provider");
  const { window } = provider.config.provider.rateLimits.loginFailures;
  await Promise.all(
    loginFailureBuckets(c, username, device).map((bucket) =>
      provider.store.countInWindow(bucket.scope, bucket.id, window),
    ),
  );
}
