// A bounded in-memory map whose entries expire, kept per isolate. The tiers use it to remember
// what is costly to learn again and cannot change before a known time: tokens whose signature
// and claims were verified (a signature check is most of what a token exchange or an MCP request
// costs, npm run bench), and the gateway's RFC 7662 introspection answers.
//
// Each entry lives until the time its caller gives (a token's `exp`, an answer's end) and at most
// `maxAgeMs`, so that, for example, a key withdrawn from a JWKS stops vouching for its tokens
// within that time, as jose's own key cache does. Past `maxEntries` the oldest entry goes.
// Callers pass the current time, so one request judges all its entries by one clock reading.
// Hand-written rather than a cache library: none is among the workers' dependencies, and this
// takes twenty lines and no timers.
export class ExpiringCache<T> {
  private readonly entries = new Map<string, { value: T; until: number }>();

  constructor(
    private readonly maxEntries: number,
    private readonly maxAgeMs: number,
  ) {}

  /** What was remembered for `key`, unless it has expired since. */
  get(key: string, nowMs = Date.now()): T | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (nowMs < entry.until) return entry.value;
    this.entries.delete(key);
    return undefined;
  }

  /** Remembers `value` for `key` until `expiresAtMs` (at most `maxAgeMs` from `nowMs`). */
  set(key: string, value: T, expiresAtMs: number, nowMs = Date.now()): void {
    if (this.entries.size >= this.maxEntries && !this.entries.has(key))
      this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { value, until: Math.min(expiresAtMs, nowMs + this.maxAgeMs) });
  }
}
