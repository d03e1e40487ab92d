// Spans and metrics for the auth tier's Redis operations, without touching the store itself:
// every async method of the Store becomes a client span named for the operation (one store
// method is one or a few pipelined Redis commands, or one Lua script), with its duration and
// failures counted.
import { telemetryMetrics, secondsSince } from "../../core/telemetry/metrics.js";
import { inSpan, SpanKind } from "../../core/telemetry/spans.js";
import type { Store } from "./store.js";

const instrumented = new WeakMap<Store, Store>();

export function instrumentStore(store: Store): Store {
  let wrapped = instrumented.get(store);
  if (!wrapped) {
    wrapped = new Proxy(store, {
      get(target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== "function" || typeof property !== "string") return value;
        return (...args: unknown[]) =>
          traced(property, () => (value as (...a: unknown[]) => Promise<unknown>).apply(target, args));
      },
    });
    instrumented.set(store, wrapped);
  }
  return wrapped;
}

function traced(operation: string, run: () => Promise<unknown>): Promise<unknown> {
  const attributes = { "db.system.name": "redis", "db.operation.name": operation };
  const started = Date.now();
  return inSpan(`redis ${operation}`, { kind: SpanKind.CLIENT, attributes }, async () => {
    try {
      return await run();
    } catch (err) {
      telemetryMetrics().redisErrors.add(1, { ...attributes, "error.type": err instanceof Error ? err.name : "error" });
      throw err;
    } finally {
      telemetryMetrics().redisDuration.record(secondsSince(started), attributes);
    }
  });
}
