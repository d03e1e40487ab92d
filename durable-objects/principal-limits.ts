// One Durable Object per principal (issuer + user + agent, src/gateway/auth/principal.ts), named
// by principalKey(): the one home of what a principal's sessions must share, so that opening
// another session renews nothing (docs/configuration.md, mcpProvider.limits):
// - the principal's live sessions (sessionsPerPrincipal), each holding a lease that its session
//   renews while active and gives back when it ends; a session that vanished without a word
//   loses its lease when the lease expires, so no slot is held forever;
// - the principal's tool call budget (toolCallsPerPrincipal), a token bucket stored here, so
//   neither a new session nor this object's eviction refills it.
// The limits themselves come with each call from the sessions, which read the configuration.
//
// Storage is SQLite-backed (wrangler.gateway.toml; keys in docs/storage.md): one key per lease
// and one for the bucket, so that taking, renewing or giving back a slot writes one small value
// whatever the number of live sessions (one object serves every session of its principal, so a
// write of all leases at once grew with them). The object erases itself once nothing is left
// that a later call would need (every lease expired, the bucket full again): its alarm is set
// when none is, and when it rings it either erases or sets itself for the new end.
import { DurableObject } from "cloudflare:workers";
import { CallBudget, type Admission, type CallBudgetConfig, type CallBudgetState } from "../src/gateway/call-budget.js";
import type { GatewayEnv } from "../src/gateway/env.js";
import type { PrincipalLimitsRpc, SessionGrant } from "../src/gateway/object-rpc.js";

/** `lease:<session id>` → when that session's lease expires (ms since the epoch). */
const LEASE_PREFIX = "lease:";
/** The tool call bucket, with the configuration it was last used under. */
const BUDGET_KEY = "budget";

type StoredBudget = CallBudgetState & { config: CallBudgetConfig };

export class PrincipalLimits extends DurableObject<GatewayEnv> implements PrincipalLimitsRpc {
  /** Session id → when its lease expires (ms since the epoch), as stored. */
  private leases = new Map<string, number>();
  private budget: StoredBudget | undefined;
  /** When the alarm is set for, or null when none is. */
  private alarmAt: number | null = null;

  constructor(ctx: DurableObjectState, env: GatewayEnv) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(() => this.load());
  }

  /**
   * A slot for `sessionId` among at most `limit` live sessions, leased for `leaseMs`; refused,
   * with the time until the first lease expires, when all are taken.
   */
  async acquireSession(sessionId: string, limit: number, leaseMs: number): Promise<SessionGrant> {
    const now = Date.now();
    if (!this.leases.has(sessionId) && this.leases.size >= limit) {
      await this.purge(now);
      if (this.leases.size >= limit) {
        return { granted: false, retryAfterMs: Math.max(1000, Math.min(...this.leases.values()) - now) };
      }
    }
    await this.lease(sessionId, now + leaseMs);
    return { granted: true };
  }

  /**
   * The session was active: its lease runs `leaseMs` from now. A session that lost its lease
   * (it expired while its release was lost) gets it back, over the limit if need be: a live
   * session is never cut off.
   */
  async renewSession(sessionId: string, leaseMs: number): Promise<void> {
    await this.lease(sessionId, Date.now() + leaseMs);
  }

  /** The session ended (DELETE, idle timeout): its slot is free. */
  async releaseSession(sessionId: string): Promise<void> {
    if (!this.leases.delete(sessionId)) return;
    if (this.nothingLeft(Date.now())) return this.erase();
    await this.ctx.storage.delete(LEASE_PREFIX + sessionId);
  }

  /** Takes one tool call from the principal's budget of `config.limit` per `config.period`. */
  async admitToolCall(config: CallBudgetConfig): Promise<Admission> {
    const now = Date.now();
    // A changed configuration applies at once, to what is left of the bucket (at most the new limit).
    const budget = new CallBudget(config, now, this.budget);
    const admission = budget.admit(now);
    this.budget = { ...budget.state, config };
    await this.ctx.storage.put(BUDGET_KEY, this.budget);
    await this.ensureAlarm(now);
    return admission;
  }

  /** Expired leases go; then either nothing is left (erased) or the alarm is set for the new end. */
  override async alarm(): Promise<void> {
    this.alarmAt = null;
    const now = Date.now();
    await this.purge(now);
    if (this.nothingLeft(now)) return this.erase();
    await this.ensureAlarm(now);
  }

  private async lease(sessionId: string, expiresAt: number): Promise<void> {
    this.leases.set(sessionId, expiresAt);
    await this.ctx.storage.put(LEASE_PREFIX + sessionId, expiresAt);
    await this.ensureAlarm(Date.now());
  }

  private async purge(now: number): Promise<void> {
    const expired = [...this.leases].filter(([, expiresAt]) => expiresAt <= now).map(([id]) => id);
    if (!expired.length) return;
    for (const id of expired) this.leases.delete(id);
    // The storage API deletes at most 128 keys a call.
    for (let i = 0; i < expired.length; i += 128) {
      await this.ctx.storage.delete(expired.slice(i, i + 128).map((id) => LEASE_PREFIX + id));
    }
  }

  /** When the state would next be empty by itself: the last lease expires and the bucket is full. */
  private endsAt(now: number): number {
    let end = this.budget ? new CallBudget(this.budget.config, now, this.budget).fullAt() : 0;
    for (const expiresAt of this.leases.values()) end = Math.max(end, expiresAt);
    return end;
  }

  private nothingLeft(now: number): boolean {
    return this.endsAt(now) <= now;
  }

  /**
   * An alarm is set whenever something is stored. One already set stays even when it rings
   * before the state's end: alarm() then sets the next one, so a write costs no alarm write.
   */
  private async ensureAlarm(now: number): Promise<void> {
    if (this.alarmAt !== null) return;
    this.alarmAt = Math.max(this.endsAt(now), now + 1);
    await this.ctx.storage.setAlarm(this.alarmAt);
  }

  private async erase(): Promise<void> {
    this.leases.clear();
    this.budget = undefined;
    this.alarmAt = null;
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
  }

  private async load(): Promise<void> {
    const [leases, budget, alarmAt] = await Promise.all([
      this.ctx.storage.list<number>({ prefix: LEASE_PREFIX }),
      this.ctx.storage.get<StoredBudget>(BUDGET_KEY),
      this.ctx.storage.getAlarm(),
    ]);
    for (const [key, expiresAt] of leases) this.leases.set(key.slice(LEASE_PREFIX.length), expiresAt);
    this.budget = budget;
    this.alarmAt = alarmAt;
  }
}
