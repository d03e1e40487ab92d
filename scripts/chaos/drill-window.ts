// What one drill measured, read from the agents' records over the drill's time window: how many
// tools/call requests reached the gateway and how many of those failed, what the failures and the
// agents' other requests (new tokens, new sessions) got, how long after the fault ended every agent
// succeeded again, and how many audited calls the collector lacks. Pure bookkeeping, no I/O.
import type { CallRecord, SideRecord } from "./machine-agents.js";

export interface Target {
  text: string;
  pass: boolean;
}

export interface DrillRow {
  fault: string;
  saw: string;
  callsFailed: string;
  eventsLost: string;
  recover: string;
  targets: Target[];
}

/** "HTTP 503 temporarily_unavailable ×12, timeout ×1": the labels of `outcomes`, most frequent first. */
export function tally(outcomes: string[]): string {
  const counts = new Map<string, number>();
  for (const outcome of outcomes) counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([outcome, n]) => `${outcome} ×${n}`)
    .join(", ");
}

export interface Window {
  /** Calls that reached the gateway within the window. */
  reached: number;
  failed: number;
  /** Calls not sent because the connection was refused (the agent tried again). */
  refused: number;
  /** What agents saw: failed calls, then refused connections, then other requests that failed. */
  saw: string;
}

/** The calls under way at any time from `from` up to `to` (those in flight at its start included), and the side requests made meanwhile. */
export function readWindow(calls: CallRecord[], side: SideRecord[], from: number, to: number): Window {
  const inWindow = calls.filter((c) => c.ended >= from && c.started <= to);
  const reached = inWindow.filter((c) => c.reached);
  const failed = reached.filter((c) => c.outcome !== "ok");
  const refused = inWindow.length - reached.length;
  const others = side.filter((s) => s.at >= from && s.at <= to && s.outcome !== "ok");
  const parts = [
    failed.length ? `calls: ${tally(failed.map((c) => c.outcome))}` : "calls: all succeeded",
    refused ? `connection refused ×${refused} (not sent; retried)` : "",
    ...(["token", "initialize"] as const).map((what) => {
      const failures = others.filter((s) => s.what === what).map((s) => s.outcome);
      return failures.length ? `${what === "token" ? "new tokens" : "new sessions"}: ${tally(failures)}` : "";
    }),
  ];
  return { reached: reached.length, failed: failed.length, refused, saw: parts.filter(Boolean).join("; ") };
}

/**
 * When the agents were all back after a fault that ended at `ended`: for each agent, the end of its
 * first successful call after its last unsuccessful one (a refused connection included) among the
 * calls under way from `from` up to `to`; `ended` itself when no agent failed after it.
 */
export function recoveredAt(calls: CallRecord[], from: number, to: number, ended: number): number {
  const inWindow = calls.filter((c) => c.ended >= from && c.started <= to);
  let back = ended;
  for (const agent of new Set(inWindow.map((c) => c.agent))) {
    const own = inWindow.filter((c) => c.agent === agent);
    const lastFailure = own.filter((c) => c.outcome !== "ok").at(-1);
    if (!lastFailure) continue;
    const success = own.find((c) => c.outcome === "ok" && c.started >= lastFailure.ended);
    back = Math.max(back, success?.ended ?? to);
  }
  return back;
}

export const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
