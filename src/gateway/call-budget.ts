// How many tool calls one session may make: `limit` per `period`, taken as a token bucket, so a
// burst up to `limit` goes through at once and the budget refills evenly over `period`. A brake
// for a runaway agent loop, not an accounting system: the bucket lives in the session's Durable
// Object memory, so it starts full again when the object is evicted (after a long idle, which
// refills it anyway).
export interface CallBudgetConfig {
  limit: number;
  /** Milliseconds. */
  period: number;
}

export type Admission = { admitted: true } | { admitted: false; retryAfterMs: number };

export class CallBudget {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly config: CallBudgetConfig,
    now: number,
  ) {
    this.tokens = config.limit;
    this.updatedAt = now;
  }

  /** Takes one call from the budget, or says when the next one will be there. */
  admit(now: number): Admission {
    const perMs = this.config.limit / this.config.period;
    this.tokens = Math.min(this.config.limit, this.tokens + Math.max(0, now - this.updatedAt) * perMs);
    this.updatedAt = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return { admitted: true };
    }
    return { admitted: false, retryAfterMs: Math.ceil((1 - this.tokens) / perMs) };
  }
}
