import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { ConfigError, OAuthError } from "../core/errors.js";
import { log } from "../core/log.js";

/**
 * The one place where the auth tier's errors become wire responses: RFC 6749 §5.2 JSON,
 * with WWW-Authenticate on 401 (RFC 6750 §3). Anything unexpected becomes a bare
 * `server_error`; its details go to the log, never to the client.
 */
export function renderAuthError(err: Error, c: Context): Response {
  if (err instanceof OAuthError) {
    const headers: Record<string, string> = { "Cache-Control": "no-store", ...err.headers };
    if (err.status === 401 && !headers["WWW-Authenticate"]) headers["WWW-Authenticate"] = 'Basic realm="token", charset="UTF-8"';
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
