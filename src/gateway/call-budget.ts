// How many tool calls may be made: `limit` per `period`, taken as a token bucket, so a burst up
// to `limit` goes through at once and the budget refills evenly over `period`. Used twice
// (docs/configuration.md): per session (mcpProvider.limits.toolCallsPerSession), in the session's
// Durable Object memory, a brake for a runaway agent loop that starts full again when the object
// is evicted; and per principal (toolCallsPerPrincipal), stored by the principal's own Durable
// Object (durable-objects/principal-limits.ts), a budget no new session and no eviction renews.
export interface CallBudgetConfig {
  limit: number;
  /** Milliseconds. */
  period: number;
}

export type Admission = { admitted: true } | { admitted: false; retryAfterMs: number };

/** A tool call's admission by every budget that applies, saying which one refused it. */
export type ToolCallAdmission =
  | { admitted: true }
  | { admitted: false; budget: "toolCallsPerSession" | "toolCallsPerPrincipal"; retryAfterMs: number }
  /** The principal's budget could not be consulted: the call is refused (fail closed). */
  | { admitted: false; budget: "unavailable"; retryAfterMs: number };

/** A bucket's state, to store between uses. */
export interface CallBudgetState {
  tokens: number;
  /** Milliseconds since the epoch. */
  updatedAt: number;
}

export class CallBudget {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly config: CallBudgetConfig,
    now: number,
    stored?: CallBudgetState,
  ) {
    this.tokens = stored ? Math.min(config.limit, stored.tokens) : config.limit;
    this.updatedAt = stored?.updatedAt ?? now;
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

  /** Gives back the call last admitted (another budget refused it after all). */
  refund(): void {
    this.tokens = Math.min(this.config.limit, this.tokens + 1);
  }

  get state(): CallBudgetState {
    return { tokens: this.tokens, updatedAt: this.updatedAt };
  }

  /** When the bucket will be full again, if nothing more is taken. */
  fullAt(): number {
    return this.updatedAt + Math.ceil(((this.config.limit - this.tokens) * this.config.period) / this.config.limit);
  }
}
