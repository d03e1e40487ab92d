// workerd's AsyncLocalStorage (compatibility flag nodejs_als), for worker code, which is
// type-checked without Node's types. Only what src/core/telemetry uses.
declare module "node:async_hooks" {
  export class AsyncLocalStorage<T> {
    getStore(): T | undefined;
    run<R>(store: T, callback: () => R): R;
    disable(): void;
  }
}
