// How long the agent's lists (tools/list, prompts/list, resources/list, resources/templates/list)
// wait for each app (docs/apps.md, mcpProvider.limits.listTimeout). One hung upstream
// must not hold the whole answer for the app's timeout while the others answered at once: past
// the list deadline the app is reported late, exactly as a failed one is, and its listing goes on
// under the app's own timeout. A listing still in flight is shared by every request of the same
// session, so an agent that lists again sends a hung upstream nothing more; when a listing that
// was reported late lands, `landed` runs once (the session saves what it learned and tells the
// agent the list changed, MCP 2025-11-25 server/tools "List Changed Notification").
import type { AppConfig } from "../apps-schema.js";
import type { GatewayConfig } from "../config.js";

/** The deadline passed before the listing ended. */
export const LATE = Symbol("late");

export interface Flight<T> {
  readonly promise: Promise<T>;
  /** A list request gave up waiting for it. */
  late: boolean;
  /** Runs once if the listing succeeds after being reported late. */
  landed?: () => void;
}

/** Listings in flight, by session (the object holding its apps' state) and key (method and app). */
const flights = new WeakMap<object, Map<string, Flight<unknown>>>();

/** The listing in flight for `key` in `session`, or a new one made by `start`. */
export function sharedListing<T>(session: object, key: string, start: () => Promise<T>): Flight<T> {
  let byKey = flights.get(session);
  if (!byKey) flights.set(session, (byKey = new Map()));
  const existing = byKey.get(key) as Flight<T> | undefined;
  if (existing) return existing;
  const flight: Flight<T> = { promise: start(), late: false };
  byKey.set(key, flight as Flight<unknown>);
  const done = () => {
    if (byKey.get(key) === flight) byKey.delete(key);
  };
  flight.promise.then(
    () => {
      done();
      if (flight.late) flight.landed?.();
    },
    // A failure is reported by whoever still waits for it; nobody does once it was reported late.
    done,
  );
  return flight;
}

/** Forgets the listings in flight whose key is `key` or starts with it (an upstream said its list changed). */
export function forgetListings(session: object, key: string, { prefix = false } = {}): void {
  const byKey = flights.get(session);
  for (const known of [...(byKey?.keys() ?? [])])
    if (known === key || (prefix && known.startsWith(key))) byKey!.delete(known);
}

/** The listing's result, or LATE when `ms` pass first; then `landed` runs if it succeeds later. */
export async function within<T>(flight: Flight<T>, ms: number, landed: () => void): Promise<T | typeof LATE> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<typeof LATE>((resolve) => (timer = setTimeout(() => resolve(LATE), ms)));
  try {
    const outcome = await Promise.race([flight.promise, deadline]);
    if (outcome === LATE) {
      flight.late = true;
      flight.landed = landed;
    }
    return outcome;
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/** The app's list deadline: its own `listTimeout`, else mcpProvider.limits.listTimeout. */
export function listTimeoutOf(config: GatewayConfig, app: AppConfig): number {
  return app.listTimeout ?? config.provider.limits.listTimeout;
}

/** What unavailableApps says of an app that has not listed in time. */
export function lateMessage(ms: number): string {
  return `did not list within ${ms} ms`;
}
