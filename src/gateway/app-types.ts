import type { GatewayConfig } from "./config.js";
import type { GatewayEnv } from "./env.js";

/** Hono environment of the gateway worker: its bindings and the validated configuration. */
export interface GatewayApp {
  Bindings: GatewayEnv;
  Variables: { config: GatewayConfig };
}
