// The loopback-host rule of redirect URIs (clients/redirect-uri.ts), at the path the configuration
// schema (config-schema.ts) imports it from.
export { isLoopbackHost } from "./clients/redirect-uri.js";
