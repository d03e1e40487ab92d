// A session's audit events on their way to the sink (docs/audit.md): each is written to the
// worker log, and, when mcpProvider.audit.sink is set, stored in the session object's own storage
// in the same step as the reply that produced it (the output gate holds the reply until the write
// is durable, with no extra round trip), then moved to the audit outbox in the background
// (durable-objects/audit-outbox.ts; appendToOutbox below is its client side) and deleted here
// once the outbox holds it. The log line is taken with the reply (its time, trace and fields)
// and written by the same request right after the reply has left (docs/performance.md,
// "Profiles": serializing and writing it was the largest cost of a warm call).
import { log } from "../../core/log.js";
import { telemetryMetrics } from "../../core/telemetry/metrics.js";
import { LOGGED_IDS, outboxShard } from "../audit-sink.js";
import { auditLogLine, type AuditEvent } from "../audit.js";
import type { GatewayConfig } from "../config.js";
import type { GatewayEnv } from "../env.js";
import { AfterReplies } from "./after-replies.js";

/** Audit events stored with the reply that produced them, until the audit outbox holds them (by event id). */
const AUDIT_PREFIX = "audit:";

export type AuditSinkConfig = GatewayConfig["provider"]["audit"]["sink"];
type SinkConfig = NonNullable<AuditSinkConfig>;

export class SessionAudit {
  /** The move of stored audit events to the outbox under way, if any (one at a time). */
  private forwarding: Promise<boolean> | undefined;
  /** Counts audit events stored, so that a move that found nothing knows whether one came meanwhile. */
  private stored = 0;

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly env: GatewayEnv,
    /** Where log lines wait for the replies to leave (the object's own, when it has one). */
    private readonly afterReplies = new AfterReplies((promise) => ctx.waitUntil(promise)),
  ) {}

  /** The worker log, and the sink through the audit outbox when one is configured. */
  record(event: AuditEvent, sink: AuditSinkConfig): void {
    const line = auditLogLine(event);
    if (line) this.afterReplies.run(line);
    if (!sink) return;
    this.stored++;
    void this.ctx.storage.put(`${AUDIT_PREFIX}${event.id}`, event);
    this.ctx.waitUntil(this.forward(sink));
  }

  /** Moves stored audit events to the outbox, deleting each here once the outbox holds it; true when none is left. */
  forward(sink: AuditSinkConfig): Promise<boolean> {
    if (!this.forwarding) {
      const run: Promise<boolean> = this.move(sink).finally(() => {
        if (this.forwarding === run) this.forwarding = undefined;
      });
      this.forwarding = run;
    }
    return this.forwarding;
  }

  /** Before the session's storage is erased: its audit events go to the outbox, or are logged and counted as dropped. */
  async handOver(sink: AuditSinkConfig): Promise<void> {
    if (await this.forward(sink)) return;
    const left = await this.ctx.storage.list<AuditEvent>({ prefix: AUDIT_PREFIX });
    if (left.size) droppedBeforeOutbox([...left.values()]);
  }

  private async move(sink: AuditSinkConfig): Promise<boolean> {
    try {
      for (;;) {
        const seen = this.stored;
        const stored = await this.ctx.storage.list<AuditEvent>({ prefix: AUDIT_PREFIX, limit: 100 });
        if (stored.size === 0) {
          if (seen !== this.stored) continue;
          return true;
        }
        const events = [...stored.values()];
        // Kept here on failure: the next event, the next start of this object or the session's end tries again.
        if (!sink || !(await appendToOutbox(this.env, sink, events[0]!.session_id, events))) return false;
        await this.ctx.storage.delete([...stored.keys()]);
      }
    } catch (err) {
      log("error", "audit.forward_failed", { error: err instanceof Error ? err.message : "error" });
      return false;
    }
  }
}

/**
 * Appends a session's audit events to their outbox shard; true once they are stored there. A
 * failed append is retried once (a Durable Object may be restarting). Never throws: on false the
 * caller still holds the events and decides what happens to them.
 */
export async function appendToOutbox(
  env: GatewayEnv,
  sink: SinkConfig,
  sessionId: string,
  events: AuditEvent[],
): Promise<boolean> {
  const name = outboxShard(sessionId, sink.shards);
  let error: unknown;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      if (!env.AUDIT_OUTBOX) throw new Error("no AUDIT_OUTBOX binding");
      await env.AUDIT_OUTBOX.get(env.AUDIT_OUTBOX.idFromName(name)).append(events);
      return true;
    } catch (err) {
      error = err;
    }
  }
  log("warn", "audit.outbox_failed", {
    events: events.length,
    shard: name,
    error: error instanceof Error ? error.message : "error",
  });
  return false;
}

/** Counts and logs events a session must give up before its outbox took them (the session ended meanwhile). */
export function droppedBeforeOutbox(events: AuditEvent[]): void {
  telemetryMetrics().auditDropped.add(events.length, { "gateway.audit.reason": "outbox_unavailable" });
  log("error", "audit.dropped", {
    reason: "outbox_unavailable",
    events: events.length,
    ids: events.map((e) => e.id).slice(0, LOGGED_IDS),
  });
}
