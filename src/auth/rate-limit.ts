// Abuse limits of the auth tier (oidcProvider.rateLimits): fixed windows counted in Redis, so
// every instance sees the same counts. Only endpoints an attacker can hammer without holding a
// credential are limited; the token endpoint's hot path (token exchange) is not.
import type { Context } from "hono";
import { OAuthError } from "../core/errors.js";
import type { AuthApp } from "./app-types.js";

/** The caller's address as Cloudflare reports it; locally there is none, and all callers share one bucket. */
export function clientAddress(c: Context<AuthApp>): string {
  return c.req.header("CF-Connecting-IP") ?? "unknown";
}

function retryAfterSeconds(ms: number): string {
  return String(Math.max(1, Math.ceil(ms / 1000)));
}

/** Counts a dynamic client registration; over the limit, 429 with Retry-After (RFC 6585 §4). */
export async function limitRegistration(c: Context<AuthApp>): Promise<void> {
  const provider = c.get("provider");
  const { limit, window } = provider.config.provider.rateLimits.registration;
  const { count, retryAfterMs } = await provider.store.countInWindow("register", `${provider.issuer} ${clientAddress(c)}`, window);
  if (count > limit) {
    throw new OAuthError("temporarily_unavailable", "too many client registrations from this address; try again later", 429, { "Retry-After": retryAfterSeconds(retryAfterMs) });
  }
}

/** Failed logins of one username from one address; seconds to wait when over the limit, else null. */
export async function loginLockout(c: Context<AuthApp>, username: string): Promise<string | null> {
  const provider = c.get("provider");
  const { limit, window } = provider.config.provider.rateLimits.loginFailures;
  const { count, retryAfterMs } = await provider.store.countInWindow("login-failure", `${provider.issuer} ${username.toLowerCase()} ${clientAddress(c)}`, window, false);
  return count >= limit ? retryAfterSeconds(retryAfterMs) : null;
}

export async function countLoginFailure(c: Context<AuthApp>, username: string): Promise<void> {
  const provider = c.get("provider");
  const { window } = provider.config.provider.rateLimits.loginFailures;
  await provider.store.countInWindow("login-failure", `${provider.issuer} ${username.toLowerCase()} ${clientAddress(c)}`, window);
}
