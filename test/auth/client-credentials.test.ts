// The client credentials grant (OAuth 2.1 §4.2): machine agents obtaining tokens for themselves.
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import * as oauth from "oauth4webapi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authConfig, confidentialClient, GATEWAY_RESOURCE } from "../helpers/auth-config.js";
import { basic, discover, oauthError, postForm } from "../helpers/oauth-requests.js";
import { startAuthWorker, type RunningWorker } from "../helpers/workers.js";

const SEARCH_API = "https://search.test/api";
const CRM = "urn:tool:crm";

const agent = confidentialClient("agent", {
  grantTypes: ["client_credentials"],
  scopes: ["tools:read"],
  allowedAudiences: [SEARCH_API],
});
const crmAgent = confidentialClient("crm-agent", {
  grantTypes: ["client_credentials"],
  allowedAudiences: [CRM, SEARCH_API],
});
const webApp = confidentialClient("web-app", { grantTypes: ["authorization_code", "refresh_token"] });
const publicAgent = {
  name: "public-agent",
  clientId: "public-agent",
  tokenEndpointAuthMethod: "none",
  grantTypes: ["client_credentials"],
};

describe("client credentials grant", () => {
  let auth: RunningWorker;
  let as: oauth.AuthorizationServer;
  let jwks: ReturnType<typeof createRemoteJWKSet>;

  beforeAll(async () => {
    auth = await startAuthWorker({
      config: (url) => authConfig(url, { apps: [agent.app, crmAgent.app, webApp.app, publicAgent] }),
      bindings: { ...agent.bindings, ...crmAgent.bindings, ...webApp.bindings },
    });
    as = await discover(auth);
    jwks = createRemoteJWKSet(new URL(`${auth.url}/jwks`));
  });
  afterAll(() => auth.dispose());

  const grant = (params: Record<string, string | string[]>, client = agent.client) =>
    postForm(auth, "/token", { grant_type: "client_credentials", ...params }, client);

  it("issues an RFC 9068 access token whose subject is the client, through oauth4webapi", async () => {
    const res = await oauth.clientCredentialsGrantRequest(
      as,
      { client_id: agent.client.clientId },
      oauth.ClientSecretBasic(agent.client.secret),
      { scope: "tools:read", resource: GATEWAY_RESOURCE },
      { [oauth.allowInsecureRequests]: true },
    );
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    const tokens = await oauth.processClientCredentialsResponse(as, { client_id: agent.client.clientId }, res);
    expect(tokens.token_type).toBe("bearer");
    expect(tokens.scope).toBe("tools:read");
    expect(tokens.expires_in).toBe(3600);
    expect(tokens.refresh_token).toBeUndefined();
    expect(decodeProtectedHeader(tokens.access_token).typ).toBe("at+jwt");
    const { payload } = await jwtVerify(tokens.access_token, jwks, { issuer: auth.url, audience: GATEWAY_RESOURCE });
    expect(payload).toMatchObject({ sub: "agent", client_id: "agent", scope: "tools:read", aud: GATEWAY_RESOURCE });
    expect(payload.fam).toBeUndefined();
  });

  it("grants no scope when none is requested", async () => {
    const res = await grant({ resource: GATEWAY_RESOURCE });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body.scope).toBeUndefined();
    const { payload } = await jwtVerify(body.access_token as string, jwks, { issuer: auth.url });
    expect(payload.scope).toBeUndefined();
  });

  it("defaults the audience to the client's only allowed audience", async () => {
    const res = await grant({ scope: "tools:read" });
    expect(res.status).toBe(200);
    const { access_token } = (await res.json()) as { access_token: string };
    const { payload } = await jwtVerify(access_token, jwks, { issuer: auth.url });
    expect(payload.aud).toBe(SEARCH_API);
  });

  it("requires an explicit audience when the client may reach several", async () => {
    expect(await oauthError(await grant({}, crmAgent.client))).toMatchObject({ status: 400, error: "invalid_target" });
  });

  it("accepts repeated resource and audience parameters within what the client may reach", async () => {
    const res = await grant({ resource: [GATEWAY_RESOURCE, SEARCH_API], audience: CRM }, crmAgent.client);
    expect(res.status).toBe(200);
    const { access_token } = (await res.json()) as { access_token: string };
    const { payload } = await jwtVerify(access_token, jwks, { issuer: auth.url });
    expect(payload.aud).toEqual([GATEWAY_RESOURCE, SEARCH_API, CRM]);
  });

  it.each([
    ["a resource the client may not reach", { resource: "https://elsewhere.test/api" }],
    ["an audience the client may not reach", { audience: CRM }],
    ["a relative resource", { resource: "/mcp" }],
    ["a resource with a fragment", { resource: `${GATEWAY_RESOURCE}#x` }],
  ])("rejects %s with invalid_target", async (_, params) => {
    expect(await oauthError(await grant(params))).toMatchObject({ status: 400, error: "invalid_target" });
  });

  it.each([
    ["a scope the client was not given", "tools:read tools:write", agent],
    ["a scope the provider does not know", "admin", crmAgent],
    ["openid, which needs an end user", "openid", crmAgent],
    ["offline_access, which needs an end user", "offline_access", crmAgent],
  ])("rejects %s with invalid_scope", async (_, scope, client) => {
    const res = await grant({ scope, resource: GATEWAY_RESOURCE }, client.client);
    expect(await oauthError(res)).toMatchObject({ status: 400, error: "invalid_scope" });
  });

  it("refuses public clients with unauthorized_client", async () => {
    const res = await postForm(auth, "/token", {
      grant_type: "client_credentials",
      client_id: "public-agent",
      resource: GATEWAY_RESOURCE,
    });
    expect(await oauthError(res)).toMatchObject({ status: 400, error: "unauthorized_client" });
  });

  it("refuses clients not registered for the grant with unauthorized_client", async () => {
    const res = await grant({ resource: GATEWAY_RESOURCE }, webApp.client);
    expect(await oauthError(res)).toMatchObject({ status: 400, error: "unauthorized_client" });
  });

  it.each([
    ["an unknown client", basic("nobody", "secret")],
    ["a wrong secret", basic("agent", "not-the-secret")],
    ["malformed Basic credentials", "Basic !!!"],
  ])("answers %s with 401 invalid_client and a Basic challenge", async (_, authorization) => {
    const res = await postForm(
      auth,
      "/token",
      { grant_type: "client_credentials", resource: GATEWAY_RESOURCE },
      undefined,
      { Authorization: authorization },
    );
    const error = await oauthError(res);
    expect(error).toMatchObject({ status: 401, error: "invalid_client" });
    expect(error.challenge).toMatch(/^Basic /);
  });

  it("answers a request without client authentication with 401 invalid_client", async () => {
    const res = await postForm(auth, "/token", { grant_type: "client_credentials", resource: GATEWAY_RESOURCE });
    expect(await oauthError(res)).toMatchObject({ status: 401, error: "invalid_client" });
  });

  describe("malformed requests get protocol errors, never a 500", () => {
    const authorization = () => basic(agent.client.clientId, agent.client.secret);

    it("rejects a JSON body with invalid_request", async () => {
      const res = await auth.fetch("/token", {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: authorization() },
        body: JSON.stringify({ grant_type: "client_credentials" }),
      });
      expect(await oauthError(res)).toMatchObject({ status: 400, error: "invalid_request" });
    });

    it("rejects a repeated scope with invalid_request", async () => {
      const res = await auth.fetch("/token", {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded", Authorization: authorization() },
        body: "grant_type=client_credentials&scope=tools%3Aread&scope=tools%3Aread",
      });
      expect(await oauthError(res)).toMatchObject({ status: 400, error: "invalid_request" });
    });

    it("rejects an oversized body with 413", async () => {
      const res = await grant({ resource: GATEWAY_RESOURCE, scope: "x".repeat(70 * 1024) });
      expect(await oauthError(res)).toMatchObject({ status: 413, error: "invalid_request" });
    });

    it("rejects an undecodable body with invalid_request", async () => {
      const res = await auth.fetch("/token", {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded", Authorization: authorization() },
        body: new Uint8Array([0xff, 0xfe, 0x00, 0x25, 0x25]),
      });
      expect(await oauthError(res)).toMatchObject({ status: 400, error: "invalid_request" });
    });
  });
});
