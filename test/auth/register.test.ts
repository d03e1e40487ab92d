// Dynamic client registration (RFC 7591), driven by oauth4webapi as the registrant; hostile
// registrations go over plain HTTP, since a client library would refuse to send them.
import { decodeJwt, exportJWK, generateKeyPair } from "jose";
import * as oauth from "oauth4webapi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Client } from "../../src/auth/clients/client.js";
import { ALICE, authConfig, GATEWAY_RESOURCE } from "../helpers/auth-config.js";
import { KNOWN_CLIENT, publicClientTokens, tokenEndpointAnswer, UNKNOWN_CLIENT } from "../helpers/client-probe.js";
import { discover } from "../helpers/oauth-requests.js";
import { nowSec, sharedStore } from "../helpers/tokens.js";
import { startAuthWorker, type RunningWorker } from "../helpers/workers.js";

const REDIRECT = "http://127.0.0.1:9/callback";
const options = { [oauth.allowInsecureRequests]: true };

let auth: RunningWorker;
let as: oauth.AuthorizationServer;

beforeAll(async () => {
  auth = await startAuthWorker({
    // Far more registrations than the default per-address limit allows a minute (test/auth/rate-limits.test.ts covers it).
    config: (url) =>
      authConfig(url, { login: { users: [ALICE.config] }, rateLimits: { registration: { limit: 1000 } } }),
  });
  as = await discover(auth);
});
afterAll(() => auth.dispose());

async function registerClient(metadata: Partial<oauth.Client>): Promise<oauth.Client> {
  return oauth.processDynamicClientRegistrationResponse(
    await oauth.dynamicClientRegistrationRequest(as, metadata, options),
  );
}

function postRegistration(body: string, contentType = "application/json"): Promise<Response> {
  return auth.fetch("/register", { method: "POST", headers: { "Content-Type": contentType }, body });
}

async function expectRegistrationError(res: Response, error: string, status = 400): Promise<void> {
  expect(res.status).toBe(status);
  expect(res.headers.get("Cache-Control")).toBe("no-store");
  expect(await res.json()).toEqual({ error, error_description: expect.any(String) });
}

describe("dynamic client registration", () => {
  it("registers a public MCP client and returns its metadata (RFC 7591 §3.2.1)", async () => {
    const res = await oauth.dynamicClientRegistrationRequest(
      as,
      {
        client_name: "Test MCP client",
        redirect_uris: [REDIRECT],
        grant_types: ["authorization_code", "refresh_token"],
        token_endpoint_auth_method: "none",
      },
      options,
    );
    expect(res.status).toBe(201);
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    const client = await oauth.processDynamicClientRegistrationResponse(res);
    expect(client).toEqual({
      client_id: expect.any(String),
      client_id_issued_at: expect.any(Number),
      client_name: "Test MCP client",
      redirect_uris: [REDIRECT],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
      // What it may request: the OIDC scopes and registration.defaultScopes.
      scope: "openid profile email offline_access tools:read",
    });
    expect(Math.abs((client.client_id_issued_at as number) - nowSec())).toBeLessThan(60);
  });

  it("defaults to a public client of the authorization code grant", async () => {
    const client = await registerClient({ redirect_uris: [REDIRECT] });
    expect(client).toMatchObject({
      token_endpoint_auth_method: "none",
      grant_types: ["authorization_code"],
      response_types: ["code"],
    });
    expect(client).not.toHaveProperty("client_secret");
  });

  it("does not offer offline_access to a client that did not register the refresh_token grant", async () => {
    const client = await registerClient({ redirect_uris: [REDIRECT], scope: "openid offline_access tools:read" });
    expect(client.scope).toBe("openid tools:read");
  });

  it.each(["native", "web"])(
    "registers an MCP client that names application_type %s (MCP 2026-07-28), under the same redirect URI rules",
    async (applicationType) => {
      const client = await registerClient({
        redirect_uris: [REDIRECT],
        grant_types: ["authorization_code", "refresh_token"],
        application_type: applicationType,
      });
      expect(client).toMatchObject({ redirect_uris: [REDIRECT], grant_types: ["authorization_code", "refresh_token"] });
    },
  );

  it("gives every registration its own client_id", async () => {
    const [a, b] = await Promise.all([
      registerClient({ redirect_uris: [REDIRECT] }),
      registerClient({ redirect_uris: [REDIRECT] }),
    ]);
    expect(a.client_id).not.toBe(b.client_id);
  });

  it("ignores metadata it does not understand (RFC 7591 §2)", async () => {
    const client = await registerClient({
      redirect_uris: [REDIRECT],
      logo_uri: "https://app.example/logo.png",
      software_id: "x",
      favourite_colour: "green",
    });
    expect(client).not.toHaveProperty("favourite_colour");
    expect(client).not.toHaveProperty("logo_uri");
  });

  it.each([
    ["a loopback IP redirect over http (RFC 8252 §7.3)", "http://127.0.0.1:33418/callback"],
    ["an IPv6 loopback redirect over http", "http://[::1]:33418/callback"],
    ["a localhost redirect over http", "http://localhost:8080/callback"],
    ["a private-use scheme (RFC 8252 §7.1)", "com.example.app:/oauth2redirect"],
    ["an https redirect with a query", "https://app.example/cb?tenant=1"],
  ])("accepts %s", async (_name, uri) => {
    await expect(registerClient({ redirect_uris: [uri] })).resolves.toMatchObject({ redirect_uris: [uri] });
  });

  it("lets a registered public client complete the authorization code flow", async () => {
    const registered = await registerClient({
      redirect_uris: [REDIRECT],
      grant_types: ["authorization_code", "refresh_token"],
      scope: "openid tools:read",
    });
    const tokens = await publicClientTokens(auth, as, registered.client_id, REDIRECT, "openid tools:read");
    expect(decodeJwt(tokens.access_token)).toMatchObject({
      client_id: registered.client_id,
      aud: GATEWAY_RESOURCE,
      scope: "openid tools:read",
    });
    expect(tokens.refresh_token).toEqual(expect.any(String));
  });

  it("issues a confidential client its secret once and stores only the secret's SHA-256", async () => {
    const registered = await registerClient({
      token_endpoint_auth_method: "client_secret_basic",
      redirect_uris: [REDIRECT],
    });
    expect(registered.client_secret).toEqual(expect.any(String));
    // The registration, and so the secret, expires with the registration record (720h default).
    expect(registered.client_secret_expires_at).toBeGreaterThan(nowSec() + 719 * 3600);
    const stored = await sharedStore().getClient<Client>(registered.client_id);
    expect(stored).toMatchObject({
      source: "registration",
      secretHash: expect.any(String),
      allowedAudiences: [],
      skipConsent: false,
    });
    expect(JSON.stringify(stored)).not.toContain(registered.client_secret as string);
  });

  // Registered clients act for a user, so authentication shows at the authorization code grant:
  // an authenticated client reaches the (bogus) code, 400 invalid_grant; a failed one is 401.
  // client_credentials is refused to them (test/security/registered-client-mints-machine-token.test.ts).
  it.each(["client_secret_basic", "client_secret_post"] as const)(
    "lets a %s client authenticate with its secret, and not without",
    async (method) => {
      const registered = await registerClient({ token_endpoint_auth_method: method, redirect_uris: [REDIRECT] });
      const client: oauth.Client = { client_id: registered.client_id };
      const clientAuth = (secret: string) =>
        method === "client_secret_basic" ? oauth.ClientSecretBasic(secret) : oauth.ClientSecretPost(secret);
      const redeem = (secret: string) =>
        oauth.genericTokenEndpointRequest(
          as,
          client,
          clientAuth(secret),
          "authorization_code",
          { code: "no-such-code", redirect_uri: REDIRECT, code_verifier: oauth.generateRandomCodeVerifier() },
          options,
        );
      const accepted = await redeem(registered.client_secret as string);
      expect({ status: accepted.status, ...((await accepted.json()) as object) }).toMatchObject(KNOWN_CLIENT);
      const refused = await redeem("wrong-secret");
      expect(refused.status).toBe(401);
      expect(await refused.json()).toMatchObject({ error: "invalid_client" });
    },
  );

  it("lets a private_key_jwt client with inline jwks authenticate with its key", async () => {
    const { publicKey, privateKey } = await generateKeyPair("ES256");
    const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" };
    const registered = await registerClient({
      token_endpoint_auth_method: "private_key_jwt",
      jwks: { keys: [jwk] },
      redirect_uris: [REDIRECT],
    });
    expect(registered).toMatchObject({ token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [jwk] } });
    expect(registered).not.toHaveProperty("client_secret");
    const client: oauth.Client = { client_id: registered.client_id };
    const res = await oauth.genericTokenEndpointRequest(
      as,
      client,
      oauth.PrivateKeyJwt({ key: privateKey, kid: "k1" }),
      "authorization_code",
      { code: "no-such-code", redirect_uri: REDIRECT, code_verifier: oauth.generateRandomCodeVerifier() },
      options,
    );
    expect({ status: res.status, ...((await res.json()) as object) }).toMatchObject(KNOWN_CLIENT);
  });

  it("makes the client known to the token endpoint, and only that client", async () => {
    const registered = await registerClient({ redirect_uris: [REDIRECT] });
    expect(await tokenEndpointAnswer(auth, registered.client_id, REDIRECT)).toEqual(KNOWN_CLIENT);
    expect(await tokenEndpointAnswer(auth, `${registered.client_id}x`, REDIRECT)).toEqual(UNKNOWN_CLIENT);
  });
});

describe("hostile registrations", () => {
  it.each([
    ["a javascript: redirect URI", "javascript:alert(document.cookie)"],
    ["a data: redirect URI", "data:text/html,<script>alert(1)</script>"],
    ["a file: redirect URI", "file:///etc/passwd"],
    ["a vbscript: redirect URI", "vbscript:msgbox(1)"],
    ["plain http to a non-loopback host", "http://evil.example/cb"],
    ["a fragment", "https://app.example/cb#frag"],
    ["an empty fragment", "https://app.example/cb#"],
    ["a relative URI", "/callback"],
    ["user information", "https://user:pass@app.example/cb"],
    ["a custom scheme that is not a reverse domain name", "myapp:/callback"],
  ])("refuses %s with invalid_redirect_uri", async (_name, uri) => {
    await expectRegistrationError(
      await postRegistration(JSON.stringify({ redirect_uris: [REDIRECT, uri] })),
      "invalid_redirect_uri",
    );
  });

  it("refuses an authorization code client without redirect URIs", async () => {
    await expectRegistrationError(
      await postRegistration(JSON.stringify({ client_name: "no redirect" })),
      "invalid_redirect_uri",
    );
  });

  it("refuses redirect_uris that are not an array of strings", async () => {
    await expectRegistrationError(
      await postRegistration(JSON.stringify({ redirect_uris: REDIRECT })),
      "invalid_redirect_uri",
    );
  });

  it.each([
    [
      "the token-exchange grant",
      { grant_types: ["authorization_code", "urn:ietf:params:oauth:grant-type:token-exchange"] },
    ],
    ["the implicit grant", { grant_types: ["implicit"] }],
    ["the password grant", { grant_types: ["password"] }],
    [
      "client_credentials for a public client",
      { grant_types: ["client_credentials"], token_endpoint_auth_method: "none" },
    ],
    [
      "client_credentials for a confidential client (registered machine clients are off)",
      { grant_types: ["client_credentials"], token_endpoint_auth_method: "client_secret_basic" },
    ],
    ["an empty grant_types", { grant_types: [] }],
    ["an unknown authentication method", { token_endpoint_auth_method: "magic_handshake" }],
    ["client_secret_jwt", { token_endpoint_auth_method: "client_secret_jwt" }],
    ["private_key_jwt without keys", { token_endpoint_auth_method: "private_key_jwt" }],
    [
      "a jwks_uri (no fetching on a registrant's behalf)",
      { token_endpoint_auth_method: "private_key_jwt", jwks_uri: "https://app.example/jwks" },
    ],
    [
      "a private key in jwks",
      {
        token_endpoint_auth_method: "private_key_jwt",
        jwks: { keys: [{ kty: "EC", crv: "P-256", x: "x", y: "y", d: "secret" }] },
      },
    ],
    [
      "a symmetric key in jwks",
      { token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [{ kty: "oct", k: "c2VjcmV0" }] } },
    ],
    ["the token response type", { response_types: ["token"] }],
    ["response types that disagree with the grant types (RFC 7591 §2.1)", { response_types: [] }],
    ["a scope the provider does not know", { scope: "openid admin" }],
    ["a client_name that is not a string", { client_name: 42 }],
  ])("refuses %s with invalid_client_metadata", async (_name, metadata) => {
    await expectRegistrationError(
      await postRegistration(JSON.stringify({ redirect_uris: [REDIRECT], ...metadata })),
      "invalid_client_metadata",
    );
  });

  it.each([
    ["malformed JSON", '{"redirect_uris": [', "application/json"],
    ["a JSON array", "[]", "application/json"],
    ["JSON null", "null", "application/json"],
    ["a form body", `redirect_uris=${encodeURIComponent(REDIRECT)}`, "application/x-www-form-urlencoded"],
    ["JSON sent as text/plain", JSON.stringify({ redirect_uris: [REDIRECT] }), "text/plain"],
  ])("refuses %s with invalid_client_metadata", async (_name, body, type) => {
    await expectRegistrationError(await postRegistration(body, type), "invalid_client_metadata");
  });

  it("refuses a body over 64 KiB with 413", async () => {
    const body = JSON.stringify({ redirect_uris: [REDIRECT], client_name: "x".repeat(70 * 1024) });
    await expectRegistrationError(await postRegistration(body), "invalid_request", 413);
  });
});

describe("registration disabled", () => {
  let closed: RunningWorker;
  beforeAll(async () => {
    closed = await startAuthWorker({ config: (url) => authConfig(url, { registration: { enabled: false } }) });
  });
  afterAll(() => closed.dispose());

  it("answers 404 at /register and leaves registration_endpoint out of discovery", async () => {
    const res = await closed.fetch("/register", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ redirect_uris: [REDIRECT] }),
    });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: "invalid_request" });
    expect(await discover(closed)).not.toHaveProperty("registration_endpoint");
  });
});
