// Work a Durable Object does for a request once its replies have left: a write started before
// them would hold them until it commits (the object's output gate), and serializing a log line
// before them only delays them. What is scheduled in one turn runs together, in order, in one
// task of its own after the current one (one timer, not one per piece), and the request waits
// for it (waitUntil), so none of it is dropped when the reply is out.
export class AfterReplies {
  private tasks: (() => void)[] = [];
  private tick: Promise<void> | undefined;

  constructor(private readonly waitUntil: (promise: Promise<unknown>) => void) {}

  /** Runs `task` after the replies; a task that throws does not stop the others. */
  run(task: () => void): void {
    this.tasks.push(task);
    void this.next();
  }

  /** Settles in that task, after the tasks scheduled so far have run. */
  next(): Promise<void> {
    if (!this.tick) {
      this.tick = new Promise<void>((resolve) =>
        setTimeout(() => {
          const tasks = this.tasks;
          this.tasks = [];
          this.tick = undefined;
          for (const task of tasks) {
            try {
              task();
            } catch {
              // One piece of bookkeeping failing leaves the rest to run.
            }
          }
          resolve();
        }, 0),
      );
      this.waitUntil(this.tick);
    }
    return this.tick;
  }
}
