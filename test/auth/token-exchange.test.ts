// RFC 8693 token exchange at POST /token: the per-tool token the gateway mints on every tool call.
// Subject tokens are signed in the test with the run's signing key, exactly as the provider
// issues them (test/helpers/tokens.ts); happy paths go through oauth4webapi, hostile ones raw.
import { randomBytes } from "node:crypto";
import { createRemoteJWKSet, decodeJwt, jwtVerify, type JWTPayload } from "jose";
import * as oauth from "oauth4webapi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { familyReference } from "../../src/auth/store/family-reference.js";
import { authConfig, confidentialClient, GATEWAY_RESOURCE, type TestClient } from "../helpers/auth-config.js";
import {
  hmacWithPublicKey,
  nowSec,
  revokeAccessToken,
  sharedStore,
  signAccessToken,
  signingJwk,
  signWithUnknownKey,
  unsecuredAccessToken,
  type AccessTokenFields,
} from "../helpers/tokens.js";
import { startAuthWorker, type RunningWorker } from "../helpers/workers.js";

const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token";
const API_A = "https://api-a.test";
const API_B = "https://api-b.test";
const CRM = "urn:tool:crm";

const gateway = confidentialClient("gateway", { grantTypes: [TOKEN_EXCHANGE], allowedAudiences: [API_A, API_B, CRM] });
const narrow = confidentialClient("narrow", {
  grantTypes: [TOKEN_EXCHANGE],
  allowedAudiences: [API_A],
  scopes: ["tools:read"],
});
const impersonator = confidentialClient("impersonator", {
  grantTypes: [TOKEN_EXCHANGE],
  allowedAudiences: [API_A],
  tokenExchange: { impersonation: true },
});
// A tool's own service, exchanging the tool token it received (aud API_A) onwards to API_B.
const downstream = confidentialClient("downstream", {
  grantTypes: [TOKEN_EXCHANGE],
  allowedAudiences: [API_B],
  tokenExchange: { subjectAudiences: [API_A] },
});
const noExchange = confidentialClient("no-exchange", { grantTypes: ["client_credentials"], allowedAudiences: [API_A] });
// A machine agent that obtains its own token for the gateway through client_credentials.
const machineAgent = confidentialClient("machine-agent", {
  grantTypes: ["client_credentials"],
  allowedAudiences: [GATEWAY_RESOURCE],
});
const publicAgent = {
  name: "public-agent",
  clientId: "public-agent",
  tokenEndpointAuthMethod: "none",
  grantTypes: [TOKEN_EXCHANGE],
  allowedAudiences: [API_A],
};

describe("token exchange", () => {
  let auth: RunningWorker;
  let as: oauth.AuthorizationServer;
  let jwks: ReturnType<typeof createRemoteJWKSet>;

  beforeAll(async () => {
    auth = await startAuthWorker({
      config: (url) =>
        authConfig(url, {
          apps: [
            gateway.app,
            narrow.app,
            impersonator.app,
            downstream.app,
            noExchange.app,
            machineAgent.app,
            publicAgent,
          ],
        }),
      bindings: {
        ...gateway.bindings,
        ...narrow.bindings,
        ...impersonator.bindings,
        ...downstream.bindings,
        ...noExchange.bindings,
        ...machineAgent.bindings,
      },
    });
    const issuer = new URL(auth.url);
    as = await oauth.processDiscoveryResponse(
      issuer,
      await oauth.discoveryRequest(issuer, { [oauth.allowInsecureRequests]: true }),
    );
    jwks = createRemoteJWKSet(new URL(`${auth.url}/jwks`));
  });
  afterAll(() => auth.dispose());

  /** What an agent presents to the gateway: Alice's token, issued to the agent for the gateway. */
  const userToken = (fields: Partial<AccessTokenFields> = {}) =>
    signAccessToken(auth.url, {
      sub: "alice",
      client_id: "claude",
      aud: GATEWAY_RESOURCE,
      scope: "openid tools:read tools:write",
      ...fields,
    });

  type Params = Record<string, string | string[]>;
  const form = (params: Params) => {
    const body = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) for (const v of [value].flat()) body.append(name, v);
    return body;
  };
  const basic = (id: string, secret: string) =>
    `Basic ${btoa(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`)}`;

  /** A successful exchange through an independent client library; returns the response and the verified claims. */
  async function exchange(client: TestClient, params: Params) {
    const res = await oauth.genericTokenEndpointRequest(
      as,
      { client_id: client.clientId },
      oauth.ClientSecretBasic(client.secret),
      TOKEN_EXCHANGE,
      form({ subject_token_type: ACCESS_TOKEN, ...params }),
      { [oauth.allowInsecureRequests]: true },
    );
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    const body = await oauth.processGenericTokenEndpointResponse(as, { client_id: client.clientId }, res);
    const { payload, protectedHeader } = await jwtVerify(body.access_token, jwks, {
      issuer: auth.url,
      typ: "at+jwt",
      algorithms: ["ES256"],
    });
    expect(protectedHeader.kid).toBe(signingJwk().kid);
    return {
      body,
      claims: payload as JWTPayload & { act?: unknown; scope?: string; client_id?: string; fam?: string },
    };
  }

  /** A raw request, for everything a well-behaved client library would refuse to send. */
  function post(
    params: Params,
    init: { client?: TestClient | null; headers?: Record<string, string>; body?: string } = {},
  ) {
    const client = init.client === undefined ? gateway.client : init.client;
    return auth.fetch("/token", {
      method: "POST",
      headers: {
        "Content-Type": "application/x-www-form-urlencoded",
        ...(client ? { Authorization: basic(client.clientId, client.secret) } : {}),
        ...init.headers,
      },
      body: init.body ?? form({ grant_type: TOKEN_EXCHANGE, subject_token_type: ACCESS_TOKEN, ...params }).toString(),
    });
  }

  async function expectError(res: Response, status: number, error: string) {
    const body = (await res.json()) as { error: string; error_description?: string };
    expect({ status: res.status, error: body.error }).toEqual({ status, error });
    expect(body.error_description).toEqual(expect.any(String));
    expect(res.headers.get("Cache-Control")).toBe("no-store");
  }

  describe("delegation", () => {
    it("issues a token for the user, issued to the caller, whose act claim names the agent that held the subject token", async () => {
      const { body, claims } = await exchange(gateway.client, { subject_token: await userToken(), audience: API_A });
      expect(body).toMatchObject({ issued_token_type: ACCESS_TOKEN, token_type: "bearer", expires_in: 5 });
      expect(claims).toMatchObject({
        iss: auth.url,
        sub: "alice",
        aud: API_A,
        client_id: "gateway",
        act: { sub: "claude", client_id: "claude" },
      });
      expect(claims.act).not.toHaveProperty("act");
    });

    it("carries the user's groups and roles on, and no other user claim", async () => {
      const subject = await userToken({
        extra: { groups: ["engineering"], roles: ["admin"], email: "alice@example.com" },
      });
      const { claims } = await exchange(gateway.client, { subject_token: subject, audience: API_A });
      expect(claims).toMatchObject({ sub: "alice", groups: ["engineering"], roles: ["admin"] });
      expect(claims).not.toHaveProperty("email");
    });

    it("exchanges a token the provider itself issued (client_credentials)", async () => {
      const client = { client_id: machineAgent.client.clientId };
      const res = await oauth.clientCredentialsGrantRequest(
        as,
        client,
        oauth.ClientSecretBasic(machineAgent.client.secret),
        { resource: GATEWAY_RESOURCE, scope: "tools:read" },
        {
          [oauth.allowInsecureRequests]: true,
        },
      );
      const agentToken = (await oauth.processClientCredentialsResponse(as, client, res)).access_token;
      const { claims } = await exchange(gateway.client, { subject_token: agentToken, audience: API_A });
      expect(claims).toMatchObject({
        sub: "machine-agent",
        aud: API_A,
        client_id: "gateway",
        scope: "tools:read",
        act: { sub: "machine-agent", client_id: "machine-agent" },
      });
    });

    it("accepts requested_token_type access_token", async () => {
      const { body } = await exchange(gateway.client, {
        subject_token: await userToken(),
        audience: API_A,
        requested_token_type: ACCESS_TOKEN,
      });
      expect(body.issued_token_type).toBe(ACCESS_TOKEN);
    });

    it("names the actor token's subject as the actor when one is presented", async () => {
      const actorToken = await signAccessToken(auth.url, { sub: "ci-bot", client_id: "ci-bot", aud: GATEWAY_RESOURCE });
      const { claims } = await exchange(gateway.client, {
        subject_token: await userToken(),
        actor_token: actorToken,
        actor_token_type: ACCESS_TOKEN,
        audience: API_A,
      });
      expect(claims).toMatchObject({ sub: "alice", client_id: "gateway", act: { sub: "ci-bot", client_id: "ci-bot" } });
    });

    it("nests the subject token's act under the new actor, most recent actor outermost", async () => {
      const first = await exchange(gateway.client, {
        subject_token: await userToken(),
        audience: API_A,
        expires_in: "60",
      });
      const { claims } = await exchange(downstream.client, { subject_token: first.body.access_token, audience: API_B });
      expect(claims).toMatchObject({ sub: "alice", aud: API_B, client_id: "downstream" });
      // The tool token was held by the gateway, which now acts; the agent's own act stays nested.
      expect(claims.act).toEqual({ sub: "gateway", client_id: "gateway", act: { sub: "claude", client_id: "claude" } });
    });

    it("does not carry the subject token's refresh family to the upstream", async () => {
      const fam = randomBytes(16).toString("base64url");
      const { claims } = await exchange(gateway.client, { subject_token: await userToken({ fam }), audience: API_A });
      expect(claims).not.toHaveProperty("fam");
    });
  });

  describe("impersonation", () => {
    it("issues a token without an act claim to a client allowed to impersonate", async () => {
      const { claims } = await exchange(impersonator.client, {
        subject_token: await userToken(),
        audience: API_A,
        exchange_type: "impersonation",
      });
      expect(claims).toMatchObject({ sub: "alice", client_id: "impersonator", aud: API_A });
      expect(claims).not.toHaveProperty("act");
    });

    it("keeps the act claim the subject token already had, so a delegation chain cannot be erased", async () => {
      const act = { sub: "gateway", client_id: "gateway" };
      const { claims } = await exchange(impersonator.client, {
        subject_token: await userToken({ act }),
        audience: API_A,
        exchange_type: "impersonation",
      });
      expect(claims.act).toEqual(act);
    });

    it("refuses impersonation to a client not configured for it", async () => {
      await expectError(
        await post({ subject_token: await userToken(), audience: API_A, exchange_type: "impersonation" }),
        400,
        "unauthorized_client",
      );
    });

    it("refuses impersonation together with an actor token", async () => {
      const actorToken = await signAccessToken(auth.url, { sub: "ci-bot", client_id: "ci-bot", aud: GATEWAY_RESOURCE });
      const res = await post(
        {
          subject_token: await userToken(),
          audience: API_A,
          exchange_type: "impersonation",
          actor_token: actorToken,
          actor_token_type: ACCESS_TOKEN,
        },
        { client: impersonator.client },
      );
      await expectError(res, 400, "invalid_request");
    });

    it("rejects an unknown exchange_type", async () => {
      await expectError(
        await post({ subject_token: await userToken(), audience: API_A, exchange_type: "both" }),
        400,
        "invalid_request",
      );
    });
  });

  describe("audience", () => {
    it("binds the token to every requested audience and resource", async () => {
      const { claims } = await exchange(gateway.client, {
        subject_token: await userToken(),
        audience: CRM,
        resource: [API_A, API_B],
      });
      expect(claims.aud).toEqual([CRM, API_A, API_B]);
    });

    it("refuses an audience outside the caller's allowed audiences with invalid_target", async () => {
      await expectError(
        await post({ subject_token: await userToken(), audience: "https://evil.test" }),
        400,
        "invalid_target",
      );
    });

    it("refuses a provider-wide resource that is not in the caller's own list", async () => {
      await expectError(
        await post({ subject_token: await userToken(), resource: GATEWAY_RESOURCE }),
        400,
        "invalid_target",
      );
    });

    it("refuses a resource allowed to another client", async () => {
      await expectError(
        await post({ subject_token: await userToken(), audience: API_B }, { client: narrow.client }),
        400,
        "invalid_target",
      );
    });

    it("requires an audience or a resource", async () => {
      await expectError(await post({ subject_token: await userToken() }), 400, "invalid_target");
    });

    it.each([`${API_A}#frag`, "api-a.test"])("refuses the malformed resource %s", async (resource) => {
      await expectError(await post({ subject_token: await userToken(), resource }), 400, "invalid_target");
    });

    it("rejects a subject token issued for another audience", async () => {
      await expectError(
        await post({ subject_token: await userToken({ aud: API_A }), audience: API_B }),
        400,
        "invalid_request",
      );
    });
  });

  describe("scope", () => {
    it("without a scope parameter, grants the subject token's scopes the client lists (not openid, which it does not)", async () => {
      const { body, claims } = await exchange(gateway.client, { subject_token: await userToken(), audience: API_A });
      expect(body.scope).toBe("tools:read tools:write");
      expect(claims.scope).toBe("tools:read tools:write");
    });

    it("without a scope parameter, grants only what both the subject token and the client allow", async () => {
      const { body, claims } = await exchange(narrow.client, { subject_token: await userToken(), audience: API_A });
      expect(body.scope).toBe("tools:read");
      expect(claims.scope).toBe("tools:read");
    });

    it("narrows the token to the requested scopes", async () => {
      const { body, claims } = await exchange(gateway.client, {
        subject_token: await userToken(),
        audience: API_A,
        scope: "tools:read",
      });
      expect(body.scope).toBe("tools:read");
      expect(claims.scope).toBe("tools:read");
    });

    it("refuses a scope the user never granted with invalid_scope", async () => {
      await expectError(
        await post({ subject_token: await userToken({ scope: "tools:read" }), audience: API_A, scope: "tools:write" }),
        400,
        "invalid_scope",
      );
    });

    it("refuses a scope the client may not hold, even when the user granted it", async () => {
      await expectError(
        await post(
          { subject_token: await userToken(), audience: API_A, scope: "tools:write" },
          { client: narrow.client },
        ),
        400,
        "invalid_scope",
      );
    });
  });

  describe("lifetime", () => {
    it("defaults to tokens.exchange.defaultTTL (5 s)", async () => {
      const { body, claims } = await exchange(gateway.client, { subject_token: await userToken(), audience: API_A });
      expect(claims.exp! - claims.iat!).toBe(5);
      expect(body.expires_in).toBe(5);
    });

    it("honours a requested expires_in", async () => {
      const { body, claims } = await exchange(gateway.client, {
        subject_token: await userToken(),
        audience: API_A,
        expires_in: "60",
      });
      expect(claims.exp! - claims.iat!).toBe(60);
      expect(body.expires_in).toBe(60);
    });

    it("refuses a lifetime above tokens.exchange.maxTTL rather than capping it silently", async () => {
      await expectError(
        await post({ subject_token: await userToken(), audience: API_A, expires_in: "301" }),
        400,
        "invalid_request",
      );
    });

    it.each(["0", "-5", "1.5", "1e3", "ten", "99999999999999999999"])(
      "refuses the malformed expires_in %s",
      async (expiresIn) => {
        await expectError(
          await post({ subject_token: await userToken(), audience: API_A, expires_in: expiresIn }),
          400,
          "invalid_request",
        );
      },
    );

    it("never outlives the subject token", async () => {
      const subject = await userToken({ ttlSec: 30 });
      const { body, claims } = await exchange(gateway.client, {
        subject_token: subject,
        audience: API_A,
        expires_in: "60",
      });
      expect(claims.exp).toBe(decodeJwt(subject).exp);
      expect(body.expires_in).toBeLessThanOrEqual(30);
    });

    it("never outlives the actor token", async () => {
      const actorToken = await signAccessToken(auth.url, {
        sub: "ci-bot",
        client_id: "ci-bot",
        aud: GATEWAY_RESOURCE,
        ttlSec: 30,
      });
      const { claims } = await exchange(gateway.client, {
        subject_token: await userToken(),
        actor_token: actorToken,
        actor_token_type: ACCESS_TOKEN,
        audience: API_A,
        expires_in: "60",
      });
      expect(claims.exp).toBe(decodeJwt(actorToken).exp);
    });
  });

  describe("request parameters", () => {
    it("requires subject_token", async () => {
      await expectError(await post({ audience: API_A }), 400, "invalid_request");
    });

    it("requires subject_token_type", async () => {
      const body = form({ grant_type: TOKEN_EXCHANGE, subject_token: await userToken(), audience: API_A }).toString();
      await expectError(await post({}, { body }), 400, "invalid_request");
    });

    it.each([
      "urn:ietf:params:oauth:token-type:jwt",
      "urn:ietf:params:oauth:token-type:id_token",
      "urn:ietf:params:oauth:token-type:refresh_token",
    ])("accepts access tokens only, not subject_token_type %s", async (type) => {
      await expectError(
        await post({ subject_token: await userToken(), audience: API_A, subject_token_type: type }),
        400,
        "invalid_request",
      );
    });

    it("issues access tokens only", async () => {
      const res = await post({
        subject_token: await userToken(),
        audience: API_A,
        requested_token_type: "urn:ietf:params:oauth:token-type:refresh_token",
      });
      await expectError(res, 400, "invalid_request");
    });

    it("requires actor_token_type with an actor_token", async () => {
      const actorToken = await signAccessToken(auth.url, { sub: "ci-bot", client_id: "ci-bot", aud: GATEWAY_RESOURCE });
      await expectError(
        await post({ subject_token: await userToken(), audience: API_A, actor_token: actorToken }),
        400,
        "invalid_request",
      );
    });

    it("refuses actor_token_type without an actor_token", async () => {
      await expectError(
        await post({ subject_token: await userToken(), audience: API_A, actor_token_type: ACCESS_TOKEN }),
        400,
        "invalid_request",
      );
    });

    it("refuses a repeated subject_token", async () => {
      await expectError(
        await post({ subject_token: [await userToken(), await userToken()], audience: API_A }),
        400,
        "invalid_request",
      );
    });
  });

  describe("hostile subject tokens", () => {
    const alice: AccessTokenFields = { sub: "alice", client_id: "claude", aud: GATEWAY_RESOURCE, scope: "tools:read" };
    const cases: [string, (issuer: string) => Promise<string> | string][] = [
      ["an unsecured token (alg none)", (iss) => unsecuredAccessToken(iss, alice)],
      ["an HS256 token keyed with the provider's public key", (iss) => hmacWithPublicKey(iss, alice)],
      [
        "an expired token",
        (iss) =>
          signAccessToken(iss, { ...alice, extra: { iat: nowSec() - 120, nbf: nowSec() - 120, exp: nowSec() - 60 } }),
      ],
      [
        "a token not valid yet",
        (iss) =>
          signAccessToken(iss, { ...alice, extra: { iat: nowSec() + 60, nbf: nowSec() + 60, exp: nowSec() + 360 } }),
      ],
      ["a token from another issuer", () => signAccessToken("https://other-issuer.test", alice)],
      ["a token signed by an unknown key", (iss) => signWithUnknownKey(iss, alice)],
      ["a token signed by another key under our kid", (iss) => signWithUnknownKey(iss, alice, signingJwk().kid)],
      ["an ID token (typ JWT)", (iss) => signAccessToken(iss, alice, { typ: "JWT" })],
      ["a token without a jti", (iss) => signAccessToken(iss, { ...alice, extra: { jti: undefined } })],
      ["a malformed token", () => "not-a-jwt"],
      ["a token with a malformed header", () => "eyJub3QganNvbg.e30.c2ln"],
    ];

    it.each(cases)("rejects %s with invalid_request (RFC 8693 §2.2.2)", async (_name, make) => {
      await expectError(await post({ subject_token: await make(auth.url), audience: API_A }), 400, "invalid_request");
    });

    it("rejects a revoked subject token", async () => {
      const subject = await userToken();
      await exchange(gateway.client, { subject_token: subject, audience: API_A });
      await revokeAccessToken(subject);
      await expectError(await post({ subject_token: subject, audience: API_A }), 400, "invalid_request");
    });

    it("rejects a subject token whose refresh family was revoked", async () => {
      const fam = randomBytes(16).toString("base64url");
      const subject = await userToken({ fam: await familyReference(fam) });
      await sharedStore().revokeFamily(fam, 60_000);
      await expectError(await post({ subject_token: subject, audience: API_A }), 400, "invalid_request");
    });

    it("rejects a subject token that names its family by the family id (as tokens did before family references) once the family is revoked", async () => {
      const fam = randomBytes(16).toString("base64url");
      const subject = await userToken({ fam });
      await sharedStore().revokeFamily(fam, 60_000);
      await expectError(await post({ subject_token: subject, audience: API_A }), 400, "invalid_request");
    });

    it("checks revocation per token when many exchanges arrive at once (their lookups share one Redis request)", async () => {
      const fam = randomBytes(16).toString("base64url");
      const reference = await familyReference(fam);
      const subjects = await Promise.all(
        Array.from({ length: 24 }, (_, i) => userToken(i === 7 ? { fam: reference } : {})),
      );
      await Promise.all(
        subjects.slice(0, 3).map((subject) => exchange(gateway.client, { subject_token: subject, audience: API_A })),
      );
      await revokeAccessToken(subjects[1]!);
      await sharedStore().revokeFamily(fam, 60_000);
      const answers = await Promise.all(subjects.map((subject) => post({ subject_token: subject, audience: API_A })));
      expect(answers.map((res) => res.status)).toEqual(subjects.map((_, i) => (i === 1 || i === 7 ? 400 : 200)));
    });

    it("rejects an invalid actor token", async () => {
      const actorToken = await signWithUnknownKey(auth.url, {
        sub: "ci-bot",
        client_id: "ci-bot",
        aud: GATEWAY_RESOURCE,
      });
      await expectError(
        await post({
          subject_token: await userToken(),
          actor_token: actorToken,
          actor_token_type: ACCESS_TOKEN,
          audience: API_A,
        }),
        400,
        "invalid_request",
      );
    });
  });

  describe("client authentication", () => {
    it("rejects an unknown client with invalid_client and a Basic challenge", async () => {
      const res = await post(
        { subject_token: await userToken(), audience: API_A },
        { headers: { Authorization: basic("nobody", "secret") } },
      );
      expect(res.headers.get("WWW-Authenticate")).toMatch(/^Basic /);
      await expectError(res, 401, "invalid_client");
    });

    it("rejects a wrong secret with invalid_client and a Basic challenge", async () => {
      const res = await post(
        { subject_token: await userToken(), audience: API_A },
        { headers: { Authorization: basic("gateway", "wrong") } },
      );
      expect(res.headers.get("WWW-Authenticate")).toMatch(/^Basic /);
      await expectError(res, 401, "invalid_client");
    });

    it("rejects a client not granted token exchange with unauthorized_client", async () => {
      await expectError(
        await post({ subject_token: await userToken(), audience: API_A }, { client: noExchange.client }),
        400,
        "unauthorized_client",
      );
    });

    it("refuses a public client, which cannot authenticate, with unauthorized_client", async () => {
      const body = form({
        grant_type: TOKEN_EXCHANGE,
        client_id: "public-agent",
        subject_token: await userToken(),
        subject_token_type: ACCESS_TOKEN,
        audience: API_A,
      }).toString();
      await expectError(await post({}, { body, client: null }), 400, "unauthorized_client");
    });
  });

  describe("request body", () => {
    it("refuses an oversized body with 413", async () => {
      const body = form({
        grant_type: TOKEN_EXCHANGE,
        subject_token: "x".repeat(70 * 1024),
        subject_token_type: ACCESS_TOKEN,
        audience: API_A,
      }).toString();
      // The server answers before reading the body and drops the connection: keep it out of the pool.
      await expectError(await post({}, { body, headers: { Connection: "close" } }), 413, "invalid_request");
    });

    it("refuses a body that is not form-encoded", async () => {
      const res = await post(
        {},
        {
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ grant_type: TOKEN_EXCHANGE, subject_token: await userToken() }),
        },
      );
      await expectError(res, 400, "invalid_request");
    });
  });
});
