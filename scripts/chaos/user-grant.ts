// A user's refresh-token grant held through the drills: a public client registered dynamically
// (RFC 7591), the demo user signed in over plain HTTP the way a browser would (login and consent
// forms, cookies kept by hand, redirects read rather than followed; PKCE, RFC 7636), then refreshed
// during each fault as a careful client does: with a short deadline, and on a timeout or a 503 the
// same refresh token again (OAuth 2.1 §4.3: the client keeps the token until it has a new one). A
// fault must cost that client a retry, never the grant (docs/reliability/store-faults.md, the
// refresh retry window); an `invalid_grant` answer means the grant was revoked.
import { calculatePKCECodeChallenge, generateRandomCodeVerifier } from "oauth4webapi";
import type { DevStackInfo } from "../dev-stack.js";

export interface RefreshOutcome {
  /** The grant still stands (a refresh succeeded before the deadline). */
  alive: boolean;
  /** The tier answered invalid_grant: the grant is gone. */
  revoked: boolean;
  /** Refresh attempts made, and what the failed ones got. */
  attempts: number;
  failures: string[];
}

export interface UserGrant {
  /** Refreshes until one succeeds, the grant is refused, `deadlineMs` passes or `worthTrying` says no. */
  refresh(deadlineMs: number, worthTrying?: () => boolean): Promise<RefreshOutcome>;
  /**
   * Registers again and signs the user in again: a new grant. After a store loss, re-authentication
   * is the design, and a dynamically registered client is gone with the data too.
   */
  signIn(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

class Cookies {
  private readonly jar = new Map<string, string>();
  keep(res: Response) {
    for (const line of res.headers.getSetCookie()) {
      const pair = line.split(";")[0]!;
      const eq = pair.indexOf("=");
      this.jar.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
  }
  header = () => [...this.jar].map(([name, value]) => `${name}=${value}`).join("; ");
}

function hidden(html: string, name: string): string {
  const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  if (!match) throw new Error(`the sign-in page has no field ${name}`);
  return match[1]!;
}

export async function startUserGrant(info: DevStackInfo): Promise<UserGrant> {
  const redirectUri = `${info.agentOrigin}/callback`;
  let clientId = "";
  let refreshToken = "";

  async function signIn(): Promise<void> {
    const registered = await fetch(`${info.auth}/register`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        client_name: "chaos drill user agent",
        redirect_uris: [redirectUri],
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
        token_endpoint_auth_method: "none",
      }),
      signal: AbortSignal.timeout(10_000),
    });
    const client = (await registered.json()) as { client_id?: string };
    if (!registered.ok || !client.client_id) throw new Error(`dynamic registration failed: ${registered.status}`);
    clientId = client.client_id;
    const cookies = new Cookies();
    const go = async (url: string, init: RequestInit = {}) => {
      const res = await fetch(url, {
        ...init,
        redirect: "manual",
        headers: { ...(init.headers as Record<string, string>), Cookie: cookies.header() },
        signal: AbortSignal.timeout(10_000),
      });
      cookies.keep(res);
      const location = res.headers.get("Location");
      return { res, body: await res.text(), location: location ? new URL(location, url) : undefined };
    };
    const form = (fields: Record<string, string>): RequestInit => ({
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(fields).toString(),
    });
    const verifier = generateRandomCodeVerifier();
    const params = new URLSearchParams({
      response_type: "code",
      client_id: clientId,
      redirect_uri: redirectUri,
      scope: "tools:read",
      state: "chaos",
      code_challenge: await calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      resource: info.mcp,
    });
    let step = await go(`${info.auth}/authorize?${params}`);
    for (let hops = 0; hops < 6 && step.location?.origin === info.auth; hops++) {
      const page = await go(step.location.href);
      const fields = { interaction: hidden(page.body, "interaction"), csrf: hidden(page.body, "csrf") };
      if (step.location.pathname === "/login") step = await go(`${info.auth}/login`, form({ ...fields, ...info.user }));
      else if (step.location.pathname === "/consent")
        step = await go(`${info.auth}/consent`, form({ ...fields, decision: "allow" }));
      else step = page;
    }
    const code = step.location?.searchParams.get("code");
    if (!code)
      throw new Error(
        `sign-in ended without a code (${step.res.status}${step.location ? ` at ${step.location.pathname}` : ""})`,
      );
    const res = await fetch(`${info.auth}/token`, {
      ...form({
        grant_type: "authorization_code",
        code,
        redirect_uri: redirectUri,
        client_id: clientId,
        code_verifier: verifier,
        resource: info.mcp,
      }),
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await res.json()) as { refresh_token?: string; error?: string };
    if (!body.refresh_token) throw new Error(`the code brought no refresh token: ${res.status} ${body.error ?? ""}`);
    refreshToken = body.refresh_token;
  }

  async function refresh(deadlineMs: number, worthTrying = () => true): Promise<RefreshOutcome> {
    const deadline = Date.now() + deadlineMs;
    const failures: string[] = [];
    let attempts = 0;
    while (Date.now() < deadline && worthTrying()) {
      attempts += 1;
      try {
        // A client that gives up after 2 s: during a stall its request may still complete server-side.
        const res = await fetch(`${info.auth}/token`, {
          method: "POST",
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({
            grant_type: "refresh_token",
            refresh_token: refreshToken,
            client_id: clientId,
          }).toString(),
          signal: AbortSignal.timeout(2_000),
        });
        const body = (await res.json().catch(() => ({}))) as { refresh_token?: string; error?: string };
        if (res.ok && body.refresh_token) {
          refreshToken = body.refresh_token;
          return { alive: true, revoked: false, attempts, failures };
        }
        failures.push(`HTTP ${res.status}${body.error ? ` ${body.error}` : ""}`);
        // Any refusal but "later" (429, 5xx) is final: invalid_grant is a revoked grant.
        if (res.status < 500 && res.status !== 429)
          return { alive: false, revoked: body.error === "invalid_grant", attempts, failures };
      } catch (err) {
        failures.push((err as Error).name === "TimeoutError" ? "timeout" : "connection failed");
      }
      await sleep(500);
    }
    return { alive: false, revoked: false, attempts, failures };
  }

  await signIn();
  return { refresh, signIn };
}
