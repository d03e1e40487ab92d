// The agent's whole path with a real browser for the human part: dynamic registration (RFC 7591)
// → login and consent in Chromium → code → tokens → token exchange for a tool (RFC 8693) →
// introspection by the tool's side (RFC 7662). oauth4webapi is the agent's client library.
import { decodeJwt } from "jose";
import * as oauth from "oauth4webapi";
import type { Browser, Cookie, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALICE, authConfig, confidentialClient, GATEWAY_RESOURCE } from "../helpers/auth-config.js";
import { authorizationParams, pkce } from "../helpers/authorization-request.js";
import { launchChromium, startRedirectTarget, type RedirectTarget } from "../helpers/browser.js";
import { startAuthWorker, type RunningWorker } from "../helpers/workers.js";

const TOOL_AUDIENCE = "http://tool.test/weather";
const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";
/** The gateway: a confidential client that exchanges users' tokens for tool tokens. */
const exchanger = confidentialClient("gateway-exchanger", {
  grantTypes: [TOKEN_EXCHANGE],
  allowedAudiences: [TOOL_AUDIENCE],
  introspection: true,
});

let auth: RunningWorker;
let browser: Browser;
let target: RedirectTarget;
let as: oauth.AuthorizationServer;
const options = { [oauth.allowInsecureRequests]: true };

beforeAll(async () => {
  [auth, browser, target] = await Promise.all([
    startAuthWorker({
      config: (url) => authConfig(url, { apps: [exchanger.app], login: { users: [ALICE.config] } }),
      bindings: exchanger.bindings,
    }),
    launchChromium(),
    startRedirectTarget(),
  ]);
  const issuer = new URL(auth.url);
  as = await oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, { ...options, algorithm: "oidc" }),
  );
});
afterAll(async () => {
  await browser?.close();
  await target?.close();
  await auth?.dispose();
});

/** RFC 7591: the agent registers itself as a public client with the test's redirect URI. */
async function registerAgent(): Promise<oauth.Client> {
  const res = await oauth.dynamicClientRegistrationRequest(
    as,
    {
      client_name: "Browser Agent",
      redirect_uris: [target.url],
      token_endpoint_auth_method: "none",
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
    },
    options,
  );
  return oauth.processDynamicClientRegistrationResponse(res);
}

function authorizationUrl(client: oauth.Client, challenge: string): string {
  const params = authorizationParams(client.client_id, target.url, challenge, {
    state: "browser-state",
    nonce: "browser-nonce",
  });
  return `${as.authorization_endpoint}?${new URLSearchParams(params)}`;
}

/** What an accessibility smoke check needs from a page: its language and unlabelled inputs. */
async function accessibilityFacts(page: Page) {
  return {
    title: await page.title(),
    lang: await page.locator("html").getAttribute("lang"),
    unlabelled: await page.evaluate(() =>
      Array.from(document.querySelectorAll("input:not([type=hidden]), select, textarea"))
        .filter((el) => (el as HTMLInputElement).labels?.length === 0 && !el.getAttribute("aria-label"))
        .map((el) => el.outerHTML),
    ),
  };
}

interface BrowserLogin {
  cookies: Cookie[];
  redirect: URL;
  /** URLs of every request the pages made. */
  requests: string[];
  pages: Awaited<ReturnType<typeof accessibilityFacts>>[];
  consentText: string;
  /** What the browser reported about the pages' Content-Security-Policy (nothing, if it holds). */
  violations: string[];
  /** Whether the login page's inline style applied under that policy. */
  styled: boolean;
}

/** Opens /authorize in a fresh browser profile, signs in as ALICE and allows on the consent page. */
async function signInWithBrowser(client: oauth.Client, challenge: string): Promise<BrowserLogin> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const requests: string[] = [];
    page.on("request", (request) => requests.push(request.url()));
    const violations: string[] = [];
    page.on("console", (message) => {
      if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
    });

    await page.goto(authorizationUrl(client, challenge));
    const loginFacts = await accessibilityFacts(page);
    // The browser's default body margin is 8px; the page's own stylesheet sets another.
    const styled = await page.evaluate(() => getComputedStyle(document.body).margin !== "8px");
    await page.getByLabel("Username").fill(ALICE.username);
    await page.getByLabel("Password").fill(ALICE.password);
    await page.getByRole("button", { name: "Sign in" }).click();

    // A self-registered client: named with the host its redirect URI sends the code to.
    await page
      .getByRole("heading", { name: `Allow Browser Agent from ${new URL(target.url).host} to act for you?` })
      .waitFor();
    const consentFacts = await accessibilityFacts(page);
    const consentText = await page.locator("main").innerText();
    await page.getByRole("button", { name: "Allow" }).click();

    await page.waitForURL((url) => url.href.startsWith(target.url));
    return {
      cookies: await context.cookies(auth.url),
      redirect: new URL(page.url()),
      requests,
      pages: [loginFacts, consentFacts],
      consentText,
      violations,
      styled,
    };
  } finally {
    await context.close();
  }
}

describe("an agent's first run, with a person at the browser", () => {
  let agent: oauth.Client;
  let verifier: string;
  let login: BrowserLogin;

  beforeAll(async () => {
    agent = await registerAgent();
    const pair = await pkce();
    verifier = pair.verifier;
    login = await signInWithBrowser(agent, pair.challenge);
  });

  it("registers the agent dynamically as a public client", () => {
    expect(agent).toMatchObject({
      client_id: expect.any(String),
      token_endpoint_auth_method: "none",
      redirect_uris: [target.url],
    });
  });

  it("shows the consent page with the client's name, the scopes and the resource", () => {
    for (const scope of ["openid", "profile", "email", "tools:read"]) expect(login.consentText).toContain(scope);
    expect(login.consentText).toContain(GATEWAY_RESOURCE);
    expect(login.consentText).toContain(agent.client_id);
    expect(login.consentText).toContain("Unverified application.");
  });

  it("sends the browser back to the client's redirect URI with a code, the state and iss", () => {
    expect(target.received).toHaveLength(1);
    expect(Object.fromEntries(login.redirect.searchParams)).toMatchObject({
      code: expect.any(String),
      state: "browser-state",
      iss: auth.url,
    });
  });

  it("sets the session cookie HttpOnly, Secure and SameSite=Lax", () => {
    expect(login.cookies.find((c) => c.name === "maverics_session")).toMatchObject({
      httpOnly: true,
      secure: true,
      sameSite: "Lax",
    });
  });

  it("loads nothing from elsewhere: every request before the redirect goes to the auth tier", () => {
    const toClient = login.requests.findIndex((url) => url.startsWith(target.url));
    expect(toClient).toBeGreaterThan(0);
    expect(login.requests.slice(0, toClient).filter((url) => new URL(url).origin !== auth.url)).toEqual([]);
  });

  it("runs the whole login under the pages' Content-Security-Policy without a violation, styles applied", () => {
    expect(login.violations).toEqual([]);
    expect(login.styled).toBe(true);
  });

  it("has login and consent pages that declare their language and label every input", () => {
    expect(login.pages.map((p) => p.title)).toEqual(["Sign in", "Allow access?"]);
    for (const facts of login.pages) expect(facts).toMatchObject({ lang: "en", unlabelled: [] });
  });

  it("redeems the code; the gateway exchanges the token for a tool's and introspects it", async () => {
    const params = oauth.validateAuthResponse(as, agent, login.redirect, "browser-state");
    const tokenResponse = await oauth.authorizationCodeGrantRequest(
      as,
      agent,
      oauth.None(),
      params,
      target.url,
      verifier,
      options,
    );
    const tokens = await oauth.processAuthorizationCodeResponse(as, agent, tokenResponse, {
      expectedNonce: "browser-nonce",
      requireIdToken: true,
    });
    expect(oauth.getValidatedIdTokenClaims(tokens)).toMatchObject({ sub: "alice", email: ALICE.config.claims.email });
    expect(decodeJwt(tokens.access_token)).toMatchObject({
      sub: "alice",
      aud: GATEWAY_RESOURCE,
      client_id: agent.client_id,
    });

    // RFC 8693 §2.1: the gateway, a confidential client, trades the user's token for a tool's.
    const gateway: oauth.Client = { client_id: exchanger.client.clientId };
    const gatewayAuth = oauth.ClientSecretBasic(exchanger.client.secret);
    const exchangeResponse = await oauth.genericTokenEndpointRequest(
      as,
      gateway,
      gatewayAuth,
      TOKEN_EXCHANGE,
      { subject_token: tokens.access_token, subject_token_type: ACCESS_TOKEN_TYPE, audience: TOOL_AUDIENCE },
      options,
    );
    const exchanged = await oauth.processGenericTokenEndpointResponse(as, gateway, exchangeResponse);
    expect(exchanged.issued_token_type).toBe(ACCESS_TOKEN_TYPE);
    // RFC 8693 §4.1: the agent acts for the user; the gateway that asked is the token's client.
    expect(decodeJwt(exchanged.access_token)).toMatchObject({
      sub: "alice",
      aud: TOOL_AUDIENCE,
      client_id: exchanger.client.clientId,
      act: { sub: agent.client_id },
    });

    // RFC 7662 §2.2
    const introspection = await oauth.processIntrospectionResponse(
      as,
      gateway,
      await oauth.introspectionRequest(as, gateway, gatewayAuth, exchanged.access_token, options),
    );
    expect(introspection).toMatchObject({
      active: true,
      sub: "alice",
      aud: TOOL_AUDIENCE,
      client_id: exchanger.client.clientId,
    });
  });
});
