// Attack: anyone registers a confidential client (RFC 7591), authenticates at /introspect, and
// learns who a user's token belongs to, its scopes and audience. RFC 7662 §2.1 and §4 leave it to
// the server whom it tells: here only clients the operator marks with `apps[].introspection`
// (the gateway, configured resource servers); everyone else is told `{"active": false}`.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authConfig, confidentialClient, GATEWAY_RESOURCE, type TestClient } from "../helpers/auth-config.js";
import { basic, postForm } from "../helpers/oauth-requests.js";
import { seedRefreshFamily } from "../helpers/refresh-family.js";
import { signAccessToken } from "../helpers/tokens.js";
import { startAuthWorker, type RunningWorker } from "../helpers/workers.js";

const REDIRECT = "http://127.0.0.1:9/callback";
const gateway = confidentialClient("gateway", {
  grantTypes: ["urn:ietf:params:oauth:grant-type:token-exchange"],
  introspection: true,
});
/** A configured client the operator did not make an introspection client. */
const webApp = confidentialClient("web-app");

describe("introspection by clients the operator did not allow", () => {
  let auth: RunningWorker;

  beforeAll(async () => {
    auth = await startAuthWorker({
      config: (url) =>
        authConfig(url, { apps: [gateway.app, webApp.app], rateLimits: { registration: { limit: 1000 } } }),
      bindings: { ...gateway.bindings, ...webApp.bindings },
    });
  });
  afterAll(() => auth.dispose());

  const usersToken = () =>
    signAccessToken(auth.url, {
      sub: "alice",
      client_id: "web-app",
      aud: GATEWAY_RESOURCE,
      scope: "openid tools:read tools:write",
    });

  async function introspect(
    token: string,
    client: { clientId: string; secret: string },
  ): Promise<Record<string, unknown>> {
    const res = await postForm(auth, "/introspect", { token }, undefined, {
      Authorization: basic(client.clientId, client.secret),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    return (await res.json()) as Record<string, unknown>;
  }

  async function registerConfidential(): Promise<TestClient> {
    const res = await auth.fetch("/register", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        token_endpoint_auth_method: "client_secret_basic",
        redirect_uris: [REDIRECT],
        grant_types: ["authorization_code", "refresh_token"],
      }),
    });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { client_id: string; client_secret: string };
    return { clientId: body.client_id, secret: body.client_secret, secretEnv: "" };
  }

  it("tells a self-registered confidential client that a user's live token is inactive", async () => {
    const attacker = await registerConfidential();
    expect(await introspect(await usersToken(), attacker)).toEqual({ active: false });
  });

  it("tells a self-registered client nothing about its own refresh token either", async () => {
    const attacker = await registerConfidential();
    const { refreshToken } = await seedRefreshFamily(attacker.clientId, { resource: [GATEWAY_RESOURCE] });
    expect(await introspect(refreshToken, attacker)).toEqual({ active: false });
  });

  it("tells a configured client without the introspection flag that the token is inactive", async () => {
    expect(await introspect(await usersToken(), webApp.client)).toEqual({ active: false });
  });

  it("still describes the token to the gateway's client", async () => {
    expect(await introspect(await usersToken(), gateway.client)).toMatchObject({
      active: true,
      sub: "alice",
      client_id: "web-app",
      aud: GATEWAY_RESOURCE,
      scope: "openid tools:read tools:write",
    });
  });
});
