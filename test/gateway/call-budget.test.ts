// The per-session tool call budget: a token bucket of `limit` calls refilled over `period`.
import { describe, expect, it } from "vitest";
import { CallBudget } from "../../src/gateway/call-budget.js";

describe("a session's tool call budget", () => {
  it("lets a burst of up to `limit` calls through at once, and refuses the next", () => {
    const budget = new CallBudget({ limit: 3, period: 60_000 }, 0);
    expect([budget.admit(0), budget.admit(0), budget.admit(0)].every((a) => a.admitted)).toBe(true);
    expect(budget.admit(0)).toEqual({ admitted: false, retryAfterMs: 20_000 });
  });

  it("refills evenly over the period, never beyond the limit", () => {
    const budget = new CallBudget({ limit: 3, period: 60_000 }, 0);
    for (let i = 0; i < 3; i++) budget.admit(0);
    expect(budget.admit(19_999).admitted).toBe(false);
    expect(budget.admit(20_000).admitted).toBe(true);
    // An hour idle refills to 3, not to 180.
    const later = 3_600_000;
    expect([budget.admit(later), budget.admit(later), budget.admit(later)].every((a) => a.admitted)).toBe(true);
    expect(budget.admit(later).admitted).toBe(false);
  });

  it("says how long until the next call would be admitted", () => {
    const budget = new CallBudget({ limit: 10, period: 1_000 }, 0);
    for (let i = 0; i < 10; i++) budget.admit(0);
    expect(budget.admit(50)).toEqual({ admitted: false, retryAfterMs: 50 });
  });

  it("does not count refused calls against the budget", () => {
    const budget = new CallBudget({ limit: 1, period: 1_000 }, 0);
    budget.admit(0);
    for (let i = 0; i < 5; i++) budget.admit(500);
    expect(budget.admit(1_000).admitted).toBe(true);
  });

  it("gives back a call another budget refused", () => {
    const budget = new CallBudget({ limit: 1, period: 1_000 }, 0);
    expect(budget.admit(0).admitted).toBe(true);
    budget.refund();
    expect(budget.admit(0).admitted).toBe(true);
    expect(budget.admit(0).admitted).toBe(false);
  });

  it("resumes from a stored state, never above a lowered limit, and says when it is full again", () => {
    const spent = new CallBudget({ limit: 3, period: 3_000 }, 0);
    for (let i = 0; i < 3; i++) spent.admit(0);
    const resumed = new CallBudget({ limit: 3, period: 3_000 }, 500, spent.state);
    expect(resumed.admit(500).admitted).toBe(false);
    expect(new CallBudget({ limit: 3, period: 3_000 }, 0, spent.state).fullAt()).toBe(3_000);
    const lowered = new CallBudget({ limit: 1, period: 1_000 }, 0, { tokens: 3, updatedAt: 0 });
    expect([lowered.admit(0).admitted, lowered.admit(0).admitted]).toEqual([true, false]);
  });
});
