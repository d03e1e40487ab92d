// The HTTP audit sink's side of delivery (docs/audit.md): one POST of `{"events": [...]}` per
// batch, with an `Idempotency-Key` header derived from the batch's event ids, so that a batch
// resent unchanged carries the same key. Delivery is at least once: a sink must deduplicate on
// each event's `id` (the key only spares it work when a whole batch is resent). What to do with
// an answer follows RFC 9110: 2xx is an acknowledgement (§15.3); 408, 429 and 5xx are
// transient (§15.5.9, RFC 6585 §4, §15.6), with `Retry-After` honoured (§10.2.3); any other 4xx
// means the sink refuses the request, usually a configuration problem (URL, credentials), which
// is reported loudly but retried all the same until retention, since it may well be fixed.
// The outbox that keeps and schedules the events is durable-objects/audit-outbox.ts.
import { sha256Base64Url } from "../core/encoding.js";
import type { AuditEvent } from "./audit.js";

/** Event ids named in one drop log line (the events themselves are in the worker log). */
export const LOGGED_IDS = 100;

export interface SinkTarget {
  url: string;
  headers: Record<string, string>;
  timeoutMs: number;
}

export type DeliveryResult =
  | { outcome: "delivered"; status: number }
  /** Worth retrying as is: the sink or the network failed for now. */
  | { outcome: "failed"; status?: number; error?: string; retryAfterMs?: number }
  /** The sink refused the request (4xx other than 408/429). */
  | { outcome: "rejected"; status: number };

/** The batch's `Idempotency-Key`: SHA-256 of its event ids in order, base64url. */
export function batchKey(ids: string[]): Promise<string> {
  return sha256Base64Url(ids.join(","));
}

/** POSTs one batch; never throws. */
export async function deliverBatch(target: SinkTarget, events: AuditEvent[], key: string): Promise<DeliveryResult> {
  try {
    const res = await fetch(target.url, {
      method: "POST",
      headers: { ...target.headers, "Content-Type": "application/json", "Idempotency-Key": key },
      body: JSON.stringify({ events }),
      signal: AbortSignal.timeout(target.timeoutMs),
    });
    await res.body?.cancel();
    if (res.ok) return { outcome: "delivered", status: res.status };
    if (res.status < 500 && res.status !== 408 && res.status !== 429)
      return { outcome: "rejected", status: res.status };
    const retryAfterMs = retryAfter(res.headers.get("Retry-After"));
    return { outcome: "failed", status: res.status, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
  } catch (err) {
    return { outcome: "failed", error: err instanceof Error ? err.name : "error" };
  }
}

/** RFC 9110 §10.2.3: delay-seconds or an HTTP-date. */
function retryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/**
 * The delay before the next attempt after `failures` consecutive failures: minBackoff doubled
 * per failure up to maxBackoff, with jitter (half to all of it) so that shards recovering from
 * the same outage do not retry in step; never sooner than the sink's Retry-After (still capped).
 */
export function backoffMs(
  failures: number,
  options: { minBackoff: number; maxBackoff: number },
  retryAfterMs = 0,
  random = Math.random,
): number {
  const ceiling = Math.min(options.maxBackoff, options.minBackoff * 2 ** Math.min(30, Math.max(0, failures - 1)));
  const jittered = ceiling / 2 + (ceiling / 2) * random();
  return Math.round(Math.min(options.maxBackoff, Math.max(jittered, retryAfterMs)));
}

/** The outbox shard of a session's events (FNV-1a of the session id): one session's events stay in order. */
export function outboxShard(sessionId: string, shards: number): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < sessionId.length; i++) hash = Math.imul(hash ^ sessionId.charCodeAt(i), 0x01000193) >>> 0;
  return `audit-outbox-${hash % shards}`;
}
