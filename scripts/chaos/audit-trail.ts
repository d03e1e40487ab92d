// Whether the gateway's audit trail is whole: every tools/call the gateway answered with a
// JSON-RPC message was handled by a session, and every such call is audited
// (docs/reliability/audit-delivery.md), so the demo audit collector, which keeps one event per
// `id`, must end up holding at least as many tools/call events for each session as the session had
// answered calls. The collector is asked through its own API (GET /events, the stack's audit token).
import type { DevStackInfo } from "../dev-stack.js";
import type { CallRecord } from "./machine-agents.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function eventsBySession(info: DevStackInfo): Promise<Map<string, number> | undefined> {
  try {
    const res = await fetch(info.auditEvents, {
      headers: { Authorization: `Bearer ${info.auditToken}` },
      signal: AbortSignal.timeout(5_000),
    });
    if (!res.ok) return undefined;
    const { events } = (await res.json()) as { events: { session_id?: string; method?: string }[] };
    const counts = new Map<string, number>();
    for (const event of events)
      if (event.method === "tools/call" && event.session_id)
        counts.set(event.session_id, (counts.get(event.session_id) ?? 0) + 1);
    return counts;
  } catch {
    return undefined;
  }
}

/** Audited calls the collector does not hold (yet): summed over sessions, answered calls beyond the events held. */
export async function missingEvents(info: DevStackInfo, calls: CallRecord[]): Promise<number | undefined> {
  const held = await eventsBySession(info);
  if (!held) return undefined;
  const answered = new Map<string, number>();
  for (const call of calls) if (call.answered) answered.set(call.sessionId, (answered.get(call.sessionId) ?? 0) + 1);
  let missing = 0;
  for (const [session, count] of answered) missing += Math.max(0, count - (held.get(session) ?? 0));
  return missing;
}

/**
 * Waits up to `deadlineMs` for the collector to hold every audited call: how many are still
 * missing then (undefined when the collector could not be asked, e.g. once npm run dev stopped).
 */
export async function awaitAuditTrail(
  info: DevStackInfo,
  calls: CallRecord[],
  deadlineMs: number,
  worthWaiting = () => true,
): Promise<number | undefined> {
  const deadline = Date.now() + deadlineMs;
  let missing: number | undefined;
  while (worthWaiting()) {
    missing = (await missingEvents(info, calls)) ?? missing;
    if (missing === 0 || Date.now() > deadline) return missing;
    await sleep(500);
  }
  return undefined;
}
