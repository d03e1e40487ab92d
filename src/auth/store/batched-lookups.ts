// Key lookups of concurrent requests, sent to Redis together: while one MGET is on its way, the
// lookups that arrive wait and then go as the next MGET. A lone request goes at once (no added
// latency); under load, one round trip answers many token exchanges. The round trip, not the
// command, is what a lookup costs on Workers: an outbound fetch costs several times a JWT
// signature (npm run bench), so revocation stays checked on every exchange and costs a fraction
// of a fetch each.
//
// Workers rule: I/O belongs to the request whose code started it, and a promise continuation runs
// as part of whichever request resolved it. So a batch is only ever sent by code running for one
// of its own members: the arriving request itself, or a waiting one's own timer (it checks every
// millisecond whether the batch in flight has returned). A batch whose sender went away (its
// client hung up) could leave the others waiting: every waiter has a deadline after which it
// looks its keys up alone, and a batch older than the deadline no longer holds others back.

export type SendLookups = (keys: string[]) => Promise<(string | null)[]>;

interface Waiter {
  keys: string[];
  resolve(values: (string | null)[]): void;
  reject(error: unknown): void;
}

/** How often a waiting lookup checks whether it may send (workerd timers fire per millisecond). */
const POLL_MS = 1;

export class BatchedLookups {
  private pending: Waiter[] = [];
  /** Since when the batch on its way has been on its way. */
  private inFlightSince: number | null = null;

  constructor(
    private readonly send: SendLookups,
    private readonly options: { maxKeys: number; deadlineMs: number },
  ) {}

  /** The values of `keys` (null where absent), in order. */
  lookup(keys: string[]): Promise<(string | null)[]> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const deadline = setTimeout(() => {
        this.pending = this.pending.filter((w) => w !== waiter);
        this.send(keys).then(waiter.resolve, waiter.reject);
      }, this.options.deadlineMs);
      const settle = () => {
        settled = true;
        clearTimeout(deadline);
      };
      const waiter: Waiter = {
        keys,
        resolve: (values) => settled || (settle(), resolve(values)),
        reject: (error) => settled || (settle(), reject(error)),
      };
      this.pending.push(waiter);
      // Runs for this request only: now, or from its own timer.
      const tryToSend = () => {
        if (settled || !this.pending.includes(waiter)) return; // in a batch on its way
        if (this.mayAnotherBatchGo()) this.sendWith(waiter);
        else setTimeout(tryToSend, POLL_MS);
      };
      tryToSend();
    });
  }

  private mayAnotherBatchGo(): boolean {
    return this.inFlightSince === null || Date.now() - this.inFlightSince >= this.options.deadlineMs;
  }

  /** Sends `leader`'s keys and those of the lookups pending with it, up to maxKeys. */
  private sendWith(leader: Waiter): void {
    this.pending.splice(this.pending.indexOf(leader), 1);
    const batch = [leader];
    let keys = leader.keys.length;
    while (this.pending.length && keys + this.pending[0]!.keys.length <= this.options.maxKeys) {
      const waiter = this.pending.shift()!;
      keys += waiter.keys.length;
      batch.push(waiter);
    }
    const since = Date.now();
    this.inFlightSince = since;
    this.send(batch.flatMap((w) => w.keys))
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
        if (this.inFlightSince === since) this.inFlightSince = null;
      });
  }
}
