// The person at the browser: opens the authorization request in Chromium (playwright-core drives
// the system's Chromium, CHROMIUM_PATH or /usr/bin/chromium), signs in on the auth tier's login
// page and allows on its consent page, until the browser reaches the agent's redirect URI.
import type { Browser } from "playwright-core";

export interface User {
  username: string;
  password: string;
}

/** Returns the URL the browser ended on: the redirect URI with `code`, `state` and `iss`. */
export async function signInWithBrowser(
  browser: Browser,
  authorizationUrl: URL,
  user: User,
  redirectUri: string,
): Promise<URL> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(authorizationUrl.href);
    await page.getByLabel("Username").fill(user.username);
    await page.getByLabel("Password").fill(user.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("button", { name: "Allow" }).click();
    await page.waitForURL((url) => url.href.startsWith(redirectUri));
    return new URL(page.url());
  } finally {
    await context.close();
  }
}
