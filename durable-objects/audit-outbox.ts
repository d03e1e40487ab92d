// The audit outbox (docs/audit.md): a Durable Object per shard that keeps audit events in its
// own SQLite storage until the HTTP sink has acknowledged them with a 2xx, so that they survive
// a sink outage, the end of the session that produced them and the loss of the runtime. Sessions
// store each event in their own storage with their reply and move it here right after (the
// append returns once it is stored here; src/gateway/session/session-audit.ts); an alarm
// delivers the oldest events in batches, in order, and after a failure retries with exponential
// backoff (src/gateway/audit-sink.ts) until the sink answers or `retention` has passed. Only
// then, or when the shard already holds `maxBacklog` events, is an event dropped: each drop is an
// error log line and a count (`audit.events.dropped`); the backlog is the `audit.outbox.backlog`
// gauge. Every event is also in the worker log, written by the session before it is appended.
import { DurableObject } from "cloudflare:workers";
import { ConfigError } from "../src/core/errors.js";
import { log } from "../src/core/log.js";
import { telemetryMetrics } from "../src/core/telemetry/metrics.js";
import { flushTelemetry, setupTelemetry } from "../src/core/telemetry/telemetry.js";
import { backoffMs, batchKey, deliverBatch, LOGGED_IDS } from "../src/gateway/audit-sink.js";
import type { AuditEvent } from "../src/gateway/audit.js";
import { loadGatewayConfig, type GatewayConfig } from "../src/gateway/config.js";
import type { GatewayEnv } from "../src/gateway/env.js";
import type { AuditOutboxRpc, OutboxStatus } from "../src/gateway/object-rpc.js";

type SinkConfig = NonNullable<GatewayConfig["provider"]["audit"]["sink"]>;

/** When the sink is no longer configured, what is held is kept this long (the default retention), then dropped. */
const RETENTION_WITHOUT_SINK_MS = 24 * 3600_000;
/** Batches one alarm run delivers before it yields to a fresh run (bounded alarm duration). */
const BATCHES_PER_RUN = 20;
export class AuditOutbox extends DurableObject<GatewayEnv> implements AuditOutboxRpc {
  /** Events held, counted once per instance and then kept up to date (COUNT(*) scans the table). */
  private held: number | undefined;

  constructor(ctx: DurableObjectState, env: GatewayEnv) {
    super(ctx, env);
    // seq orders delivery (AUTOINCREMENT never reuses a value); id makes a repeated append a no-op.
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL, body TEXT NOT NULL)",
    );
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS delivery (name TEXT PRIMARY KEY, value INTEGER NOT NULL)");
  }

  /** Stores events for delivery; resolves once they are durable. Beyond maxBacklog, events are dropped (logged, counted). */
  async append(events: AuditEvent[]): Promise<void> {
    const sink = this.config().provider.audit.sink;
    if (!sink) return;
    const now = Date.now();
    const refused: string[] = [];
    for (const event of events) {
      if (this.backlog() >= sink.maxBacklog) {
        refused.push(event.id);
        continue;
      }
      // RETURNING yields a row only for an insert that happened (rowsWritten counts index pages too).
      const inserted = this.ctx.storage.sql
        .exec(
          "INSERT OR IGNORE INTO events (id, created_at, body) VALUES (?, ?, ?) RETURNING seq",
          event.id,
          now,
          JSON.stringify(event),
        )
        .toArray();
      this.held = this.backlog() + inserted.length;
    }
    if (refused.length) this.dropped("outbox_full", refused, { max_backlog: sink.maxBacklog });
    this.reportBacklog();
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(now + sink.flushInterval);
    flushTelemetry((promise) => this.ctx.waitUntil(promise));
  }

  async status(): Promise<OutboxStatus> {
    return { backlog: this.backlog(), failures: this.failures(), nextAttemptAt: await this.ctx.storage.getAlarm() };
  }

  /** Delivers what is held, oldest first; on a failure, schedules the next attempt with backoff. */
  override async alarm(): Promise<void> {
    try {
      await this.deliver();
    } finally {
      this.reportBacklog();
      flushTelemetry((promise) => this.ctx.waitUntil(promise));
    }
  }

  private async deliver(): Promise<void> {
    const sink = this.config().provider.audit.sink;
    this.expire(sink?.retention ?? RETENTION_WITHOUT_SINK_MS);
    if (this.backlog() === 0) return this.setFailures(0);
    if (!sink) {
      // Removed from the configuration: keep the events for the default retention, in case it returns.
      const oldest = this.ctx.storage.sql
        .exec<{ created_at: number }>("SELECT MIN(created_at) AS created_at FROM events")
        .one().created_at;
      await this.ctx.storage.setAlarm(oldest + RETENTION_WITHOUT_SINK_MS);
      log("error", "audit.sink_missing", {
        backlog: this.backlog(),
        shard: this.shard(),
        message: "audit events are held but no mcpProvider.audit.sink is configured",
      });
      return;
    }
    const target = { url: sink.url, headers: this.sinkHeaders(sink), timeoutMs: sink.timeout };
    for (let run = 0; run < BATCHES_PER_RUN; run++) {
      const rows = this.ctx.storage.sql
        .exec<{ seq: number; body: string }>("SELECT seq, body FROM events ORDER BY seq LIMIT ?", sink.maxBatch)
        .toArray();
      if (rows.length === 0) return this.setFailures(0);
      const events = rows.map((row) => JSON.parse(row.body) as AuditEvent);
      const result = await deliverBatch(target, events, await batchKey(events.map((e) => e.id)));
      if (result.outcome === "delivered") {
        // Appends arrive with higher seq values only: this removes exactly the batch.
        const deleted = this.ctx.storage.sql
          .exec("DELETE FROM events WHERE seq <= ? RETURNING seq", rows.at(-1)!.seq)
          .toArray();
        this.held = Math.max(0, this.backlog() - deleted.length);
        this.setFailures(0);
        continue;
      }
      const failures = this.failures() + 1;
      this.setFailures(failures);
      const delay = backoffMs(failures, sink, result.outcome === "failed" ? result.retryAfterMs : undefined);
      await this.ctx.storage.setAlarm(Date.now() + delay);
      const facts = {
        sink: new URL(sink.url).origin,
        shard: this.shard(),
        backlog: this.backlog(),
        failures,
        retry_in_ms: delay,
        ...("status" in result ? { status: result.status } : {}),
        ...("error" in result ? { error: result.error } : {}),
      };
      if (result.outcome === "rejected") {
        log("error", "audit.sink_rejected", {
          ...facts,
          message:
            "the audit sink refuses the events (check its URL and credentials); they are kept and retried until the retention",
        });
      } else {
        log("warn", "audit.sink_failed", facts);
      }
      return;
    }
    // More than one run's worth: continue in a fresh run at once.
    await this.ctx.storage.setAlarm(Date.now());
  }

  /** Drops what has waited longer than the retention. */
  private expire(retention: number): void {
    const cutoff = Date.now() - retention;
    const expired = this.ctx.storage.sql
      .exec<{ id: string }>("DELETE FROM events WHERE created_at < ? RETURNING id", cutoff)
      .toArray();
    if (!expired.length) return;
    this.held = Math.max(0, this.backlog() - expired.length);
    this.dropped(
      "retention",
      expired.map((row) => row.id),
      { retention_ms: retention },
    );
  }

  private dropped(reason: "retention" | "outbox_full", ids: string[], facts: Record<string, unknown>): void {
    telemetryMetrics().auditDropped.add(ids.length, { "gateway.audit.reason": reason });
    log("error", "audit.dropped", {
      reason,
      events: ids.length,
      ids: ids.slice(0, LOGGED_IDS),
      shard: this.shard(),
      backlog: this.backlog(),
      ...facts,
    });
  }

  private backlog(): number {
    this.held ??= this.ctx.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM events").one().n;
    return this.held;
  }

  private failures(): number {
    return (
      this.ctx.storage.sql.exec<{ value: number }>("SELECT value FROM delivery WHERE name = 'failures'").toArray()[0]
        ?.value ?? 0
    );
  }

  private setFailures(failures: number): void {
    this.ctx.storage.sql.exec(
      "INSERT INTO delivery (name, value) VALUES ('failures', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
      failures,
    );
  }

  private reportBacklog(): void {
    telemetryMetrics().auditBacklog.record(this.backlog(), { "gateway.audit.shard": this.shard() });
  }

  private shard(): string {
    return this.ctx.id.name ?? this.ctx.id.toString();
  }

  private sinkHeaders(sink: SinkConfig): Record<string, string> {
    const secrets = this.config().secrets;
    return Object.fromEntries(Object.entries(sink.headers).map(([name, ref]) => [name, secrets[ref.env]!]));
  }

  private config(): GatewayConfig {
    const loaded = loadGatewayConfig(this.env);
    if (!loaded.ok) throw new ConfigError("gateway", loaded.issues);
    setupTelemetry("ai-identity-gateway", loaded.config.provider.observability, loaded.config.secrets);
    return loaded.config;
  }
}
