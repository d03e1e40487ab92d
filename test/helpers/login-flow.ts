// Drives /authorize → login → consent over plain HTTP the way a browser would (redirects
// followed by hand, cookies kept in a jar), so tests can obtain codes without a browser.
// The real-browser path is covered separately with Chromium.
import { expect } from "vitest";
import { authorizationParams, pkce } from "./authorization-request.js";
import type { RunningWorker } from "./workers.js";

export class CookieJar {
  private readonly cookies = new Map<string, string>();

  store(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(";");
      const eq = pair!.indexOf("=");
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const expired = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a)) || value === "";
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  get(name: string): string | undefined {
    return this.cookies.get(name);
  }

  header(): string {
    return [...this.cookies].map(([n, v]) => `${n}=${v}`).join("; ");
  }
}

export interface Step {
  res: Response;
  body: string;
  location?: URL;
}

/** One request with the jar's cookies, no redirect following. */
export async function step(
  worker: RunningWorker,
  jar: CookieJar,
  pathOrUrl: string,
  init: RequestInit = {},
): Promise<Step> {
  const url = pathOrUrl.startsWith("http") ? pathOrUrl : worker.url + pathOrUrl;
  const res = await fetch(url, {
    ...init,
    redirect: "manual",
    headers: { ...(init.headers as Record<string, string>), Cookie: jar.header() },
  });
  jar.store(res);
  const body = await res.text();
  const location = res.headers.get("Location");
  return { res, body, ...(location ? { location: new URL(location, url) } : {}) };
}

export function hiddenField(html: string, name: string): string {
  const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  if (!match) throw new Error(`no hidden field ${name} in page:\n${html.slice(0, 500)}`);
  return match[1]!;
}

export function postForm(fields: Record<string, string>, extraHeaders: Record<string, string> = {}): RequestInit {
  return {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", ...extraHeaders },
    body: new URLSearchParams(fields).toString(),
  };
}

export interface AuthorizeOutcome {
  /** Where the provider finally sent the browser (the client's redirect URI with code or error). */
  redirect: URL;
  jar: CookieJar;
}

/**
 * Follows an authorization request through login (when needed) and consent (allow), and
 * returns the final redirect to the client.
 */
export async function authorize(
  auth: RunningWorker,
  params: Record<string, string>,
  user: { username: string; password: string },
  jar = new CookieJar(),
): Promise<AuthorizeOutcome> {
  let current = await step(auth, jar, `/authorize?${new URLSearchParams(params)}`);
  for (let hops = 0; hops < 6; hops++) {
    const location = current.location;
    if (!location) throw new Error(`expected a redirect, got ${current.res.status}: ${current.body.slice(0, 300)}`);
    if (location.origin !== auth.url) return { redirect: location, jar };
    const page = await step(auth, jar, location.pathname + location.search);
    if (location.pathname === "/login") {
      current = await step(
        auth,
        jar,
        "/login",
        postForm({
          interaction: hiddenField(page.body, "interaction"),
          csrf: hiddenField(page.body, "csrf"),
          username: user.username,
          password: user.password,
        }),
      );
    } else if (location.pathname === "/consent") {
      current = await step(
        auth,
        jar,
        "/consent",
        postForm({
          interaction: hiddenField(page.body, "interaction"),
          csrf: hiddenField(page.body, "csrf"),
          decision: "allow",
        }),
      );
    } else {
      current = page;
    }
  }
  throw new Error("too many redirects");
}

/** What the token endpoint answers a redeemed code (the ID token with `openid`, the refresh token where allowed). */
export interface RedeemedCode {
  access_token: string;
  refresh_token: string;
  id_token: string;
}

/**
 * A public client's whole code flow (PKCE): `user` authorizes `clientId` in the browser `jar`
 * (signing in when needed), and the client redeems the code at the token endpoint.
 */
export async function authorizeAndRedeem(
  auth: RunningWorker,
  client: { clientId: string; redirectUri: string; scope: string },
  user: { username: string; password: string },
  jar = new CookieJar(),
): Promise<{ jar: CookieJar; tokens: RedeemedCode }> {
  const { verifier, challenge } = await pkce();
  const { redirect } = await authorize(
    auth,
    authorizationParams(client.clientId, client.redirectUri, challenge, { scope: client.scope }),
    user,
    jar,
  );
  const code = redirect.searchParams.get("code");
  expect(code, redirect.toString()).toBeTruthy();
  const res = await auth.fetch(
    "/token",
    postForm({
      grant_type: "authorization_code",
      client_id: client.clientId,
      code: code!,
      redirect_uri: client.redirectUri,
      code_verifier: verifier,
    }),
  );
  expect(res.status).toBe(200);
  return { jar, tokens: (await res.json()) as RedeemedCode };
}
