// Key lookups of concurrent requests, sent to Redis together. A lone request goes at once (no added
// latency). A lookup that arrives while an MGET is on its way joins the next batch, and that batch
// goes the moment a batch on its way is answered, or once its first member has waited `maxWaitMs`,
// whichever comes first. Under load on a fast store, one round trip answers many token exchanges;
// on a slow store (tens of milliseconds away), a lookup waits at most `maxWaitMs` plus its own round
// trip, never a whole round trip of someone else's batch first. The round trip, not the command, is
// what a lookup costs on Workers: an outbound fetch costs several times a JWT signature
// (docs/performance.md), so revocation stays looked up on every exchange and costs a fraction of a
// fetch each.
//
// Nothing waits by polling. Every waiting lookup holds two things of its own: a promise that a batch
// on its way settles (it is woken), and one timer for the end of its wait. Either wakes it, and the
// first member of the open batch to wake sends that batch; the rest find themselves in it already.
//
// Workers rule: I/O belongs to the request whose code started it, and a promise settles in the
// request that created it (workerd's handle_cross_request_promise_resolution, the default since
// 2024-10). So a batch is only ever sent by code running for one of its own members: the arriving
// request itself, or a member's own wake-up promise or timer. Each member's answer is settled by its
// batch and delivered in the member's own request.
//
// Freshness: a lookup's answer always comes from an MGET sent after the lookup began, so a revocation
// written before an exchange asked is seen by that exchange; batches never share answers across
// time. A batch whose sender went away (its client hung up) can leave its members unanswered: each
// lookup has a deadline after which it asks alone, and a batch older than the deadline no longer
// counts as on its way.

export type SendLookups = (keys: string[]) => Promise<(string | null)[]>;

export interface BatchingOptions {
  /** Most keys one MGET carries. */
  maxKeys: number;
  /** Longest a lookup waits for a batch on its way to be answered before its own batch goes anyway. */
  maxWaitMs: number;
  /** After this long without an answer, a lookup asks alone. */
  deadlineMs: number;
}

interface Waiter {
  keys: string[];
  /** "open": in the next batch; "sent": in a batch on its way; "done": answered. */
  state: "open" | "sent" | "done";
  resolve(values: (string | null)[]): void;
  reject(error: unknown): void;
  /** Settles this member's own wake-up promise (a batch on its way was answered). */
  wake(): void;
}

export class BatchedLookups {
  /** The next batch: lookups waiting for their turn, in arrival order. */
  private open: Waiter[] = [];
  /** When each batch on its way was sent (one entry per batch). */
  private readonly inFlight = new Set<{ since: number }>();

  constructor(
    private readonly send: SendLookups,
    private readonly options: BatchingOptions,
  ) {}

  /** The values of `keys` (null where absent), in order. */
  lookup(keys: string[]): Promise<(string | null)[]> {
    return new Promise((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const stopTimer = () => timer !== undefined && clearTimeout(timer);
      const finish = () => {
        waiter.state = "done";
        stopTimer();
      };
      const waiter: Waiter = {
        keys,
        state: "open",
        resolve: (values) => waiter.state !== "done" && (finish(), resolve(values)),
        reject: (error) => waiter.state !== "done" && (finish(), reject(error)),
        wake: () => undefined,
      };
      // Runs for this request only: at its deadline, it asks alone.
      const askAlone = () => {
        if (waiter.state === "done") return;
        this.leave(waiter);
        this.send(keys).then(waiter.resolve, waiter.reject);
      };
      const armDeadline = () => {
        stopTimer();
        timer = setTimeout(askAlone, this.options.deadlineMs);
      };
      // Runs for this request only (its wake-up promise or its timer): sends the open batch with it,
      // unless another member already has; either way its deadline now runs.
      const go = () => {
        if (waiter.state === "done") return;
        if (waiter.state === "open") this.sendWith(waiter);
        armDeadline();
      };

      this.open.push(waiter);
      if (!this.busy()) return go();
      // Created here, so it settles in this request whichever request answers the batch on its way.
      void new Promise<void>((woken) => (waiter.wake = woken)).then(go);
      timer = setTimeout(go, this.options.maxWaitMs);
    });
  }

  /** Is a batch on its way that is younger than the deadline? */
  private busy(): boolean {
    const now = Date.now();
    for (const batch of this.inFlight) {
      if (now - batch.since < this.options.deadlineMs) return true;
      this.inFlight.delete(batch);
    }
    return false;
  }

  private leave(waiter: Waiter): void {
    const at = this.open.indexOf(waiter);
    if (at >= 0) this.open.splice(at, 1);
  }

  /** Sends `leader`'s keys and those of the open batch's earliest members, up to maxKeys. */
  private sendWith(leader: Waiter): void {
    this.leave(leader);
    const batch = [leader];
    let keys = leader.keys.length;
    while (this.open.length && keys + this.open[0]!.keys.length <= this.options.maxKeys) {
      const waiter = this.open.shift()!;
      keys += waiter.keys.length;
      batch.push(waiter);
    }
    for (const waiter of batch) waiter.state = "sent";
    const entry = { since: Date.now() };
    this.inFlight.add(entry);
    let answer: Promise<(string | null)[]>;
    try {
      answer = this.send(batch.flatMap((w) => w.keys));
    } catch (error) {
      answer = Promise.reject(error);
    }
    answer
      .then(
        (values) => {
          let offset = 0;
          for (const waiter of batch) {
            waiter.resolve(values.slice(offset, offset + waiter.keys.length));
            offset += waiter.keys.length;
          }
        },
        (error: unknown) => {
          for (const waiter of batch) waiter.reject(error);
        },
      )
      .finally(() => {
        this.inFlight.delete(entry);
        // The open batch may go now: wake its members; the first to run sends it.
        for (const waiter of this.open) waiter.wake();
      });
  }
}
