// Attack: a self-registered client (RFC 7591) calls itself "Acme Corporate SSO" and the consent
// page shows that name as if the provider vouched for it. Its name is self-asserted: the page
// shows where the code will be sent (the redirect URI's host) and says the application is
// unverified, as it does for metadata-document clients; configured clients keep a plain page.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALICE, authConfig, GATEWAY_RESOURCE } from "../helpers/auth-config.js";
import { CookieJar, hiddenField, postForm, step } from "../helpers/login-flow.js";
import { startAuthWorker, type RunningWorker } from "../helpers/workers.js";

const REDIRECT = "https://evil.example:8443/callback";
const FIRST_PARTY_REDIRECT = "https://app.example.com/callback";
const firstParty = {
  name: "Example Console",
  clientId: "console",
  tokenEndpointAuthMethod: "none",
  redirectUris: [FIRST_PARTY_REDIRECT],
  scopes: ["tools:read"],
};

let auth: RunningWorker;

beforeAll(async () => {
  auth = await startAuthWorker({
    config: (url) =>
      authConfig(url, {
        login: { users: [ALICE.config] },
        apps: [firstParty],
        rateLimits: { registration: { limit: 1000 } },
      }),
  });
});
afterAll(() => auth.dispose());

/** The consent page's HTML as alice sees it for an authorization request by `clientId`. */
async function consentPage(clientId: string, redirectUri: string): Promise<string> {
  const jar = new CookieJar();
  const params = {
    client_id: clientId,
    redirect_uri: redirectUri,
    response_type: "code",
    scope: "openid",
    resource: GATEWAY_RESOURCE,
    code_challenge: "x".repeat(43),
    code_challenge_method: "S256",
  };
  const toLogin = await step(auth, jar, `/authorize?${new URLSearchParams(params)}`);
  expect(toLogin.location?.pathname).toBe("/login");
  const login = await step(auth, jar, toLogin.location!.pathname + toLogin.location!.search);
  const toConsent = await step(
    auth,
    jar,
    "/login",
    postForm({
      interaction: hiddenField(login.body, "interaction"),
      csrf: hiddenField(login.body, "csrf"),
      username: ALICE.username,
      password: ALICE.password,
    }),
  );
  expect(toConsent.location?.pathname).toBe("/consent");
  const consent = await step(auth, jar, toConsent.location!.pathname + toConsent.location!.search);
  expect(consent.res.status).toBe(200);
  return consent.body;
}

describe("the consent page for a self-registered client", () => {
  it("shows the redirect host beside the name the client gave itself, and an unverified-application notice", async () => {
    const res = await auth.fetch("/register", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ client_name: "Acme Corporate SSO", redirect_uris: [REDIRECT] }),
    });
    expect(res.status).toBe(201);
    const { client_id } = (await res.json()) as { client_id: string };
    const page = await consentPage(client_id, REDIRECT);
    expect(page).toContain("<h1>Allow Acme Corporate SSO from evil.example:8443 to act for you?</h1>");
    expect(page).toMatch(/<p class="notice"[^>]*>.*Unverified application/s);
    expect(page).toContain("<strong>evil.example:8443</strong>");
  });

  it("shows a configured client without the notice", async () => {
    const page = await consentPage(firstParty.clientId, FIRST_PARTY_REDIRECT);
    expect(page).toContain("<h1>Allow Example Console to act for you?</h1>");
    expect(page).not.toContain("Unverified application");
  });
});
