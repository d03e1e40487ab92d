// Attack: a client asks for scopes nobody granted it, counting on an empty scope list meaning
// "every scope", or on its own registration or metadata document to name what it gets. A static
// client obtains what `apps[].scopes` lists (OIDC scopes aside, for user-facing clients); a
// registered or metadata-document client obtains `oidcProvider.registration.defaultScopes`,
// and what it asks for at registration or in its document is capped by that.
import { randomBytes } from "node:crypto";
import { decodeJwt } from "jose";
import * as oauth from "oauth4webapi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALICE, authConfig, confidentialClient, GATEWAY_RESOURCE } from "../helpers/auth-config.js";
import { publicClientTokens } from "../helpers/client-probe.js";
import { CookieJar, step } from "../helpers/login-flow.js";
import { startDocumentServer, type DocumentServer } from "../helpers/metadata-documents.js";
import { discover, oauthError, postForm } from "../helpers/oauth-requests.js";
import { startAuthWorker, type RunningWorker } from "../helpers/workers.js";

const REDIRECT = "http://127.0.0.1:9/callback";

/** A static public client that lists no scopes, and a static machine agent that lists none. */
const browserApp = {
  name: "browser-app",
  clientId: "browser-app",
  tokenEndpointAuthMethod: "none",
  redirectUris: [REDIRECT],
};
const machine = confidentialClient("bare-machine", { grantTypes: ["client_credentials"], scopes: [] });

let auth: RunningWorker;
let as: oauth.AuthorizationServer;
let documents: DocumentServer;

beforeAll(async () => {
  documents = await startDocumentServer();
  auth = await startAuthWorker({
    config: (url) =>
      authConfig(url, {
        login: { users: [ALICE.config] },
        apps: [browserApp, machine.app],
        rateLimits: { registration: { limit: 1000 } },
        registration: { defaultScopes: ["tools:read"] },
        clientIdMetadataDocuments: { allowedLoopbackOrigins: [documents.base] },
      }),
    bindings: machine.bindings,
  });
  as = await discover(auth);
});
afterAll(async () => {
  await auth.dispose();
  await documents.close();
});

/**
 * The first answer to an authorization request: the error it carries, whether sent back to the
 * client (RFC 6749 §4.1.2.1) or shown on the auth tier's own error page; "login" when the
 * request was accepted and the user is sent to sign in.
 */
async function authorizationAnswer(clientId: string, scope: string): Promise<string> {
  const params = {
    client_id: clientId,
    redirect_uri: REDIRECT,
    response_type: "code",
    scope,
    resource: GATEWAY_RESOURCE,
    code_challenge: "x".repeat(43),
    code_challenge_method: "S256",
  };
  const first = await step(auth, new CookieJar(), `/authorize?${new URLSearchParams(params)}`);
  if (first.location?.pathname === "/login") return "login";
  if (first.location) return first.location.searchParams.get("error") ?? "no error";
  return /<strong>([a-z_]+)<\/strong>/.exec(first.body)?.[1] ?? `status ${first.res.status}`;
}

async function register(metadata: Record<string, unknown>): Promise<{ client_id: string; scope?: string }> {
  const res = await auth.fetch("/register", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(metadata),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as { client_id: string; scope?: string };
}

function publishDocument(extra: Record<string, unknown>): string {
  const path = `/clients/${randomBytes(8).toString("hex")}/metadata.json`;
  const clientId = documents.base + path;
  documents.publish(path, {
    client_id: clientId,
    client_name: "Document client",
    redirect_uris: [REDIRECT],
    token_endpoint_auth_method: "none",
    ...extra,
  });
  return clientId;
}

describe("a static client with no scope list", () => {
  it("may not request a provider scope (invalid_scope)", async () => {
    expect(await authorizationAnswer(browserApp.clientId, "openid tools:read")).toBe("invalid_scope");
    expect(await authorizationAnswer(browserApp.clientId, "tools:write")).toBe("invalid_scope");
  });

  it("still signs a user in with the OIDC scopes", async () => {
    expect(await authorizationAnswer(browserApp.clientId, "openid profile email offline_access")).toBe("login");
  });

  it("gets no provider scope through client_credentials", async () => {
    const res = await postForm(
      auth,
      "/token",
      { grant_type: "client_credentials", resource: GATEWAY_RESOURCE, scope: "tools:read" },
      machine.client,
    );
    expect(await oauthError(res)).toMatchObject({ status: 400, error: "invalid_scope" });
  });
});

describe("a registered client", () => {
  it("is registered with the default scopes, whatever it asked for", async () => {
    // offline_access only with the refresh_token grant, which this registration did not ask for.
    expect((await register({ redirect_uris: [REDIRECT] })).scope).toBe("openid profile email tools:read");
    expect((await register({ redirect_uris: [REDIRECT], scope: "openid tools:read tools:write" })).scope).toBe(
      "openid tools:read",
    );
  });

  it("cannot obtain a scope beyond the default set through the authorization code flow", async () => {
    const registered = await register({ redirect_uris: [REDIRECT], scope: "openid tools:read tools:write" });
    expect(await authorizationAnswer(registered.client_id, "openid tools:write")).toBe("invalid_scope");
    const tokens = await publicClientTokens(auth, as, registered.client_id, REDIRECT, "openid tools:read");
    expect(decodeJwt(tokens.access_token)).toMatchObject({ scope: "openid tools:read" });
  });
});

describe("a metadata-document client", () => {
  it("obtains the default scopes when its document names none", async () => {
    const clientId = publishDocument({});
    expect(await authorizationAnswer(clientId, "openid tools:read")).toBe("login");
    expect(await authorizationAnswer(clientId, "tools:write")).toBe("invalid_scope");
  });

  it("is capped by the default scopes whatever its document asks for", async () => {
    const clientId = publishDocument({ scope: "openid tools:read tools:write" });
    expect(await authorizationAnswer(clientId, "openid tools:write")).toBe("invalid_scope");
    expect(await authorizationAnswer(clientId, "openid tools:read")).toBe("login");
  });
});
