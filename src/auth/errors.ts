// The auth tier's one error renderer: protocol errors to their wire form, store faults to 503.
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { ConfigError, OAuthError } from "../core/errors.js";
import { log } from "../core/log.js";
import { StoreUnavailable } from "./store/store.js";
import { errorPage } from "./ui/pages.js";

/** What a client is told to wait before retrying when the store does not answer (RFC 9110 §10.2.3). */
export const STORE_RETRY_AFTER_SECONDS = 2;

/** The pages a browser navigates to: their errors are pages too. */
const PAGE_PATHS = new Set([
  "/authorize",
  "/login",
  "/consent",
  "/login/upstream",
  "/login/callback",
  "/account/agents",
  "/account/agents/revoke",
  "/account/agents/forget",
]);

/**
 * A store that is slow, down or failing (docs/reliability/store-faults.md): 503 temporarily_unavailable with
 * Retry-After (the RFC 6749 §4.1.2.1 code, used at every endpoint), as a page where a browser
 * navigated. The request may be retried as it is: nothing it did is half-done in a way a retry
 * would be punished for (a refresh retried within the grace window gets its rotation's answer).
 */
function storeUnavailable(err: StoreUnavailable, c: Context): Response | Promise<Response> {
  const path = new URL(c.req.url).pathname;
  log("warn", "store.unavailable", { path, operation: err.operation, error: err.message });
  const description = "the authorization server's store is temporarily unavailable; try again shortly";
  const headers = { "Cache-Control": "no-store", "Retry-After": String(STORE_RETRY_AFTER_SECONDS) };
  if (PAGE_PATHS.has(path)) return c.html(errorPage("temporarily_unavailable", description), 503, headers);
  return c.json({ error: "temporarily_unavailable", error_description: description }, 503, headers);
}

/**
 * The one place where the auth tier's errors become wire responses: RFC 6749 §5.2 JSON,
 * with WWW-Authenticate on 401 (RFC 6750 §3). Anything unexpected becomes a bare
 * `server_error`; its details go to the log, never to the client.
 */
export function renderAuthError(err: Error, c: Context): Response | Promise<Response> {
  if (err instanceof StoreUnavailable) return storeUnavailable(err, c);
  if (err instanceof OAuthError) {
    const headers: Record<string, string> = { "Cache-Control": "no-store", ...err.headers };
    if (err.status === 401 && !headers["WWW-Authenticate"])
      headers["WWW-Authenticate"] = 'Basic realm="token", charset="UTF-8"';
    return c.json({ error: err.error, error_description: err.description }, err.status, headers);
  }
  if (err instanceof ConfigError) {
    return c.json(
      { error: "server_error", error_description: "the auth tier's configuration is invalid", issues: err.issues },
      500,
      { "Cache-Control": "no-store" },
    );
  }
  if (err instanceof HTTPException && err.status < 500) {
    return c.json({ error: "invalid_request", error_description: err.message || "bad request" }, err.status, {
      "Cache-Control": "no-store",
    });
  }
  log("error", "auth.unhandled", { path: new URL(c.req.url).pathname, error: String(err), stack: err.stack });
  return c.json({ error: "server_error", error_description: "internal error" }, 500, { "Cache-Control": "no-store" });
}
