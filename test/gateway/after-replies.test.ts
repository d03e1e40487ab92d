// What a session object does once its replies have left (src/gateway/session/after-replies.ts):
// audit log lines and bookkeeping run after the task that answered, in the order they were
// scheduled, all of them even when one fails, and the request is told to wait for them.
import { describe, expect, it } from "vitest";
import { AfterReplies } from "../../src/gateway/session/after-replies.js";

function scheduler() {
  const waited: Promise<unknown>[] = [];
  return { after: new AfterReplies((promise) => waited.push(promise)), waited };
}

describe("work after the replies", () => {
  it("runs nothing in the task that schedules it, then everything in order", async () => {
    const { after } = scheduler();
    const ran: string[] = [];
    after.run(() => ran.push("audit line 1"));
    after.run(() => ran.push("audit line 2"));
    const bookkeeping = after.next().then(() => ran.push("bookkeeping"));
    await Promise.resolve();
    expect(ran).toEqual([]);
    await bookkeeping;
    expect(ran).toEqual(["audit line 1", "audit line 2", "bookkeeping"]);
  });

  it("hands the request one promise to wait for per batch, not one per piece", async () => {
    const { after, waited } = scheduler();
    after.run(() => undefined);
    after.run(() => undefined);
    await after.next();
    expect(waited).toHaveLength(1);
    after.run(() => undefined);
    await after.next();
    expect(waited).toHaveLength(2);
  });

  it("runs the rest when one piece throws", async () => {
    const { after } = scheduler();
    const ran: string[] = [];
    after.run(() => {
      throw new Error("a log line that could not be written");
    });
    after.run(() => ran.push("next line"));
    await after.next();
    expect(ran).toEqual(["next line"]);
  });
});
