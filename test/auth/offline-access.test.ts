// `offline_access` and refresh tokens (MCP 2026-07-28 authorization, "Refresh Tokens"; OIDC Core
// §11): discovery lists the scope, so MCP clients that want refresh tokens may ask for it; refresh
// tokens go to clients that registered the refresh_token grant, whether or not they asked; a
// client without that grant that asks anyway has the request ignored (dropped from the grant, no
// refresh token); a grant without a user never gets it.
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALICE, authConfig, confidentialClient } from "../helpers/auth-config.js";
import { authorizationParams, pkce } from "../helpers/authorization-request.js";
import { authorize, postForm } from "../helpers/login-flow.js";
import { startAuthWorker, type RunningWorker } from "../helpers/workers.js";

const REDIRECT = "http://127.0.0.1:9/callback";

/** A public client of the code flow that may refresh (the default grants), and one that may not. */
const refresher = {
  name: "refresher",
  clientId: "refresher",
  tokenEndpointAuthMethod: "none",
  redirectUris: [REDIRECT],
  scopes: ["tools:read"],
};
const codeOnly = { ...refresher, name: "code-only", clientId: "code-only", grantTypes: ["authorization_code"] };
const machine = confidentialClient("offline-machine", { grantTypes: ["client_credentials"] });

let auth: RunningWorker;
beforeAll(async () => {
  auth = await startAuthWorker({
    config: (url) => authConfig(url, { login: { users: [ALICE.config] }, apps: [refresher, codeOnly, machine.app] }),
    bindings: machine.bindings,
  });
});
afterAll(() => auth.dispose());

interface TokenAnswer {
  access_token: string;
  refresh_token?: string;
  scope?: string;
}

/** alice authorizes `clientId` for `scope` (plus `extra` parameters) and the client redeems the code. */
async function codeFlow(clientId: string, scope: string, extra: Record<string, string> = {}): Promise<TokenAnswer> {
  const { verifier, challenge } = await pkce();
  const { redirect } = await authorize(
    auth,
    authorizationParams(clientId, REDIRECT, challenge, { scope, ...extra }),
    ALICE,
  );
  const code = redirect.searchParams.get("code");
  expect(code, redirect.toString()).toBeTruthy();
  const res = await auth.fetch(
    "/token",
    postForm({
      grant_type: "authorization_code",
      client_id: clientId,
      code: code!,
      redirect_uri: REDIRECT,
      code_verifier: verifier,
    }),
  );
  expect(res.status).toBe(200);
  return (await res.json()) as TokenAnswer;
}

/** The first answer to an authorization request: the error sent back to the client, or "login". */
async function authorizationAnswer(clientId: string, scope: string): Promise<string> {
  const { challenge } = await pkce();
  const res = await auth.fetch(
    `/authorize?${new URLSearchParams(authorizationParams(clientId, REDIRECT, challenge, { scope }))}`,
    {
      redirect: "manual",
    },
  );
  const location = new URL(res.headers.get("Location") ?? "", auth.url);
  if (location.pathname === "/login") return "login";
  return location.searchParams.get("error") ?? `${res.status} ${location}`;
}

describe("discovery", () => {
  it("lists offline_access in scopes_supported, so MCP clients know they may ask for it", async () => {
    const metadata = (await (await auth.fetch("/.well-known/oauth-authorization-server")).json()) as {
      scopes_supported: string[];
    };
    expect(metadata.scopes_supported).toContain("offline_access");
  });
});

describe("a client that registered the refresh_token grant", () => {
  it("gets a refresh token without asking for offline_access (OAuth 2.1; clients of the 2025 revisions never ask)", async () => {
    const tokens = await codeFlow(refresher.clientId, "tools:read");
    expect(tokens.refresh_token).toEqual(expect.any(String));
    expect(tokens.scope).toBe("tools:read");
  });

  it("gets a refresh token that works when it asks for offline_access with prompt=consent, as the v2 MCP SDK does", async () => {
    const tokens = await codeFlow(refresher.clientId, "tools:read offline_access", { prompt: "consent" });
    expect(tokens.refresh_token).toEqual(expect.any(String));
    expect(tokens.scope!.split(" ").sort()).toEqual(["offline_access", "tools:read"]);
    const refreshed = await auth.fetch(
      "/token",
      postForm({ grant_type: "refresh_token", client_id: refresher.clientId, refresh_token: tokens.refresh_token! }),
    );
    expect(refreshed.status).toBe(200);
    const body = (await refreshed.json()) as TokenAnswer;
    expect(body.refresh_token).toEqual(expect.any(String));
    expect(decodeJwt(body.access_token).scope).toContain("tools:read");
  });
});

describe("attacks", () => {
  it("ignores offline_access from a client without the refresh_token grant: no refresh token, and the granted scope says so", async () => {
    const tokens = await codeFlow(codeOnly.clientId, "tools:read offline_access");
    expect(tokens.refresh_token).toBeUndefined();
    expect(tokens.scope).toBe("tools:read");
    expect(decodeJwt(tokens.access_token).scope).toBe("tools:read");
  });

  it("refuses offline_access in a grant without a user (client credentials)", async () => {
    const res = await auth.fetch(
      "/token",
      postForm(
        { grant_type: "client_credentials", scope: "tools:read offline_access" },
        { Authorization: `Basic ${btoa(`${machine.client.clientId}:${machine.client.secret}`)}` },
      ),
    );
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe("invalid_scope");
  });

  it.each([
    ["a tab instead of a space", "tools:read\toffline_access"],
    ["a quote inside a scope", 'tools:read"'],
    ["a NUL byte", "tools:read\u0000"],
    ["a scope that only looks like one", "offline_access:write"],
    ["a scope this client may not have", "tools:write offline_access"],
  ])("answers a scope with %s with invalid_scope at the client's redirect URI", async (_, scope) => {
    expect(await authorizationAnswer(refresher.clientId, scope)).toBe("invalid_scope");
  });

  it("treats repeated and padded scopes as the set they name", async () => {
    const tokens = await codeFlow(refresher.clientId, "  offline_access tools:read  offline_access ");
    expect(tokens.scope!.split(" ").sort()).toEqual(["offline_access", "tools:read"]);
  });
});
