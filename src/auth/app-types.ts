import type { AuthEnv } from "./config.js";
import type { ProviderContext } from "./provider-context.js";

/** Hono environment of the auth worker: its bindings and the provider context. */
export interface AuthApp {
  Bindings: AuthEnv;
  Variables: { provider: ProviderContext };
}
