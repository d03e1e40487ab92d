// What every endpoint, grant and page works with: the configuration, the issuer, the store and
// the signing keys, set on each request by index.ts from parts cached per isolate.
import type { AuthConfig } from "./config.js";
import type { KeyRing } from "./keys.js";
import type { Store } from "./store/store.js";

/** What every endpoint of the auth tier works with, built once per request from cached parts. */
export interface ProviderContext {
  config: AuthConfig;
  /** `oidcProvider.discovery.issuer` without a trailing slash. */
  issuer: string;
  store: Store;
  keys: KeyRing;
}
