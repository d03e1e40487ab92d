// The refresh token grant (OAuth 2.1 §4.3): rotation, reuse detection that revokes the family,
// and requests that may narrow the original grant but never widen it. Families are seeded with
// the store's own code (test/helpers/refresh-family.ts). Strict reuse detection: the retry window
// (tokens.refreshReuseGrace) is off here; test/reliability/redis-stall-revokes-grant.test.ts covers it.
import { Redis } from "@upstash/redis/cloudflare";
import { createRemoteJWKSet, decodeJwt, jwtVerify } from "jose";
import * as oauth from "oauth4webapi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { familyReference } from "../../src/auth/store/family-reference.js";
import { authConfig, confidentialClient, GATEWAY_RESOURCE } from "../helpers/auth-config.js";
import { discover, oauthError, postForm } from "../helpers/oauth-requests.js";
import { seedRefreshFamily } from "../helpers/refresh-family.js";
import { signAccessToken } from "../helpers/tokens.js";
import { sharedRedis, startAuthWorker, type RunningWorker } from "../helpers/workers.js";

const SEARCH_API = "https://search.test/api";

const app = confidentialClient("app");
const other = confidentialClient("other-app");
const mcpClient = {
  name: "mcp-client",
  clientId: "mcp-client",
  tokenEndpointAuthMethod: "none",
  redirectUris: ["http://127.0.0.1/cb"],
  scopes: ["tools:read", "tools:write"],
};

describe("refresh token grant", () => {
  let auth: RunningWorker;
  let as: oauth.AuthorizationServer;
  let jwks: ReturnType<typeof createRemoteJWKSet>;

  beforeAll(async () => {
    auth = await startAuthWorker({
      config: (url) =>
        authConfig(url, {
          apps: [app.app, other.app, mcpClient],
          tokens: { accessTokenTTL: "10m", idTokenTTL: "5m", refreshReuseGrace: "0s" },
        }),
      bindings: { ...app.bindings, ...other.bindings },
    });
    as = await discover(auth);
    jwks = createRemoteJWKSet(new URL(`${auth.url}/jwks`));
  });
  afterAll(() => auth.dispose());

  const seed = (overrides: Parameters<typeof seedRefreshFamily>[1] = {}, ttlMs?: number) =>
    seedRefreshFamily(
      "app",
      { resource: [GATEWAY_RESOURCE, SEARCH_API], claims: { name: "Alice", email: "alice@example.com" }, ...overrides },
      ttlMs,
    );

  const refresh = (refreshToken: string, params: Record<string, string | string[]> = {}, client = app.client) =>
    postForm(auth, "/token", { grant_type: "refresh_token", refresh_token: refreshToken, ...params }, client);

  /** A successful refresh's body. */
  async function refreshed(refreshToken: string, params: Record<string, string | string[]> = {}) {
    const res = await refresh(refreshToken, params);
    expect(res.status).toBe(200);
    return (await res.json()) as {
      access_token: string;
      refresh_token: string;
      scope: string;
      id_token?: string;
      expires_in: number;
    };
  }

  const introspect = async (token: string) =>
    (await (await postForm(auth, "/introspect", { token }, app.client)).json()) as { active: boolean };

  it("rotates: a new refresh token, an access token bound to the family, and a new ID token (oauth4webapi)", async () => {
    const { familyId, refreshToken, family } = await seed();
    const client = { client_id: "app" };
    const res = await oauth.refreshTokenGrantRequest(
      as,
      client,
      oauth.ClientSecretBasic(app.client.secret),
      refreshToken,
      {
        [oauth.allowInsecureRequests]: true,
      },
    );
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    const tokens = await oauth.processRefreshTokenResponse(as, client, res);
    expect(tokens.refresh_token).toMatch(new RegExp(`^${familyId}\\.`));
    expect(tokens.refresh_token).not.toBe(refreshToken);
    expect(tokens.scope).toBe("openid tools:read");
    expect(tokens.expires_in).toBe(600);

    const { payload: access } = await jwtVerify(tokens.access_token, jwks, { issuer: auth.url, typ: "at+jwt" });
    // `fam` names the family by its reference, never by the id that begins its refresh tokens.
    expect(access).toMatchObject({
      sub: family.sub,
      client_id: "app",
      scope: "openid tools:read",
      fam: await familyReference(familyId),
      aud: [GATEWAY_RESOURCE, SEARCH_API],
    });

    // OIDC Core §12.2: same subject and audience, auth_time of the original login, no nonce.
    const idToken = oauth.getValidatedIdTokenClaims(tokens)!;
    expect(idToken).toMatchObject({ iss: auth.url, sub: family.sub, aud: "app", auth_time: family.authTime });
    expect(idToken.nonce).toBeUndefined();
    expect(idToken.exp - idToken.iat).toBe(300);
  });

  it("keeps the user's groups in every rotated access token", async () => {
    const { refreshToken } = await seed({ accessClaims: { groups: ["support"] } });
    expect(decodeJwt((await refreshed(refreshToken)).access_token)).toMatchObject({ groups: ["support"] });
  });

  it("keeps the family's lifetime absolute across rotations", async () => {
    const { familyId, refreshToken } = await seed({}, 120_000);
    const redis = new Redis({ ...sharedRedis(), automaticDeserialization: false, enableTelemetry: false });
    const before = await redis.pttl(`aig:rf-current:${familyId}`);
    await refreshed(refreshToken);
    const after = await redis.pttl(`aig:rf-current:${familyId}`);
    expect(before).toBeGreaterThan(0);
    expect(after).toBeGreaterThan(0);
    expect(after).toBeLessThanOrEqual(before);
    // The rotated-out tokens (kept for reuse detection) end with the family.
    const rotated = await redis.pttl(`aig:rf-rotated:${familyId}`);
    expect(rotated).toBeGreaterThan(0);
    expect(rotated).toBeLessThanOrEqual(before);
  });

  it("detects reuse of a rotated refresh token and revokes the whole family", async () => {
    const { refreshToken } = await seed();
    const first = await refreshed(refreshToken);

    const replay = await refresh(refreshToken);
    const error = await oauthError(replay);
    expect(error).toMatchObject({ status: 400, error: "invalid_grant" });

    // The family is gone: its newest refresh token and its access tokens with it.
    expect(await oauthError(await refresh(first.refresh_token))).toMatchObject({ status: 400, error: "invalid_grant" });
    expect(await introspect(first.access_token)).toEqual({ active: false });
  });

  it("lets at most one of two concurrent refreshes with the same token win, and revokes the family", async () => {
    const { refreshToken } = await seed();
    const responses = await Promise.all([refresh(refreshToken), refresh(refreshToken)]);
    const winners = responses.filter((r) => r.status === 200);
    expect(winners.length).toBeLessThanOrEqual(1);
    for (const loser of responses.filter((r) => r.status !== 200)) {
      expect(await oauthError(loser)).toMatchObject({ status: 400, error: "invalid_grant" });
    }
    for (const winner of winners) {
      const body = (await winner.json()) as { refresh_token: string; access_token: string };
      expect(await oauthError(await refresh(body.refresh_token))).toMatchObject({ error: "invalid_grant" });
      expect(await introspect(body.access_token)).toEqual({ active: false });
    }
  });

  it("narrows the scope on request, without narrowing the grant", async () => {
    const { refreshToken } = await seed({ scope: "openid profile tools:read tools:write" });
    const narrowed = await refreshed(refreshToken, { scope: "tools:read" });
    expect(narrowed.scope).toBe("tools:read");
    expect(narrowed.id_token).toBeUndefined();
    expect(decodeJwt(narrowed.access_token).scope).toBe("tools:read");

    const full = await refreshed(narrowed.refresh_token);
    expect(full.scope).toBe("openid profile tools:read tools:write");
  });

  it("releases in the ID token only the claims the narrowed scope covers", async () => {
    const { refreshToken } = await seed({ scope: "openid profile email" });
    const withProfile = await refreshed(refreshToken, { scope: "openid profile" });
    const claims = decodeJwt(withProfile.id_token!);
    expect(claims.name).toBe("Alice");
    expect(claims.email).toBeUndefined();
  });

  it("refuses to widen the scope with invalid_scope, and the refresh token still works", async () => {
    const { refreshToken } = await seed();
    expect(await oauthError(await refresh(refreshToken, { scope: "openid tools:read tools:write" }))).toMatchObject({
      status: 400,
      error: "invalid_scope",
    });
    await refreshed(refreshToken);
  });

  it("narrows the audience to one of the grant's resources", async () => {
    const { refreshToken } = await seed();
    const body = await refreshed(refreshToken, { resource: SEARCH_API });
    expect(decodeJwt(body.access_token).aud).toBe(SEARCH_API);
  });

  it("refuses a resource outside the grant with invalid_target, and the refresh token still works", async () => {
    const { refreshToken } = await seed({ resource: [GATEWAY_RESOURCE] });
    expect(await oauthError(await refresh(refreshToken, { resource: SEARCH_API }))).toMatchObject({
      status: 400,
      error: "invalid_target",
    });
    await refreshed(refreshToken);
  });

  it("issues tokens for the provider itself when the grant named no resource", async () => {
    const { refreshToken } = await seed({ resource: [] });
    const body = await refreshed(refreshToken);
    expect(decodeJwt(body.access_token).aud).toBe(auth.url);
  });

  it("refuses another client's refresh token with invalid_grant, leaving it usable by its owner", async () => {
    const { refreshToken } = await seed();
    expect(await oauthError(await refresh(refreshToken, {}, other.client))).toMatchObject({
      status: 400,
      error: "invalid_grant",
    });
    await refreshed(refreshToken);
  });

  it("refreshes, rotates and detects reuse for a family missing from its client's grant index (created before the indexes)", async () => {
    const { familyId, refreshToken } = await seed();
    const redis = new Redis({ ...sharedRedis(), automaticDeserialization: false, enableTelemetry: false });
    await redis.hdel("aig:grants:client:app", familyId);
    const body = await refreshed(refreshToken);
    expect(body.refresh_token).not.toBe(refreshToken);
    expect(await oauthError(await refresh(refreshToken))).toMatchObject({ status: 400, error: "invalid_grant" });
    expect(await oauthError(await refresh(body.refresh_token))).toMatchObject({ status: 400, error: "invalid_grant" });
  });

  it("serves public clients, which identify themselves by client_id (oauth4webapi)", async () => {
    const { refreshToken } = await seedRefreshFamily("mcp-client", {
      scope: "tools:read",
      resource: [GATEWAY_RESOURCE],
    });
    const client = { client_id: "mcp-client" };
    const res = await oauth.refreshTokenGrantRequest(as, client, oauth.None(), refreshToken, {
      [oauth.allowInsecureRequests]: true,
    });
    const tokens = await oauth.processRefreshTokenResponse(as, client, res);
    expect(tokens.refresh_token).toBeDefined();
    expect(decodeJwt(tokens.access_token)).toMatchObject({ client_id: "mcp-client", aud: GATEWAY_RESOURCE });
  });

  it.each([
    ["an unknown family", () => `${"A".repeat(43)}.${"B".repeat(43)}`],
    ["a malformed token", () => "not a refresh token"],
    ["an access token", () => signAccessToken(auth.url, { sub: "alice", client_id: "app", aud: GATEWAY_RESOURCE })],
  ])("answers %s with invalid_grant", async (_, token) => {
    expect(await oauthError(await refresh(await token()))).toMatchObject({ status: 400, error: "invalid_grant" });
  });

  it("requires the refresh_token parameter", async () => {
    const res = await postForm(auth, "/token", { grant_type: "refresh_token" }, app.client);
    expect(await oauthError(res)).toMatchObject({ status: 400, error: "invalid_request" });
  });

  it("rejects a repeated refresh_token parameter with invalid_request, without rotating", async () => {
    const { refreshToken } = await seed();
    const res = await auth.fetch("/token", {
      method: "POST",
      headers: {
        "Content-Type": "application/x-www-form-urlencoded",
        Authorization: `Basic ${btoa(`app:${app.client.secret}`)}`,
      },
      body: `grant_type=refresh_token&refresh_token=${refreshToken}&refresh_token=${refreshToken}`,
    });
    expect(await oauthError(res)).toMatchObject({ status: 400, error: "invalid_request" });
    await refreshed(refreshToken);
  });
});
