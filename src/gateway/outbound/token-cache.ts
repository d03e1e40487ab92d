// Exchanged tokens, reused within one session for the same (app, tool configuration, audience,
// scopes) while they will outlive the call they go with, so a burst of calls to one tool costs
// one exchange. Kept in the session's Durable Object (memory, mirrored to its storage by the caller).
import type { ExchangedToken } from "./token-exchange-client.js";

export type TokenCacheEntries = Record<string, ExchangedToken>;

export function cacheKey(app: string, configKey: string, audience: string, scopes: string[]): string {
  return [app, configKey, audience, [...scopes].sort().join(" ")].join("|");
}

export class TokenCache {
  constructor(private readonly entries: TokenCacheEntries = {}) {}

  /**
   * The cached token when it has more than `marginMs` to live: a call must not start with a
   * token that dies before the upstream has checked it.
   */
  get(key: string, marginMs: number, now = Date.now()): ExchangedToken | undefined {
    const entry = this.entries[key];
    return entry && entry.expiresAt - now > marginMs ? entry : undefined;
  }

  put(key: string, token: ExchangedToken): void {
    this.entries[key] = token;
  }

  /** Forgets a token (the upstream refused it). */
  drop(key: string): void {
    delete this.entries[key];
  }

  /** Drops expired entries; returns the live ones (what to persist). */
  snapshot(now = Date.now()): TokenCacheEntries {
    for (const [key, entry] of Object.entries(this.entries)) if (entry.expiresAt <= now) delete this.entries[key];
    return this.entries;
  }
}
