// "Connected agents" at /account/agents against the real auth tier over HTTP
// (docs/auth/connected-agents.md): a person signs in for the page alone and comes back to it,
// sees each grant they gave (a self-registered client's name escaped and marked unverified), and
// revokes one, which ends its refresh token and its access token at once. What an attacker tries
// is refused: another person's grant, a form without or with a wrong CSRF token, a cross-site post;
// and a refresh racing the revocation keeps nothing of the grant alive.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALICE, authConfig, confidentialClient, GATEWAY_RESOURCE } from "../helpers/auth-config.js";
import { authorizeAndRedeem, CookieJar, hiddenField, postForm, step, type Step } from "../helpers/login-flow.js";
import { postForm as postClientForm } from "../helpers/oauth-requests.js";
import { startAuthWorker, type RunningWorker } from "../helpers/workers.js";

const REDIRECT = "http://127.0.0.1:9/callback";
const HOSTILE_NAME = `<img src=x onerror="alert(1)">Helpful Agent`;
const resourceServer = confidentialClient("resource-server", { introspection: true });

/** A person of their own (ALICE's password), so grants of parallel test files never show here. */
function person(name: string) {
  const username = `${name}-${randomBytes(4).toString("hex")}`;
  return { username, password: ALICE.password, config: { ...ALICE.config, username, claims: {} } };
}
const alice = person("alice");
const mallory = person("mallory");

let auth: RunningWorker;
let agentId: string;

beforeAll(async () => {
  auth = await startAuthWorker({
    config: (url) => authConfig(url, { apps: [resourceServer.app], login: { users: [alice.config, mallory.config] } }),
    bindings: resourceServer.bindings,
  });
  // A self-registered public client (RFC 7591) whose name is markup.
  const res = await auth.fetch("/register", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      client_name: HOSTILE_NAME,
      redirect_uris: [REDIRECT],
      grant_types: ["authorization_code", "refresh_token"],
      token_endpoint_auth_method: "none",
    }),
  });
  expect(res.status).toBe(201);
  agentId = ((await res.json()) as { client_id: string }).client_id;
});
afterAll(() => auth.dispose());

interface Granted {
  jar: CookieJar;
  accessToken: string;
  refreshToken: string;
}

/** `who` authorizes the registered agent in the browser `jar` (signing in if needed); the agent redeems the code. */
async function grant(who: { username: string; password: string }, jar = new CookieJar()): Promise<Granted> {
  const { tokens: body } = await authorizeAndRedeem(
    auth,
    { clientId: agentId, redirectUri: REDIRECT, scope: "openid tools:read" },
    who,
    jar,
  );
  return { jar, accessToken: body.access_token, refreshToken: body.refresh_token };
}

function refresh(refreshToken: string): Promise<Response> {
  return auth.fetch(
    "/token",
    postForm({ grant_type: "refresh_token", client_id: agentId, refresh_token: refreshToken }),
  );
}

async function isActive(token: string): Promise<boolean> {
  const res = await postClientForm(auth, "/introspect", { token }, resourceServer.client);
  return ((await res.json()) as { active: boolean }).active;
}

async function agentsPage(jar: CookieJar): Promise<Step> {
  const page = await step(auth, jar, "/account/agents");
  expect(page.res.status, page.body.slice(0, 300)).toBe(200);
  return page;
}

/** The grant ids the page offers to revoke. */
const grantIds = (page: Step) => [...page.body.matchAll(/name="grant" value="([^"]*)"/g)].map((m) => m[1]!);

function revoke(jar: CookieJar, fields: Record<string, string>, origin: string | null = auth.url): Promise<Step> {
  return step(auth, jar, "/account/agents/revoke", postForm(fields, origin ? { Origin: origin } : {}));
}

describe("signing in for the page", () => {
  it("sends a browser without a session to sign in, then back to the page (a local path only)", async () => {
    const jar = new CookieJar();
    const first = await step(auth, jar, "/account/agents");
    expect(first.res.status).toBe(303);
    expect(first.location!.pathname).toBe("/login");
    const login = await step(auth, jar, first.location!.pathname + first.location!.search);
    expect(login.res.status).toBe(200);
    expect(login.body).toContain("Sign in to continue to your connected agents");
    const signedIn = await step(
      auth,
      jar,
      "/login",
      postForm(
        {
          interaction: hiddenField(login.body, "interaction"),
          csrf: hiddenField(login.body, "csrf"),
          username: alice.username,
          password: alice.password,
        },
        { Origin: auth.url },
      ),
    );
    expect(signedIn.res.status).toBe(303);
    expect(signedIn.res.headers.get("Location")).toBe("/account/agents");
    const page = await agentsPage(jar);
    expect(page.body).toContain(alice.username);
  });

  it("is no authorization: its interaction cannot be taken to the consent page", async () => {
    const jar = new CookieJar();
    const first = await step(auth, jar, "/account/agents");
    const consent = await step(auth, jar, `/consent${first.location!.search}`);
    expect(consent.res.status).toBe(400);
  });
});

describe("the list", () => {
  it("shows each grant: the client's name escaped and marked unverified, scopes, resources, granted and last used", async () => {
    const { jar, refreshToken } = await grant(alice);
    let page = await agentsPage(jar);
    expect(page.body).not.toContain("<img");
    expect(page.body).toContain("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;Helpful Agent");
    expect(page.body).toContain("<strong>Unverified</strong>");
    expect(page.body).toContain(`<code>${agentId}</code>`);
    expect(page.body).toContain("<code>tools:read</code>");
    expect(page.body).toContain(`<code>${GATEWAY_RESOURCE}</code>`);
    expect(page.body).toMatch(/<dt>Granted<\/dt>\s*<dd><time datetime="[^"]+">/);
    expect(page.body).toContain("not since it was granted");

    expect((await refresh(refreshToken)).status).toBe(200);
    page = await agentsPage(jar);
    expect(page.body).toMatch(/<dt>Last used<\/dt>\s*<dd><time datetime="[^"]+">/);
  });

  it("meets the login page's bar: never framed, no scripts, never cached", async () => {
    const { jar } = await grant(alice);
    const { res } = await agentsPage(jar);
    expect(res.headers.get("X-Frame-Options")).toBe("DENY");
    expect(res.headers.get("Content-Security-Policy")).toContain("frame-ancestors 'none'");
    expect(res.headers.get("Content-Security-Policy")).toContain("default-src 'none'");
    expect(res.headers.get("Cache-Control")).toBe("no-store");
  });
});

describe("revoking", () => {
  it("ends the grant's refresh token (invalid_grant) and its access token (inactive) at once", async () => {
    const { jar, accessToken, refreshToken } = await grant(alice);
    const before = await agentsPage(jar);
    const ids = grantIds(before);
    // The newest grant is listed first.
    const id = ids[0]!;
    expect(await isActive(accessToken)).toBe(true);

    const done = await revoke(jar, { grant: id, csrf: hiddenField(before.body, "csrf") });
    expect(done.res.status).toBe(303);
    expect(done.res.headers.get("Location")).toBe("/account/agents?revoked=1");

    const res = await refresh(refreshToken);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe("invalid_grant");
    expect(await isActive(accessToken)).toBe(false);
    const after = await step(auth, jar, "/account/agents?revoked=1");
    expect(after.body).toContain("Revoked:");
    expect(grantIds(after)).not.toContain(id);
    expect(grantIds(after)).toHaveLength(ids.length - 1);
  });

  it("racing a refresh, leaves nothing of the grant alive: whatever the refresh got is refused too", async () => {
    const { jar, accessToken, refreshToken } = await grant(alice);
    const page = await agentsPage(jar);
    const [done, refreshed] = await Promise.all([
      revoke(jar, { grant: grantIds(page)[0]!, csrf: hiddenField(page.body, "csrf") }),
      refresh(refreshToken),
    ]);
    expect(done.res.status).toBe(303);
    // The refresh either lost (invalid_grant) or won a rotation in the family the revocation ended.
    if (refreshed.status === 200) {
      const next = (await refreshed.json()) as { access_token: string; refresh_token: string };
      expect(await isActive(next.access_token)).toBe(false);
      expect((await refresh(next.refresh_token)).status).toBe(400);
    } else {
      expect(((await refreshed.json()) as { error: string }).error).toBe("invalid_grant");
    }
    expect(await isActive(accessToken)).toBe(false);
    expect((await refresh(refreshToken)).status).toBe(400);
  });

  it("refuses another person's grant (404), which lives on", async () => {
    const victim = await grant(alice);
    const id = grantIds(await agentsPage(victim.jar))[0]!;
    const attacker = await grant(mallory);
    const page = await agentsPage(attacker.jar);
    const res = await revoke(attacker.jar, { grant: id, csrf: hiddenField(page.body, "csrf") });
    expect(res.res.status).toBe(404);
    expect((await refresh(victim.refreshToken)).status).toBe(200);
  });

  it("refuses a form without the CSRF token, or with another session's (403)", async () => {
    const own = await grant(alice);
    const id = grantIds(await agentsPage(own.jar))[0]!;
    const other = await agentsPage((await grant(alice)).jar);
    expect((await revoke(own.jar, { grant: id })).res.status).toBe(403);
    expect((await revoke(own.jar, { grant: id, csrf: hiddenField(other.body, "csrf") })).res.status).toBe(403);
    expect((await revoke(own.jar, { grant: id, csrf: "" })).res.status).toBe(403);
    expect(await isActive(own.accessToken)).toBe(true);
  });

  it("refuses a post from another origin (403), even with the right token", async () => {
    const own = await grant(alice);
    const page = await agentsPage(own.jar);
    const res = await revoke(
      own.jar,
      { grant: grantIds(page)[0]!, csrf: hiddenField(page.body, "csrf") },
      "https://evil.example",
    );
    expect(res.res.status).toBe(403);
    expect(res.res.headers.get("X-Frame-Options")).toBe("DENY");
    expect(await isActive(own.accessToken)).toBe(true);
  });

  it("revokes nothing without a session: the browser is sent to the page, to sign in", async () => {
    const own = await grant(alice);
    const page = await agentsPage(own.jar);
    const res = await revoke(new CookieJar(), { grant: grantIds(page)[0]!, csrf: hiddenField(page.body, "csrf") });
    expect(res.res.status).toBe(303);
    expect(res.res.headers.get("Location")).toBe("/account/agents");
    expect(await isActive(own.accessToken)).toBe(true);
  });
});
