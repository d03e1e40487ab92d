// Exchanged tokens, reused within one session for the same (app, tool configuration, audience,
// scopes) until shortly before they expire, so a burst of calls to one tool costs one exchange.
// Kept in the session's Durable Object (memory, mirrored to its storage by the caller).
import type { ExchangedToken } from "./token-exchange-client.js";

export type TokenCacheEntries = Record<string, ExchangedToken>;

/** Tokens are not reused in the last part of their life: a call must not start with a token that dies in flight. */
function stillGood(entry: ExchangedToken, ttlMs: number, now: number): boolean {
  const margin = Math.max(1_000, ttlMs * 0.2);
  return entry.expiresAt - now > margin;
}

export function cacheKey(app: string, configKey: string, audience: string, scopes: string[]): string {
  return [app, configKey, audience, [...scopes].sort().join(" ")].join("|");
}

export class TokenCache {
  constructor(private readonly entries: TokenCacheEntries = {}) {}

  get(key: string, ttlMs: number, now = Date.now()): ExchangedToken | undefined {
    const entry = this.entries[key];
    return entry && stillGood(entry, ttlMs, now) ? entry : undefined;
  }

  put(key: string, token: ExchangedToken): void {
    this.entries[key] = token;
  }

  /** Drops expired entries; returns the live ones (what to persist). */
  snapshot(now = Date.now()): TokenCacheEntries {
    for (const [key, entry] of Object.entries(this.entries)) if (entry.expiresAt <= now) delete this.entries[key];
    return this.entries;
  }
}
