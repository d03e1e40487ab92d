import * as oauth from "oauth4webapi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authConfig } from "../helpers/auth-config.js";
import { startAuthWorker, type RunningWorker } from "../helpers/workers.js";

describe("authorization server metadata", () => {
  let auth: RunningWorker;
  beforeAll(async () => {
    auth = await startAuthWorker({ config: (url) => authConfig(url) });
  });
  afterAll(() => auth.dispose());

  it.each(["oidc", "oauth2"] as const)(
    "is discovered by oauth4webapi through the %s well-known path",
    async (algorithm) => {
      const issuer = new URL(auth.url);
      const res = await oauth.discoveryRequest(issuer, { algorithm, [oauth.allowInsecureRequests]: true });
      const as = await oauth.processDiscoveryResponse(issuer, res);
      expect(as.issuer).toBe(auth.url);
      expect(as.token_endpoint).toBe(`${auth.url}/token`);
      expect(as.code_challenge_methods_supported).toEqual(["S256"]);
      expect(as.grant_types_supported).toEqual(
        expect.arrayContaining([
          "authorization_code",
          "refresh_token",
          "client_credentials",
          "urn:ietf:params:oauth:grant-type:token-exchange",
        ]),
      );
      expect(as.authorization_response_iss_parameter_supported).toBe(true);
      expect(as.scopes_supported).toEqual(expect.arrayContaining(["openid", "tools:read"]));
    },
  );

  it("publishes the public signing keys, without private members", async () => {
    const res = await auth.fetch("/jwks");
    expect(res.status).toBe(200);
    const { keys } = (await res.json()) as { keys: Record<string, unknown>[] };
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      expect(key).toMatchObject({ kid: expect.any(String), alg: "ES256", use: "sig", kty: "EC" });
      expect(key).not.toHaveProperty("d");
      expect(key).not.toHaveProperty("activeFrom");
    }
  });
});

describe("CORS for browser-based clients", () => {
  let auth: RunningWorker;
  beforeAll(async () => {
    auth = await startAuthWorker({ config: (url) => authConfig(url) });
  });
  afterAll(() => auth.dispose());

  it("lets any origin read the metadata and the keys", async () => {
    for (const path of ["/.well-known/oauth-authorization-server", "/jwks"]) {
      const res = await auth.fetch(path, { headers: { Origin: "http://localhost:6274" } });
      expect(res.headers.get("Access-Control-Allow-Origin"), path).toBe("*");
    }
  });

  it("answers a preflight for the token and registration endpoints", async () => {
    for (const path of ["/token", "/register"]) {
      const res = await auth.fetch(path, {
        method: "OPTIONS",
        headers: {
          Origin: "http://localhost:6274",
          "Access-Control-Request-Method": "POST",
          "Access-Control-Request-Headers": "content-type",
        },
      });
      expect(res.status, path).toBe(204);
      expect(res.headers.get("Access-Control-Allow-Origin")).toBe("*");
    }
  });

  it("gives the login pages no CORS headers", async () => {
    const res = await auth.fetch("/authorize?client_id=x", { headers: { Origin: "http://localhost:6274" } });
    expect(res.headers.get("Access-Control-Allow-Origin")).toBeNull();
  });
});
