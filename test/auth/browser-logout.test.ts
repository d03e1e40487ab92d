// Signing out in a real browser (Chromium): a client's page on another site posts the logout
// request (RP-Initiated Logout 1.0 §2, form serialization) and the session cookie, withheld from
// that cross-site POST, still reaches the provider; and the confirmation page works under the
// pages' Content-Security-Policy. The next authorization asks for sign-in again.
import { createHash } from "node:crypto";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALICE, authConfig } from "../helpers/auth-config.js";
import { authorizationParams, pkce } from "../helpers/authorization-request.js";
import {
  launchChromium,
  startOtherSite,
  startRedirectTarget,
  type OtherSite,
  type RedirectTarget,
} from "../helpers/browser.js";
import { postForm } from "../helpers/login-flow.js";
import { sharedStore } from "../helpers/tokens.js";
import { startAuthWorker, type RunningWorker } from "../helpers/workers.js";

const COOKIE = "maverics_session";

let auth: RunningWorker;
let browser: Browser;
let target: RedirectTarget;
/** The client's own site, on another host than the provider (localhost, not 127.0.0.1): cross-site. */
let clientSite: OtherSite;

const app = () => ({
  name: "Web App",
  clientId: "web-app",
  tokenEndpointAuthMethod: "none",
  redirectUris: [target.url],
  postLogoutRedirectUris: [`${target.url}?signed-out=1`],
  scopes: ["tools:read"],
  skipConsent: true,
});

beforeAll(async () => {
  [browser, target] = await Promise.all([launchChromium(), startRedirectTarget()]);
  auth = await startAuthWorker({
    config: (url) => authConfig(url, { apps: [app()], login: { users: [ALICE.config] } }),
  });
  clientSite = await startOtherSite();
});
afterAll(async () => {
  await browser?.close();
  await target?.close();
  await clientSite?.close();
  await auth?.dispose();
});

/** Signs ALICE in through the web app in `context`, and redeems the code for her ID token. */
async function signIn(page: Page): Promise<string> {
  const { verifier, challenge } = await pkce();
  await page.goto(
    `${auth.url}/authorize?${new URLSearchParams(authorizationParams("web-app", target.url, challenge, { scope: "openid profile" }))}`,
  );
  await page.getByLabel("Username").fill(ALICE.username);
  await page.getByLabel("Password").fill(ALICE.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((url) => url.href.startsWith(target.url));
  const code = new URL(page.url()).searchParams.get("code")!;
  const res = await auth.fetch(
    "/token",
    postForm({
      grant_type: "authorization_code",
      client_id: "web-app",
      code,
      redirect_uri: target.url,
      code_verifier: verifier,
    }),
  );
  return ((await res.json()) as { id_token: string }).id_token;
}

/** Where a new authorization in this browser stops: the login page when signed out. */
async function asksForSignIn(page: Page): Promise<boolean> {
  const { challenge } = await pkce();
  await page.goto(
    `${auth.url}/authorize?${new URLSearchParams(authorizationParams("web-app", target.url, challenge))}`,
  );
  return new URL(page.url()).pathname === "/login";
}

async function sessionCookie(context: BrowserContext) {
  return (await context.cookies(auth.url)).find((c) => c.name === COOKIE);
}

describe("signing out in the browser", () => {
  it("ends the session from the client's own site by a form POST, and returns to its registered URI with state", async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const idToken = await signIn(page);
      const sid = createHash("sha256")
        .update((await sessionCookie(context))!.value)
        .digest("base64url");
      expect(await sharedStore().getSession(sid)).not.toBeNull();
      const postLogout = `${target.url}?signed-out=1`;
      clientSite.page = `<!doctype html><html lang="en"><title>Web App</title>
<form method="post" action="${auth.url}/logout">
<input type="hidden" name="id_token_hint" value="${idToken}">
<input type="hidden" name="post_logout_redirect_uri" value="${postLogout}">
<input type="hidden" name="state" value="bye-1">
<button type="submit">Sign out</button></form></html>`;
      await page.goto(clientSite.url);
      await page.getByRole("button", { name: "Sign out" }).click();
      await page.waitForURL((url) => url.href.startsWith(postLogout));
      expect(new URL(page.url()).searchParams.get("state")).toBe("bye-1");
      // The record went too, so the cookie really came along with the request.
      expect(await sharedStore().getSession(sid)).toBeNull();
      expect(await sessionCookie(context)).toBeUndefined();
      expect(await asksForSignIn(page)).toBe(true);
    } finally {
      await context.close();
    }
  });

  it("asks the person first when the request carries no id_token_hint, and signs out when they confirm", async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const violations: string[] = [];
      page.on("console", (message) => {
        if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
      });
      await signIn(page);
      await page.goto(`${auth.url}/logout?client_id=web-app`);
      await page.getByRole("heading", { name: "Sign out?" }).waitFor();
      expect(await page.locator("main").innerText()).toContain("Web App asks to sign you out");
      await page.getByRole("button", { name: "Sign out" }).click();
      await page.getByRole("heading", { name: "You are signed out" }).waitFor();
      expect(violations).toEqual([]);
      expect(await sessionCookie(context)).toBeUndefined();
      expect(await asksForSignIn(page)).toBe(true);
    } finally {
      await context.close();
    }
  });
});
