// /authorize as an open redirector: anyone can register a client (RFC 7591) with a redirect URI
// of their choosing, then send victims links to /authorize that are bound to fail. RFC 9700
// §4.11.2: for a client the operator has not vetted, errors before the user has authenticated
// are shown on the authorization server's own page, not redirected. Clients the operator
// configured keep RFC 6749 §4.1.2.1 error redirects (with `iss`, RFC 9207).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALICE, authConfig } from "../helpers/auth-config.js";
import { authorizationParams, pkce } from "../helpers/authorization-request.js";
import { authorize, CookieJar, step } from "../helpers/login-flow.js";
import { startAuthWorker, type RunningWorker } from "../helpers/workers.js";

const ATTACKER = "https://attacker.example/landing";
const REDIRECT = "http://127.0.0.1:9/callback";
const STATIC_CLIENT = {
  name: "Operator's Agent",
  clientId: "operator-agent",
  tokenEndpointAuthMethod: "none",
  scopes: ["tools:read", "tools:write"],
  redirectUris: [REDIRECT],
  grantTypes: ["authorization_code", "refresh_token"],
};

const FAILING_REQUESTS: [string, Record<string, string>, string][] = [
  ["an unknown scope", { scope: "openid admin:everything" }, "invalid_scope"],
  ["a resource not served here", { resource: "https://other.example/api" }, "invalid_target"],
  ["prompt=none without a session", { prompt: "none" }, "login_required"],
  ["response_type token", { response_type: "token" }, "unsupported_response_type"],
  ["no PKCE challenge", { code_challenge: "" }, "invalid_request"],
];

describe("an attacker using /authorize errors to redirect victims", () => {
  let auth: RunningWorker;
  let attackerClientId: string;

  beforeAll(async () => {
    auth = await startAuthWorker({
      config: (url) => authConfig(url, { apps: [STATIC_CLIENT], login: { users: [ALICE.config] } }),
    });
    const res = await auth.fetch("/register", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        client_name: "Innocent Tool",
        redirect_uris: [ATTACKER],
        grant_types: ["authorization_code"],
        token_endpoint_auth_method: "none",
      }),
    });
    expect(res.status).toBe(201);
    attackerClientId = ((await res.json()) as { client_id: string }).client_id;
  });
  afterAll(() => auth.dispose());

  const authorizeRaw = async (params: Record<string, string>) =>
    step(auth, new CookieJar(), `/authorize?${new URLSearchParams(params)}`);

  it.each(FAILING_REQUESTS)(
    "gets the auth tier's error page, not a redirect to its own URI, for %s with a registered client",
    async (_name, extra, error) => {
      const { challenge } = await pkce();
      const r = await authorizeRaw(authorizationParams(attackerClientId, ATTACKER, challenge, extra));
      expect(r.res.status).toBe(400);
      expect(r.location).toBeUndefined();
      expect(r.res.headers.get("Content-Type")).toMatch(/text\/html/);
      expect(r.res.headers.get("Cache-Control")).toBe("no-store");
      expect(r.body).toContain(error);
      expect(r.body).not.toContain(ATTACKER);
    },
  );

  it.each(FAILING_REQUESTS)(
    "still redirects the error to an operator-configured client for %s, with state and iss",
    async (_name, extra, error) => {
      const { challenge } = await pkce();
      const r = await authorizeRaw(authorizationParams(STATIC_CLIENT.clientId, REDIRECT, challenge, extra));
      expect(r.res.status).toBe(303);
      expect(r.location?.origin + r.location!.pathname).toBe(REDIRECT);
      expect(Object.fromEntries(r.location!.searchParams)).toMatchObject({ error, state: "st-1", iss: auth.url });
    },
  );

  it("gets the error page, not consent_required at its own URI, for prompt=none when the victim is signed in (no login-state oracle)", async () => {
    const { challenge } = await pkce();
    // The victim signed in earlier, through an application the operator configured.
    const { jar } = await authorize(auth, authorizationParams(STATIC_CLIENT.clientId, REDIRECT, challenge), {
      username: ALICE.username,
      password: ALICE.password,
    });
    const r = await step(
      auth,
      jar,
      `/authorize?${new URLSearchParams(authorizationParams(attackerClientId, ATTACKER, challenge, { prompt: "none" }))}`,
    );
    expect(r.res.status).toBe(400);
    expect(r.location).toBeUndefined();
    expect(r.body).toContain("consent_required");
  });

  it("still sends a well-formed request from a registered client on to sign-in", async () => {
    const { challenge } = await pkce();
    const r = await authorizeRaw(authorizationParams(attackerClientId, ATTACKER, challenge));
    expect(r.res.status).toBe(303);
    expect(r.location?.pathname).toBe("/login");
  });
});
