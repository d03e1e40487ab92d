// Auth Provider worker: a stateless OAuth 2.1 / OpenID Connect provider (docs/auth-tier.md).
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { secureHeaders } from "hono/secure-headers";
import { drainBody } from "../core/drain-body.js";
import { ConfigError, OAuthError } from "../core/errors.js";
import { strictTransportSecurityOverHttps } from "../core/strict-transport-security.js";
import { httpServerTelemetry } from "../core/telemetry/http-server.js";
import { setupTelemetry } from "../core/telemetry/telemetry.js";
import type { AuthApp } from "./app-types.js";
import { loadAuthConfig } from "./config.js";
import { adminRoutes } from "./endpoints/admin.js";
import { getAuthorize } from "./endpoints/authorize.js";
import { ENDPOINTS, getJwks, getMetadata } from "./endpoints/discovery.js";
import { getEndSession, postEndSession } from "./endpoints/end-session.js";
import { postIntrospect } from "./endpoints/introspect.js";
import { register } from "./endpoints/register.js";
import { postRevoke } from "./endpoints/revoke.js";
import { getStatus } from "./endpoints/status.js";
import { postToken } from "./endpoints/token.js";
import { getUserinfo } from "./endpoints/userinfo.js";
import { renderAuthError } from "./errors.js";
import { loadKeyRing } from "./keys.js";
import { openStore } from "./store/store.js";
import { instrumentStore } from "./store/telemetry.js";
import { CONNECTED_AGENTS_PATH, FORGET_PATH, REVOKE_PATH } from "./ui/connected-agents-pages.js";
import { connectedAgentsRoutes } from "./ui/connected-agents.js";
import { interactionRoutes } from "./ui/interaction.js";
import { logoutConfirmationRoutes } from "./ui/logout-confirmation.js";
import { upstreamLoginRoutes } from "./ui/upstream-login.js";

/** OAuth requests are small; anything bigger is hostile or broken. */
const MAX_BODY_BYTES = 64 * 1024;

const app = new Hono<AuthApp>();

// The login and consent pages decide who gets tokens, so they must not be framed by another site
// (RFC 6819 §4.4.1.9: clickjacking the consent), load nothing from elsewhere, and leak no
// authorization parameters through Referer. Set on every answer, errors included; JSON ignores them.
app.use(
  secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'none'"],
      // The pages' only style is one inline <style>; they have no scripts at all.
      styleSrc: ["'unsafe-inline'"],
      imgSrc: ["'self'", "data:"],
      frameAncestors: ["'none'"],
      baseUri: ["'none'"],
      // No form-action: browsers apply it to the redirect after the consent form, and that
      // redirect goes to the client's own redirect URI, wherever it is.
    },
    xFrameOptions: "DENY",
    // Browser-based MCP clients read metadata, keys and tokens cross-origin (see CORS below).
    crossOriginResourcePolicy: false,
    // A client may open the authorization page in a popup and rely on keeping its opener.
    crossOriginOpenerPolicy: false,
    // Only over https (RFC 6797 §7.2): added below.
    strictTransportSecurity: false,
  }),
);
app.use(strictTransportSecurityOverHttps());

app.use(async (c, next) => {
  const loaded = loadAuthConfig(c.env);
  if (!loaded.ok) throw new ConfigError("auth", loaded.issues);
  const config = loaded.config;
  let keys;
  try {
    keys = await loadKeyRing(config.signingKeys.raw, config.signingKeys.keys);
  } catch (err) {
    throw new ConfigError("auth", [{ path: "SIGNING_KEYS", message: `cannot be used: ${(err as Error).message}` }]);
  }
  setupTelemetry("ai-identity-auth", config.provider.observability, config.secrets);
  c.set("provider", {
    config,
    issuer: config.provider.discovery.issuer.replace(/\/$/, ""),
    store: instrumentStore(openStore(config.redis, { operationTimeoutMs: config.provider.cache.operationTimeout })),
    keys,
  });
  await next();
});

const ROUTES = new Set<string>([
  "/status",
  "/.well-known/openid-configuration",
  "/.well-known/oauth-authorization-server",
  "/login",
  "/consent",
  "/login/upstream",
  "/login/callback",
  "/logout/confirm",
  CONNECTED_AGENTS_PATH,
  REVOKE_PATH,
  FORGET_PATH,
  ...Object.values(ENDPOINTS),
]);
app.use(httpServerTelemetry((_c, path) => ROUTES.has(path)));

app.use(
  bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: async (c) => {
      await drainBody(c.req.raw);
      throw new OAuthError("invalid_request", `the request body exceeds ${MAX_BODY_BYTES} bytes`, 413);
    },
  }),
);

// Browser-based MCP clients (e.g. the MCP Inspector) discover, register and redeem tokens from
// their own origin. These endpoints take no cookies, so any origin may call them; the pages
// (/authorize, /login, /consent, /logout, /account/agents) are navigations and get no CORS headers.
app.use("/.well-known/*", cors({ origin: "*", allowMethods: ["GET"], maxAge: 600 }));
for (const path of [
  ENDPOINTS.jwks,
  ENDPOINTS.token,
  ENDPOINTS.registration,
  ENDPOINTS.revocation,
  ENDPOINTS.userinfo,
]) {
  app.use(
    path,
    cors({ origin: "*", allowMethods: ["GET", "POST"], allowHeaders: ["Authorization", "Content-Type"], maxAge: 600 }),
  );
}

app.get("/status", getStatus);
app.get("/.well-known/openid-configuration", getMetadata);
app.get("/.well-known/oauth-authorization-server", getMetadata);
app.get(ENDPOINTS.jwks, getJwks);
app.get(ENDPOINTS.authorization, getAuthorize);
app.route("/", interactionRoutes);
app.route("/", upstreamLoginRoutes);
app.post(ENDPOINTS.token, postToken);
app.post(ENDPOINTS.registration, register);
app.post(ENDPOINTS.introspection, postIntrospect);
app.post(ENDPOINTS.revocation, postRevoke);
app.on(["GET", "POST"], ENDPOINTS.userinfo, getUserinfo);
app.get(ENDPOINTS.endSession, getEndSession);
app.post(ENDPOINTS.endSession, postEndSession);
app.route("/", logoutConfirmationRoutes);
app.route("/", connectedAgentsRoutes);
app.route("/", adminRoutes);

app.notFound((c) => renderAuthError(new OAuthError("invalid_request", "no such endpoint", 404), c));
app.onError(renderAuthError);

export default app;
