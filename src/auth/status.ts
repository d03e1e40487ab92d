import type { Context } from "hono";
import { VERSION } from "../core/version.js";
import type { AuthApp } from "./app-types.js";

/** GET /status: liveness plus Redis reachability; 503 when Redis does not answer in time. */
export async function getStatus(c: Context<AuthApp>) {
  const { store, config } = c.get("provider");
  const redisOk = await store.ping(config.provider.cache.timeout);
  return c.json(
    { status: redisOk ? "ok" : "degraded", tier: "auth", version: VERSION, redis: redisOk ? "ok" : "unreachable" },
    redisOk ? 200 : 503,
    { "Cache-Control": "no-store" },
  );
}
