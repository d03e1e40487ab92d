// The Hono environment type of the auth worker, so every handler's Context agrees on its
// bindings (config.ts AuthEnv) and on the provider context it finds set.
import type { AuthEnv } from "./config.js";
import type { ProviderContext } from "./provider-context.js";

/** Hono environment of the auth worker: its bindings and the provider context. */
export interface AuthApp {
  Bindings: AuthEnv;
  Variables: { provider: ProviderContext };
}
