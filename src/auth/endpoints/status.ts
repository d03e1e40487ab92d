// GET /status: whether the auth tier is up and reaches Redis, with the version and the digest of
// the configuration it runs, for health checks and `npm run dev`'s supervisor.
import type { Context } from "hono";
import { configDigest } from "../../core/config-digest.js";
import { VERSION } from "../../core/version.js";
import type { AuthApp } from "../app-types.js";
import { configDocument } from "../config.js";

/** GET /status: liveness plus Redis reachability; 503 when Redis does not answer in time. */
export async function getStatus(c: Context<AuthApp>) {
  const { store, config } = c.get("provider");
  const [redisOk, digest] = await Promise.all([
    store.ping(config.provider.cache.timeout),
    configDigest(configDocument(c.env)),
  ]);
  return c.json(
    {
      status: redisOk ? "ok" : "degraded",
      tier: "auth",
      version: VERSION,
      config: digest,
      redis: redisOk ? "ok" : "unreachable",
    },
    redisOk ? 200 : 503,
    { "Cache-Control": "no-store" },
  );
}
