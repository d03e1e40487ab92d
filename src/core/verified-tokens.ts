// JWTs that passed every signature and claim check, remembered per isolate so that a token
// presented again and again (an agent session's, on every tool call) is not verified again: what
// its signature, header, issuer and audience said cannot change. Checking a signature is most of
// what a token exchange or an MCP request costs (npm run bench); a Map lookup is not.
//
// What can change is handled by the callers and here: expiry (an entry dies with its token),
// revocation (checked on every use where the tier checks it at all), and the key set (an entry
// lives at most `maxAgeMs`, so a key withdrawn from a JWKS stops vouching for its tokens within
// that time, as jose's own key cache does). Bounded: past `maxEntries` the oldest entry goes.
export class VerifiedTokens<T> {
  private readonly entries = new Map<string, { value: T; until: number }>();

  constructor(
    private readonly maxEntries: number,
    private readonly maxAgeMs: number,
  ) {}

  /** What was remembered for `token`, unless it has expired since. */
  get(token: string, nowMs = Date.now()): T | undefined {
    const entry = this.entries.get(token);
    if (!entry) return undefined;
    if (nowMs < entry.until) return entry.value;
    this.entries.delete(token);
    return undefined;
  }

  /** Remembers a verified token until `expiresAtMs` (its `exp`, plus any clock tolerance). */
  set(token: string, value: T, expiresAtMs: number, nowMs = Date.now()): void {
    if (this.entries.size >= this.maxEntries && !this.entries.has(token)) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(token, { value, until: Math.min(expiresAtMs, nowMs + this.maxAgeMs) });
  }
}
