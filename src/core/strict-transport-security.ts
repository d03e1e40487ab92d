// Strict-Transport-Security for both tiers, sent only on answers to requests that arrived over
// https: RFC 6797 §7.2 says an HSTS host MUST NOT include the header in responses conveyed over
// non-secure transport (a plain-http local run would otherwise pin localhost to https in the
// browser). On Workers the request URL carries the scheme the client used (the platform
// terminates TLS), so no forwarded header is consulted: X-Forwarded-Proto is whatever a client
// sends unless a proxy the operator runs overwrites it, and a plain-http hop needs no HSTS.
import type { MiddlewareHandler } from "hono";

/** The value Hono's secureHeaders would send: 180 days, subdomains included (RFC 6797 §6.1). */
export const STRICT_TRANSPORT_SECURITY = "max-age=15552000; includeSubDomains";

/** Adds Strict-Transport-Security to every answer (errors included) of a request made over https. */
export function strictTransportSecurityOverHttps(value = STRICT_TRANSPORT_SECURITY): MiddlewareHandler {
  return async (c, next) => {
    await next();
    // A Request's url is serialized (WHATWG URL), its scheme lower-case: no need to parse it again.
    if (c.req.url.startsWith("https:")) c.res.headers.set("Strict-Transport-Security", value);
  };
}
