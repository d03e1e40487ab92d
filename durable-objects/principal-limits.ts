// One Durable Object per principal (issuer + user + agent, src/gateway/auth/principal.ts), named
// by principalKey(): the one home of what a principal's sessions must share, so that opening
// another session renews nothing (docs/configuration.md, mcpProvider.limits):
// - the principal's live sessions (sessionsPerPrincipal), each holding a lease that its session
//   renews while active and gives back when it ends; a session that vanished without a word
//   loses its lease when the lease expires, so no slot is held forever;
// - the principal's tool call budget (toolCallsPerPrincipal), a token bucket stored here, so
//   neither a new session nor this object's eviction refills it.
// The limits themselves come with each call from the sessions, which read the configuration.
// Storage is SQLite-backed (wrangler.gateway.toml); the object erases itself once nothing is left
// that a later call would need (every lease expired, the bucket full again).
import { DurableObject } from "cloudflare:workers";
import { CallBudget, type Admission, type CallBudgetConfig, type CallBudgetState } from "../src/gateway/call-budget.js";
import type { GatewayEnv } from "../src/gateway/env.js";
import type { PrincipalLimitsRpc, SessionGrant } from "../src/gateway/object-rpc.js";

const STATE_KEY = "state";

interface PrincipalState {
  /** Session id → when its lease expires (ms since the epoch). */
  leases: Record<string, number>;
  /** The tool call bucket, with the configuration it was last used under. */
  budget?: CallBudgetState & { config: CallBudgetConfig };
}

export class PrincipalLimits extends DurableObject<GatewayEnv> implements PrincipalLimitsRpc {
  private state: PrincipalState | undefined;

  /**
   * A slot for `sessionId` among at most `limit` live sessions, leased for `leaseMs`; refused,
   * with the time until the first lease expires, when all are taken.
   */
  async acquireSession(sessionId: string, limit: number, leaseMs: number): Promise<SessionGrant> {
    const state = await this.load();
    const now = Date.now();
    this.purge(state, now);
    if (!(sessionId in state.leases) && Object.keys(state.leases).length >= limit) {
      return { granted: false, retryAfterMs: Math.max(1000, Math.min(...Object.values(state.leases)) - now) };
    }
    state.leases[sessionId] = now + leaseMs;
    await this.save(state);
    return { granted: true };
  }

  /**
   * The session was active: its lease runs `leaseMs` from now. A session that lost its lease
   * (it expired while its release was lost) gets it back, over the limit if need be: a live
   * session is never cut off.
   */
  async renewSession(sessionId: string, leaseMs: number): Promise<void> {
    const state = await this.load();
    state.leases[sessionId] = Date.now() + leaseMs;
    await this.save(state);
  }

  /** The session ended (DELETE, idle timeout): its slot is free. */
  async releaseSession(sessionId: string): Promise<void> {
    const state = await this.load();
    if (!(sessionId in state.leases)) return;
    delete state.leases[sessionId];
    await this.save(state);
  }

  /** Takes one tool call from the principal's budget of `config.limit` per `config.period`. */
  async admitToolCall(config: CallBudgetConfig): Promise<Admission> {
    const state = await this.load();
    const now = Date.now();
    // A changed configuration applies at once, to what is left of the bucket (at most the new limit).
    const budget = new CallBudget(config, now, state.budget);
    const admission = budget.admit(now);
    state.budget = { ...budget.state, config };
    await this.save(state);
    return admission;
  }

  override async alarm(): Promise<void> {
    const state = await this.load();
    this.purge(state, Date.now());
    await this.save(state);
  }

  private purge(state: PrincipalState, now: number): void {
    for (const [id, expiresAt] of Object.entries(state.leases)) if (expiresAt <= now) delete state.leases[id];
  }

  private async load(): Promise<PrincipalState> {
    this.state ??= (await this.ctx.storage.get<PrincipalState>(STATE_KEY)) ?? { leases: {} };
    return this.state;
  }

  /**
   * Stores the state and sets the alarm for when it next changes by itself (the last lease
   * expires, the bucket is full again); a state with nothing left to remember is erased.
   */
  private async save(state: PrincipalState): Promise<void> {
    const now = Date.now();
    const leasesEnd = Math.max(0, ...Object.values(state.leases));
    const budgetFull = state.budget ? new CallBudget(state.budget.config, now, state.budget).fullAt() : 0;
    const until = Math.max(leasesEnd, budgetFull);
    if (until <= now) {
      this.state = { leases: {} };
      await this.ctx.storage.deleteAlarm();
      await this.ctx.storage.deleteAll();
      return;
    }
    await this.ctx.storage.put(STATE_KEY, state);
    await this.ctx.storage.setAlarm(until);
  }
}
