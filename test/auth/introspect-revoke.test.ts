// Token introspection (RFC 7662) and revocation (RFC 7009), and how they see each other:
// what a client revokes, introspection reports inactive; what it may not revoke stays active.
import * as oauth from "oauth4webapi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authConfig, confidentialClient, GATEWAY_RESOURCE, type TestClient } from "../helpers/auth-config.js";
import { basic, discover, oauthError, postForm } from "../helpers/oauth-requests.js";
import { seedRefreshFamily } from "../helpers/refresh-family.js";
import { signAccessToken, signWithUnknownKey, type AccessTokenFields } from "../helpers/tokens.js";
import { startAuthWorker, type RunningWorker } from "../helpers/workers.js";

const PRIVATE_API = "https://private.test/api";

/**
 * A resource server: introspects the tokens presented to it. Only clients configured with
 * `introspection: true` are told anything (test/security/registered-client-introspects-user-token.test.ts).
 */
const resourceServer = confidentialClient("resource-server", {
  grantTypes: ["client_credentials"],
  introspection: true,
});
const app = confidentialClient("app", { introspection: true });
const other = confidentialClient("other-app");
const agent = confidentialClient("agent", {
  grantTypes: ["client_credentials"],
  allowedAudiences: [PRIVATE_API],
  introspection: true,
});
const spa = {
  name: "spa",
  clientId: "spa",
  tokenEndpointAuthMethod: "none",
  redirectUris: ["http://127.0.0.1/cb"],
  scopes: ["tools:read"],
};

describe("introspection and revocation", () => {
  let auth: RunningWorker;
  let as: oauth.AuthorizationServer;

  beforeAll(async () => {
    auth = await startAuthWorker({
      config: (url) => authConfig(url, { apps: [resourceServer.app, app.app, other.app, agent.app, spa] }),
      bindings: { ...resourceServer.bindings, ...app.bindings, ...other.bindings, ...agent.bindings },
    });
    as = await discover(auth);
  });
  afterAll(() => auth.dispose());

  const accessToken = (fields: Partial<AccessTokenFields> = {}) =>
    signAccessToken(auth.url, {
      sub: "alice",
      client_id: "app",
      aud: GATEWAY_RESOURCE,
      scope: "openid tools:read",
      ...fields,
    });

  /** A live family of `clientId` and one rotation of it: its refresh token and an access token bound to it. */
  async function grantOf(client: TestClient) {
    const { refreshToken, family } = await seedRefreshFamily(client.clientId, { resource: [GATEWAY_RESOURCE] });
    const res = await postForm(auth, "/token", { grant_type: "refresh_token", refresh_token: refreshToken }, client);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { access_token: string; refresh_token: string };
    return { accessToken: body.access_token, refreshToken: body.refresh_token, sub: family.sub };
  }

  async function introspect(
    token: string,
    client: TestClient = resourceServer.client,
  ): Promise<oauth.IntrospectionResponse> {
    const res = await oauth.introspectionRequest(
      as,
      { client_id: client.clientId },
      oauth.ClientSecretBasic(client.secret),
      token,
      {
        [oauth.allowInsecureRequests]: true,
      },
    );
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    return oauth.processIntrospectionResponse(as, { client_id: client.clientId }, res);
  }

  async function revoke(token: string, client: TestClient, hint?: string): Promise<Response> {
    return postForm(auth, "/revoke", { token, ...(hint ? { token_type_hint: hint } : {}) }, client);
  }

  describe("introspection", () => {
    it("describes an active access token to a resource server (oauth4webapi)", async () => {
      const token = await accessToken();
      const info = await introspect(token);
      expect(info).toMatchObject({
        active: true,
        iss: auth.url,
        client_id: "app",
        sub: "alice",
        aud: GATEWAY_RESOURCE,
        scope: "openid tools:read",
        token_type: "Bearer",
        exp: expect.any(Number),
        iat: expect.any(Number),
        nbf: expect.any(Number),
        jti: expect.any(String),
      });
      expect(info.act).toBeUndefined();
    });

    it("names the acting party of a delegated token", async () => {
      const act = { sub: "gateway", client_id: "gateway" };
      expect(await introspect(await accessToken({ act }))).toMatchObject({ active: true, act });
    });

    it("describes a refresh token to the client it was issued to", async () => {
      const grant = await grantOf(app.client);
      expect(await introspect(grant.refreshToken, app.client)).toMatchObject({
        active: true,
        client_id: "app",
        sub: grant.sub,
        scope: "openid tools:read",
      });
    });

    it("hides a refresh token from every other client", async () => {
      const grant = await grantOf(app.client);
      expect(await introspect(grant.refreshToken)).toEqual({ active: false });
    });

    it("hides a token for a private audience from clients that cannot reach it", async () => {
      const token = await accessToken({ client_id: "agent", sub: "agent", aud: PRIVATE_API });
      expect(await introspect(token)).toEqual({ active: false });
      expect((await introspect(token, agent.client)).active).toBe(true);
    });

    it.each([
      ["garbage", async () => "garbage"],
      ["an expired token", () => accessToken({ ttlSec: -60 })],
      [
        "a token signed by an unknown key",
        () => signWithUnknownKey("x", { sub: "alice", client_id: "app", aud: GATEWAY_RESOURCE }),
      ],
      [
        "a token from another issuer",
        () => signAccessToken("https://evil.test", { sub: "alice", client_id: "app", aud: GATEWAY_RESOURCE }),
      ],
      ["an unknown refresh token", async () => `${"A".repeat(43)}.${"B".repeat(43)}`],
    ])("reports %s as inactive", async (_, make) => {
      expect(await introspect(await make())).toEqual({ active: false });
    });

    it("refuses public clients with 401 invalid_client", async () => {
      const res = await postForm(auth, "/introspect", { token: await accessToken(), client_id: "spa" });
      expect(await oauthError(res)).toMatchObject({ status: 401, error: "invalid_client" });
    });

    it.each([
      ["no client authentication", {}],
      ["a wrong secret", { Authorization: basic("resource-server", "wrong") }],
    ])("refuses %s with 401 invalid_client and a Basic challenge", async (_, headers) => {
      const res = await postForm(auth, "/introspect", { token: "x" }, undefined, headers);
      const error = await oauthError(res);
      expect(error).toMatchObject({ status: 401, error: "invalid_client" });
      expect(error.challenge).toMatch(/^Basic /);
    });

    it("requires the token parameter", async () => {
      expect(await oauthError(await postForm(auth, "/introspect", {}, resourceServer.client))).toMatchObject({
        status: 400,
        error: "invalid_request",
      });
    });

    it("rejects a JSON body with invalid_request", async () => {
      const res = await auth.fetch("/introspect", {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Authorization: basic(resourceServer.client.clientId, resourceServer.client.secret),
        },
        body: JSON.stringify({ token: "x" }),
      });
      expect(await oauthError(res)).toMatchObject({ status: 400, error: "invalid_request" });
    });

    it("rejects an oversized body with 413", async () => {
      const res = await postForm(auth, "/introspect", { token: "x".repeat(70 * 1024) }, resourceServer.client);
      expect(await oauthError(res)).toMatchObject({ status: 413, error: "invalid_request" });
    });
  });

  describe("revocation", () => {
    it("revokes an access token, which introspection then reports inactive (oauth4webapi)", async () => {
      const token = await accessToken();
      const res = await oauth.revocationRequest(
        as,
        { client_id: "app" },
        oauth.ClientSecretBasic(app.client.secret),
        token,
        {
          [oauth.allowInsecureRequests]: true,
        },
      );
      expect(res.status).toBe(200);
      expect(await res.clone().text()).toBe("");
      await oauth.processRevocationResponse(res);
      expect(await introspect(token)).toEqual({ active: false });
    });

    it("revokes the whole family with its refresh token: the refresh token and its access tokens", async () => {
      const grant = await grantOf(app.client);
      expect((await revoke(grant.refreshToken, app.client, "refresh_token")).status).toBe(200);
      expect(await introspect(grant.accessToken)).toEqual({ active: false });
      expect(await introspect(grant.refreshToken, app.client)).toEqual({ active: false });
      const res = await postForm(
        auth,
        "/token",
        { grant_type: "refresh_token", refresh_token: grant.refreshToken },
        app.client,
      );
      expect(await oauthError(res)).toMatchObject({ status: 400, error: "invalid_grant" });
    });

    it("revokes a token whatever the hint says (hints are only hints)", async () => {
      const token = await accessToken();
      expect((await revoke(token, app.client, "refresh_token")).status).toBe(200);
      expect(await introspect(token)).toEqual({ active: false });
    });

    it("answers 200 but leaves another client's access token active", async () => {
      const token = await accessToken();
      expect((await revoke(token, other.client)).status).toBe(200);
      expect((await introspect(token)).active).toBe(true);
    });

    it("answers 200 but leaves another client's refresh token usable", async () => {
      const grant = await grantOf(app.client);
      expect((await revoke(grant.refreshToken, other.client)).status).toBe(200);
      expect((await introspect(grant.accessToken)).active).toBe(true);
      expect((await introspect(grant.refreshToken, app.client)).active).toBe(true);
    });

    it("lets a public client revoke its own refresh token by client_id", async () => {
      const { refreshToken } = await seedRefreshFamily("spa");
      const res = await oauth.revocationRequest(as, { client_id: "spa" }, oauth.None(), refreshToken, {
        [oauth.allowInsecureRequests]: true,
      });
      await oauth.processRevocationResponse(res);
      const refresh = await postForm(auth, "/token", {
        grant_type: "refresh_token",
        refresh_token: refreshToken,
        client_id: "spa",
      });
      expect(await oauthError(refresh)).toMatchObject({ status: 400, error: "invalid_grant" });
    });

    it.each([
      ["garbage", async () => "garbage"],
      ["an unknown refresh token", async () => `${"A".repeat(43)}.${"B".repeat(43)}`],
      ["an expired access token", () => accessToken({ ttlSec: -60 })],
    ])("answers 200 for %s (RFC 7009 §2.2)", async (_, make) => {
      const res = await revoke(await make(), app.client, "something_else");
      expect(res.status).toBe(200);
      expect(res.headers.get("Cache-Control")).toBe("no-store");
    });

    it("requires client identification", async () => {
      const res = await postForm(auth, "/revoke", { token: await accessToken() });
      expect(await oauthError(res)).toMatchObject({ status: 401, error: "invalid_client" });
    });

    it("requires the token parameter", async () => {
      expect(await oauthError(await postForm(auth, "/revoke", {}, app.client))).toMatchObject({
        status: 400,
        error: "invalid_request",
      });
    });

    it("rejects a body that is not a form with invalid_request", async () => {
      const res = await auth.fetch("/revoke", {
        method: "POST",
        headers: { "Content-Type": "text/plain", Authorization: basic(app.client.clientId, app.client.secret) },
        body: "token=abc",
      });
      expect(await oauthError(res)).toMatchObject({ status: 400, error: "invalid_request" });
    });
  });
});
