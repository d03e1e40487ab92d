// Ships audit events to an HTTP endpoint (a SIEM collector, a log pipeline) in batches, off the
// response path: events gathered within `flushInterval` go out in one POST, sent inside
// `waitUntil`, retried with backoff. The worker log stays the record of last resort: every
// event is logged before it is queued, and a batch that cannot be delivered is logged as lost.
import { log } from "../core/log.js";
import type { AuditEvent } from "./audit.js";

export interface AuditSinkOptions {
  url: string;
  headers: Record<string, string>;
  flushIntervalMs: number;
  maxBatch: number;
  retries: number;
}

type WaitUntil = (promise: Promise<unknown>) => void;

export class AuditSink {
  private queue: AuditEvent[] = [];
  private scheduled = false;

  constructor(private readonly options: AuditSinkOptions) {}

  enqueue(event: AuditEvent, waitUntil: WaitUntil): void {
    this.queue.push(event);
    if (this.queue.length >= this.options.maxBatch) {
      waitUntil(this.flush());
    } else if (!this.scheduled) {
      this.scheduled = true;
      waitUntil(new Promise((resolve) => setTimeout(resolve, this.options.flushIntervalMs)).then(() => this.flush()));
    }
  }

  async flush(): Promise<void> {
    this.scheduled = false;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxBatch);
      await this.send(batch);
    }
  }

  private async send(batch: AuditEvent[]): Promise<void> {
    for (let attempt = 0; attempt <= this.options.retries; attempt++) {
      try {
        const res = await fetch(this.options.url, {
          method: "POST",
          headers: { "Content-Type": "application/json", ...this.options.headers },
          body: JSON.stringify({ events: batch }),
          signal: AbortSignal.timeout(5_000),
        });
        await res.body?.cancel();
        // 4xx other than 408/429 will not get better by retrying.
        if (res.ok) return;
        if (res.status < 500 && res.status !== 408 && res.status !== 429) break;
      } catch {
        // network error or timeout: retry
      }
      if (attempt < this.options.retries) await new Promise((resolve) => setTimeout(resolve, 200 * 2 ** attempt));
    }
    log("error", "audit.sink_failed", { events: batch.length, sink: new URL(this.options.url).origin });
  }
}
