// Connected agents in a real browser (Chromium): the person opens /account/agents without a
// session, signs in and lands back on it; an agent they authorized is listed, and "Revoke" (a form
// under the pages' Content-Security-Policy) ends its refresh token. A page on another site that
// posts the revocation form ends nothing. A consent remembered by ticking the consent page's box is
// listed, and "Forget" makes the next authorization ask again; another site's Forget form is refused.
import { randomBytes } from "node:crypto";
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
import { startAuthWorker, type RunningWorker } from "../helpers/workers.js";

const username = `alice-${randomBytes(4).toString("hex")}`;
const person = { ...ALICE.config, username, claims: {} };

let auth: RunningWorker;
let browser: Browser;
let target: RedirectTarget;
/** Another site (localhost, not 127.0.0.1): cross-site to the provider. */
let otherSite: OtherSite;

const app = () => ({
  name: "Web Agent",
  clientId: "web-agent",
  tokenEndpointAuthMethod: "none",
  redirectUris: [target.url],
  grantTypes: ["authorization_code", "refresh_token"],
  scopes: ["tools:read"],
  skipConsent: true,
});
/** A configured client that asks for consent: its consent may be remembered. */
const deskAgent = () => ({ ...app(), name: "Desk Agent", clientId: "desk-agent", skipConsent: false });

beforeAll(async () => {
  [browser, target] = await Promise.all([launchChromium(), startRedirectTarget()]);
  auth = await startAuthWorker({
    config: (url) => authConfig(url, { apps: [app(), deskAgent()], login: { users: [person] } }),
  });
  otherSite = await startOtherSite();
});
afterAll(async () => {
  await browser?.close();
  await target?.close();
  await otherSite?.close();
  await auth?.dispose();
});

/** The agent's authorization in this (signed-in) browser; the agent redeems the code for a refresh token. */
async function authorizeAgent(page: Page): Promise<string> {
  const { verifier, challenge } = await pkce();
  await page.goto(
    `${auth.url}/authorize?${new URLSearchParams(authorizationParams("web-agent", target.url, challenge, { scope: "openid tools:read" }))}`,
  );
  await page.waitForURL((url) => url.href.startsWith(target.url));
  const code = new URL(page.url()).searchParams.get("code")!;
  const res = await auth.fetch(
    "/token",
    postForm({
      grant_type: "authorization_code",
      client_id: "web-agent",
      code,
      redirect_uri: target.url,
      code_verifier: verifier,
    }),
  );
  expect(res.status).toBe(200);
  return ((await res.json()) as { refresh_token: string }).refresh_token;
}

function refresh(refreshToken: string): Promise<Response> {
  return auth.fetch(
    "/token",
    postForm({ grant_type: "refresh_token", client_id: "web-agent", refresh_token: refreshToken }),
  );
}

/**
 * A page on another site that posts one of the page's forms (`/account/agents/<action>`) with the
 * right fields, clicked by the signed-in person: what the auth tier answered.
 */
async function postFromOtherSite(
  context: BrowserContext,
  action: "revoke" | "forget",
  fields: Record<string, string | null>,
): Promise<string> {
  const inputs = Object.entries(fields)
    .map(([name, value]) => `<input type="hidden" name="${name}" value="${value}">`)
    .join("");
  otherSite.page = `<!doctype html><html lang="en"><title>Prize</title>
<form method="post" action="${auth.url}/account/agents/${action}">${inputs}
<button type="submit">Claim prize</button></form></html>`;
  const attacker = await context.newPage();
  try {
    await attacker.goto(otherSite.url);
    await attacker.getByRole("button", { name: "Claim prize" }).click();
    await attacker.waitForURL((url) => url.href.startsWith(auth.url));
    return await attacker.locator("main").innerText();
  } finally {
    await attacker.close();
  }
}

describe("connected agents in the browser", () => {
  it("signs in for the page, lists the agent, and revokes it; another site's form revokes nothing", async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${auth.url}/account/agents`);
      expect(new URL(page.url()).pathname).toBe("/login");
      await page.getByLabel("Username").fill(username);
      await page.getByLabel("Password").fill(ALICE.password);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.waitForURL(`${auth.url}/account/agents`);
      expect(await page.locator("main").innerText()).toContain("No application can act for you.");

      let refreshToken = await authorizeAgent(page);
      await page.goto(`${auth.url}/account/agents`);
      expect(await page.getByRole("heading", { name: "Web Agent" }).count()).toBe(1);

      // A page elsewhere posts the revocation with the right fields: the provider refuses it.
      const grant = await page.locator('input[name="grant"]').getAttribute("value");
      const csrf = await page.locator('input[name="csrf"]').getAttribute("value");
      // Chromium names the other site in Origin: refused before anything else is read.
      expect(await postFromOtherSite(context, "revoke", { grant, csrf })).toContain(
        "This request did not come from this page.",
      );
      const stillGood = await refresh(refreshToken);
      expect(stillGood.status).toBe(200);
      refreshToken = ((await stillGood.json()) as { refresh_token: string }).refresh_token;

      await page.reload();
      await page.getByRole("button", { name: "Revoke" }).click();
      await page.waitForURL(`${auth.url}/account/agents?revoked=1`);
      const main = await page.locator("main").innerText();
      expect(main).toContain("Revoked: that application can no longer act for you.");
      expect(main).toContain("No application can act for you.");
      const res = await refresh(refreshToken);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toBe("invalid_grant");
    } finally {
      await context.close();
    }
  });

  it("remembers a consent only when the box is ticked, lists it, and Forget makes the next authorization ask", async () => {
    const context = await browser.newContext();
    const authorizeUrl = async () =>
      `${auth.url}/authorize?${new URLSearchParams(authorizationParams("desk-agent", target.url, (await pkce()).challenge, { scope: "openid tools:read" }))}`;
    try {
      const page = await context.newPage();
      await page.goto(await authorizeUrl());
      await page.getByLabel("Username").fill(username);
      await page.getByLabel("Password").fill(ALICE.password);
      await page.getByRole("button", { name: "Sign in" }).click();
      const box = page.getByRole("checkbox", { name: /Remember this decision/ });
      expect(await box.isChecked()).toBe(false);
      await box.check();
      await page.getByRole("button", { name: "Allow" }).click();
      await page.waitForURL((url) => url.href.startsWith(target.url));

      // Asked no more: straight back to the agent with a code.
      await page.goto(await authorizeUrl());
      await page.waitForURL((url) => url.href.startsWith(target.url));
      expect(new URL(page.url()).searchParams.get("code")).toBeTruthy();

      await page.goto(`${auth.url}/account/agents`);
      const remembered = page.locator("section.consent", { hasText: "Desk Agent" });
      expect(await remembered.count()).toBe(1);

      // Another site posts the Forget form with the right fields: refused, and still remembered.
      const consent = await remembered.locator('input[name="consent"]').getAttribute("value");
      const csrf = await remembered.locator('input[name="csrf"]').getAttribute("value");
      expect(await postFromOtherSite(context, "forget", { consent, csrf })).toContain(
        "This request did not come from this page.",
      );

      await page.reload();
      await page.locator("section.consent", { hasText: "Desk Agent" }).getByRole("button", { name: "Forget" }).click();
      await page.waitForURL(`${auth.url}/account/agents?forgotten=1`);
      expect(await page.locator("main").innerText()).toContain("Forgotten: that application will ask you again");
      await page.goto(await authorizeUrl());
      expect(await page.getByRole("button", { name: "Allow" }).count()).toBe(1);
    } finally {
      await context.close();
    }
  });
});
