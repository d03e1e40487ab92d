// How long an app's upstream has recently taken to answer a call, per app and per isolate. The
// token cache uses it as its reuse margin: a cached exchanged token is sent only while it will
// outlive the call it goes with (docs/apps.md), so an app whose calls take
// seconds gets tokens with seconds to spare, and a fast app keeps reusing them.
/** The calls remembered per app: the slowest of them sets the margin. */
const WINDOW = 32;
/** Older observations are forgotten, so one slow spell does not set the margin forever. */
const MAX_AGE_MS = 10 * 60_000;

const observed = new Map<string, { at: number; ms: number }[]>();

/** Records one call to `app` that the upstream answered (whatever the answer), taking `ms`. */
export function recordCallLatency(app: string, ms: number, now = Date.now()): void {
  const calls = observed.get(app) ?? [];
  calls.push({ at: now, ms });
  if (calls.length > WINDOW) calls.splice(0, calls.length - WINDOW);
  observed.set(app, calls);
}

/** The slowest recent answered call to `app` in milliseconds; 0 when none was seen. */
export function slowestRecentCall(app: string, now = Date.now()): number {
  const calls = observed.get(app);
  if (!calls) return 0;
  let slowest = 0;
  for (const call of calls) if (now - call.at <= MAX_AGE_MS && call.ms > slowest) slowest = call.ms;
  return slowest;
}
