import type { Context } from "hono";
import { configDigest } from "../core/config-digest.js";
import { VERSION } from "../core/version.js";
import type { GatewayApp } from "./app-types.js";
import { configDocument } from "./config.js";
import { policyStatus } from "./policy/index.js";

const AUTH_CHECK_TIMEOUT_MS = 1_000;

/** Whether the auth tier answers its own /status through the AUTH service binding. */
async function authTierState(auth: Fetcher | undefined): Promise<"ok" | "unreachable" | "not bound"> {
  if (!auth) return "not bound";
  try {
    const res = await auth.fetch("https://auth.internal/status", {
      signal: AbortSignal.timeout(AUTH_CHECK_TIMEOUT_MS),
    });
    await res.body?.cancel();
    return res.ok ? "ok" : "unreachable";
  } catch {
    return "unreachable";
  }
}

/**
 * GET /status: liveness of the gateway, with the auth tier's reachability as information.
 * The gateway itself stays up (200) when the auth tier is not: sessions and cached keys keep
 * working, and a load balancer should not pull every gateway because one dependency blinked.
 * Likewise a configured policy that is missing or broken makes it "degraded", not down: the
 * calls it governs are denied, every other app keeps working.
 */
export async function getStatus(c: Context<GatewayApp>) {
  const [auth, policy, digest] = await Promise.all([
    authTierState(c.env.AUTH),
    policyStatus(c.get("config")),
    configDigest(configDocument(c.env)),
  ]);
  const healthy = auth === "ok" && policy.policies.every((p) => p.status === "ok");
  return c.json(
    { status: healthy ? "ok" : "degraded", tier: "gateway", version: VERSION, config: digest, auth, policy },
    200,
    {
      "Cache-Control": "no-store",
    },
  );
}
