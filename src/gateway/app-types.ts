import type { GatewayConfig, GatewayEnv } from "./config.js";

/** Hono environment of the gateway worker: its bindings and the validated configuration. */
export interface GatewayApp {
  Bindings: GatewayEnv;
  Variables: { config: GatewayConfig };
}
