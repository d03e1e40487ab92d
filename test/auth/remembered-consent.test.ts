// Remembered consent against the real auth tier over HTTP (docs/auth/connected-agents.md): the
// consent page offers an unticked "remember" box for a client someone vouches for; a remembered
// decision answers a later authorization of the same client and redirect URI asking for no more,
// until it is forgotten on the Connected agents page, its client's grant is revoked there, or the
// operator revokes everything of the person or of the client. `prompt=consent`, more scopes or
// another redirect URI ask again; a self-registered client is never remembered. What an attacker
// tries on the Forget form is refused, and a store that fails mid-way leaves nothing half-done.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRedisBridge, type RedisBridge } from "../../scripts/redis-bridge.js";
import { ALICE, authConfig, GATEWAY_RESOURCE } from "../helpers/auth-config.js";
import { authorizationParams, pkce } from "../helpers/authorization-request.js";
import { CookieJar, hiddenField, postForm, step, type Step } from "../helpers/login-flow.js";
import { REDIS_URL } from "../helpers/redis.js";
import { startStoreFaultProxy, type StoreFaultProxy } from "../helpers/store-fault-proxy.js";
import { startAuthWorker, type RunningWorker } from "../helpers/workers.js";

const REDIRECT = "http://127.0.0.1:9/callback";
const OTHER_REDIRECT = "http://127.0.0.1:9/other";
const OPERATOR_TOKEN = randomBytes(32).toString("base64url");
/** A public client the operator configured: one whose consent may be remembered. */
const DESK_AGENT = {
  name: "Desk Agent",
  clientId: "desk-agent",
  tokenEndpointAuthMethod: "none",
  redirectUris: [REDIRECT, OTHER_REDIRECT],
  scopes: ["tools:read", "tools:write"],
};

/** A person of their own (ALICE's password), so parallel test files never share their consents. */
function person(name: string) {
  const username = `${name}-${randomBytes(4).toString("hex")}`;
  return { username, password: ALICE.password, config: { ...ALICE.config, username, claims: {} } };
}
type Person = ReturnType<typeof person>;
const people = Array.from({ length: 24 }, (_, i) => person(`p${i}`));
let used = 0;
/** A person no other test has used: each starts with nothing remembered. */
const fresh = () => people[used++]!;

let bridge: RedisBridge;
let proxy: StoreFaultProxy;
let auth: RunningWorker;
let registeredId: string;

beforeAll(async () => {
  const token = randomBytes(24).toString("base64url");
  bridge = await startRedisBridge({ redisUrl: REDIS_URL, token, port: 0 });
  proxy = await startStoreFaultProxy(bridge.url);
  auth = await startAuthWorker({
    redis: { url: proxy.url, token },
    config: (url) =>
      authConfig(url, {
        apps: [DESK_AGENT],
        login: { users: people.map((p) => p.config) },
        admin: { operators: [{ name: "oncall", token: { env: "ADMIN_SECRET_ONCALL" } }] },
        cache: { operationTimeout: "1s" },
      }),
    bindings: { ADMIN_SECRET_ONCALL: OPERATOR_TOKEN },
  });
  const res = await auth.fetch("/register", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      client_name: "Self-registered Agent",
      redirect_uris: [REDIRECT],
      grant_types: ["authorization_code", "refresh_token"],
      token_endpoint_auth_method: "none",
    }),
  });
  expect(res.status).toBe(201);
  registeredId = ((await res.json()) as { client_id: string }).client_id;
});
afterAll(async () => {
  await auth?.dispose();
  await proxy?.close();
  await bridge?.close();
});

/** Where an authorization ended: on the consent page (asked), or back at the client (not asked). */
type Outcome = ({ asked: true; consent: Step } | { asked: false; redirect: URL }) & { verifier: string };

/** `who` authorizes in the browser `jar`, signing in when asked; stops at the consent page. */
async function authorizeUntilConsent(
  jar: CookieJar,
  who: Person,
  extra: Record<string, string> = {},
  clientId = DESK_AGENT.clientId,
): Promise<Outcome> {
  const { verifier, challenge } = await pkce();
  const params = authorizationParams(clientId, REDIRECT, challenge, { scope: "openid tools:read", ...extra });
  let current = await step(auth, jar, `/authorize?${new URLSearchParams(params)}`);
  for (let hops = 0; hops < 4; hops++) {
    const location = current.location;
    if (!location) throw new Error(`expected a redirect, got ${current.res.status}: ${current.body.slice(0, 300)}`);
    if (location.origin !== auth.url) return { asked: false, redirect: location, verifier };
    const page = await step(auth, jar, location.pathname + location.search);
    if (location.pathname === "/consent") return { asked: true, consent: page, verifier };
    if (location.pathname !== "/login") throw new Error(`unexpected ${location.pathname}`);
    current = await step(
      auth,
      jar,
      "/login",
      postForm(
        {
          interaction: hiddenField(page.body, "interaction"),
          csrf: hiddenField(page.body, "csrf"),
          username: who.username,
          password: who.password,
        },
        { Origin: auth.url },
      ),
    );
  }
  throw new Error("too many redirects");
}

/** Answers the consent page: allow, ticking "remember" or not. Returns the redirect to the client. */
async function allow(jar: CookieJar, consent: Step, remember: boolean): Promise<URL> {
  const fields: Record<string, string> = {
    interaction: hiddenField(consent.body, "interaction"),
    csrf: hiddenField(consent.body, "csrf"),
    decision: "allow",
    ...(remember ? { remember: "1" } : {}),
  };
  const done = await step(auth, jar, "/consent", postForm(fields, { Origin: auth.url }));
  expect(done.location?.searchParams.get("code"), done.body.slice(0, 300)).toBeTruthy();
  return done.location!;
}

/** A signed-in browser of `who` that remembered consent to the desk agent for `scope`. */
async function remembered(who: Person, scope = "openid tools:read"): Promise<CookieJar> {
  const jar = new CookieJar();
  const first = await authorizeUntilConsent(jar, who, { scope });
  expect(first.asked).toBe(true);
  if (first.asked) await allow(jar, first.consent, true);
  return jar;
}

async function agentsPage(jar: CookieJar): Promise<Step> {
  const page = await step(auth, jar, "/account/agents");
  expect(page.res.status, page.body.slice(0, 300)).toBe(200);
  return page;
}

const consentIds = (page: Step) => [...page.body.matchAll(/name="consent" value="([^"]*)"/g)].map((m) => m[1]!);

function forget(jar: CookieJar, fields: Record<string, string>, origin: string | null = auth.url): Promise<Step> {
  return step(auth, jar, "/account/agents/forget", postForm(fields, origin ? { Origin: origin } : {}));
}

const admin = (method: string, path: string) =>
  auth.fetch(path, { method, headers: { Authorization: `Bearer ${OPERATOR_TOKEN}` } });

describe("the consent page", () => {
  it("offers to remember the decision, unticked, for a client the operator configured", async () => {
    const outcome = await authorizeUntilConsent(new CookieJar(), fresh());
    if (!outcome.asked) throw new Error("expected the consent page");
    expect(outcome.consent.body).toMatch(/<input type="checkbox" name="remember" value="1" \/>/);
    expect(outcome.consent.body).toMatch(/Remember this decision for\s+30\s+day\(s\)/);
  });

  it("never offers it to a self-registered client, and ignores a forged remember=1 from one", async () => {
    const who = fresh();
    const jar = new CookieJar();
    const first = await authorizeUntilConsent(jar, who, {}, registeredId);
    if (!first.asked) throw new Error("expected the consent page");
    expect(first.consent.body).not.toContain('name="remember"');
    await allow(jar, first.consent, true);
    expect((await authorizeUntilConsent(jar, who, {}, registeredId)).asked).toBe(true);
  });
});

describe("a remembered consent", () => {
  it("is not kept unless the person ticks the box", async () => {
    const who = fresh();
    const jar = new CookieJar();
    const first = await authorizeUntilConsent(jar, who);
    if (!first.asked) throw new Error("expected the consent page");
    await allow(jar, first.consent, false);
    expect((await authorizeUntilConsent(jar, who)).asked).toBe(true);
  });

  it("answers the same request, or one asking for less, without the consent page, and prompt=none too", async () => {
    const who = fresh();
    const jar = await remembered(who, "openid tools:read tools:write");
    const again = await authorizeUntilConsent(jar, who);
    if (again.asked) throw new Error("asked again");
    expect(again.redirect.origin + again.redirect.pathname).toBe(REDIRECT);
    expect(again.redirect.searchParams.get("code")).toBeTruthy();
    expect(again.redirect.searchParams.get("state")).toBe("st-1");
    const silent = await authorizeUntilConsent(jar, who, { prompt: "none", scope: "tools:write" });
    if (silent.asked) throw new Error("asked again");
    expect(silent.redirect.searchParams.get("code")).toBeTruthy();
    expect(auth.output()).toMatch(/"event":"consent\.remembered_used"/);
  });

  it("asks again for more scopes, another redirect URI, tokens for any resource, or prompt=consent", async () => {
    const who = fresh();
    const jar = await remembered(who);
    expect((await authorizeUntilConsent(jar, who, { scope: "openid tools:read tools:write" })).asked).toBe(true);
    expect((await authorizeUntilConsent(jar, who, { redirect_uri: OTHER_REDIRECT })).asked).toBe(true);
    expect((await authorizeUntilConsent(jar, who, { prompt: "consent" })).asked).toBe(true);
    const withoutResource = authorizationParams(DESK_AGENT.clientId, REDIRECT, (await pkce()).challenge, {
      scope: "openid tools:read",
    });
    delete withoutResource.resource;
    const broader = await step(auth, jar, `/authorize?${new URLSearchParams(withoutResource)}`);
    expect(broader.location?.pathname).toBe("/consent");
    // prompt=none cannot ask: the configured client hears consent_required.
    const none = await authorizeUntilConsent(jar, who, { prompt: "none", scope: "openid tools:write" });
    if (none.asked) throw new Error("prompt=none showed the consent page");
    expect(none.redirect.searchParams.get("error")).toBe("consent_required");
    // None of this replaced what was remembered.
    expect((await authorizeUntilConsent(jar, who)).asked).toBe(false);
  });

  it("belongs to its person: another person is asked", async () => {
    await remembered(fresh());
    expect((await authorizeUntilConsent(new CookieJar(), fresh())).asked).toBe(true);
  });
});

describe("forgetting on the Connected agents page", () => {
  it("lists the remembered consent; Forget ends it, and the next authorization asks again", async () => {
    const who = fresh();
    const jar = await remembered(who);
    const page = await agentsPage(jar);
    expect(page.body).toContain("Desk Agent");
    expect(page.body).toContain(`<code>${GATEWAY_RESOURCE}</code>`);
    const [id] = consentIds(page);
    expect(id).toBeTruthy();
    const done = await forget(jar, { consent: id!, csrf: hiddenField(page.body, "csrf") });
    expect(done.res.status).toBe(303);
    expect(done.res.headers.get("Location")).toBe("/account/agents?forgotten=1");
    const after = await step(auth, jar, "/account/agents?forgotten=1");
    expect(after.body).toContain("Forgotten:");
    expect(consentIds(after)).toEqual([]);
    expect((await authorizeUntilConsent(jar, who)).asked).toBe(true);
    expect(auth.output()).toMatch(/"event":"account\.forget_consent".*"forgotten":true/);
  });

  it("refuses a form without the CSRF token, with another session's, or from another origin (403)", async () => {
    const who = fresh();
    const jar = await remembered(who);
    const page = await agentsPage(jar);
    const id = consentIds(page)[0]!;
    const other = await agentsPage(await remembered(fresh()));
    expect((await forget(jar, { consent: id })).res.status).toBe(403);
    expect((await forget(jar, { consent: id, csrf: hiddenField(other.body, "csrf") })).res.status).toBe(403);
    const crossSite = await forget(jar, { consent: id, csrf: hiddenField(page.body, "csrf") }, "https://evil.example");
    expect(crossSite.res.status).toBe(403);
    // Without a session nothing changes: the browser is sent to sign in.
    const anonymous = await forget(new CookieJar(), { consent: id, csrf: hiddenField(page.body, "csrf") });
    expect(anonymous.res.headers.get("Location")).toBe("/account/agents");
    expect((await authorizeUntilConsent(jar, who)).asked).toBe(false);
  });

  it("refuses another person's consent id (404), which lives on", async () => {
    const victim = fresh();
    const victimJar = await remembered(victim);
    const id = consentIds(await agentsPage(victimJar))[0]!;
    const attacker = await remembered(fresh());
    const page = await agentsPage(attacker);
    const res = await forget(attacker, { consent: id, csrf: hiddenField(page.body, "csrf") });
    expect(res.res.status).toBe(404);
    expect((await authorizeUntilConsent(victimJar, victim)).asked).toBe(false);
  });

  it("goes with its client's grant: an agent revoked on the page must ask again", async () => {
    const who = fresh();
    const jar = new CookieJar();
    const first = await authorizeUntilConsent(jar, who);
    if (!first.asked) throw new Error("expected the consent page");
    const redirect = await allow(jar, first.consent, true);
    const tokens = await auth.fetch(
      "/token",
      postForm({
        grant_type: "authorization_code",
        client_id: DESK_AGENT.clientId,
        code: redirect.searchParams.get("code")!,
        redirect_uri: REDIRECT,
        code_verifier: first.verifier,
      }),
    );
    expect(tokens.status).toBe(200);
    const page = await agentsPage(jar);
    expect(consentIds(page)).toHaveLength(1);
    const grant = /name="grant" value="([^"]*)"/.exec(page.body)![1]!;
    const revoked = await step(
      auth,
      jar,
      "/account/agents/revoke",
      postForm({ grant, csrf: hiddenField(page.body, "csrf") }, { Origin: auth.url }),
    );
    expect(revoked.res.status).toBe(303);
    expect(consentIds(await agentsPage(jar))).toEqual([]);
    expect((await authorizeUntilConsent(jar, who)).asked).toBe(true);
  });
});

describe("when the store fails", () => {
  it("forgetting shows an error page (503) and changes nothing; once it is back, Forget works", async () => {
    const jar = await remembered(fresh());
    const page = await agentsPage(jar);
    const id = consentIds(page)[0]!;
    proxy.set({ kind: "fail", status: 500 }, (body) => body.includes('"hdel"'));
    let failed: Step;
    try {
      failed = await forget(jar, { consent: id, csrf: hiddenField(page.body, "csrf") });
    } finally {
      proxy.set({ kind: "pass" });
    }
    expect(failed.res.status).toBe(503);
    expect(failed.res.headers.get("Content-Type")).toMatch(/^text\/html/);
    expect(failed.body).toContain("temporarily_unavailable");
    expect(consentIds(await agentsPage(jar))).toContain(id);
    expect((await forget(jar, { consent: id, csrf: hiddenField(page.body, "csrf") })).res.status).toBe(303);
  });

  it("a store that fails while remembering issues no code, and the person can answer again", async () => {
    const jar = new CookieJar();
    const first = await authorizeUntilConsent(jar, fresh());
    if (!first.asked) throw new Error("expected the consent page");
    // The remember script, whichever way the client sends it (EVALSHA, or EVAL after NOSCRIPT).
    proxy.set({ kind: "fail", status: 500 }, (body) => /"eval(sha)?"/i.test(body) && body.includes("aig:consent:"));
    let failed: Step;
    try {
      failed = await step(
        auth,
        jar,
        "/consent",
        postForm(
          {
            interaction: hiddenField(first.consent.body, "interaction"),
            csrf: hiddenField(first.consent.body, "csrf"),
            decision: "allow",
            remember: "1",
          },
          { Origin: auth.url },
        ),
      );
    } finally {
      proxy.set({ kind: "pass" });
    }
    expect(failed.res.status).toBe(503);
    expect(failed.location).toBeUndefined();
    await allow(jar, first.consent, true);
  });
});

describe("with remembering turned off (consent.rememberFor: 0s)", () => {
  it("offers no box, and what was remembered before no longer answers", async () => {
    const who = fresh();
    const jar = await remembered(who);
    const token = randomBytes(24).toString("base64url");
    const ownBridge = await startRedisBridge({ redisUrl: REDIS_URL, token, port: 0 });
    const off = await startAuthWorker({
      redis: { url: ownBridge.url, token },
      config: (url) =>
        authConfig(url, {
          apps: [DESK_AGENT],
          login: { users: people.map((p) => p.config) },
          consent: { rememberFor: "0s" },
        }),
    });
    try {
      // The same person, signed in at a tier on the same Redis that no longer remembers.
      const offJar = new CookieJar();
      const { challenge } = await pkce();
      const params = authorizationParams(DESK_AGENT.clientId, REDIRECT, challenge, { scope: "openid tools:read" });
      const start = await step(off, offJar, `/authorize?${new URLSearchParams(params)}`);
      const login = await step(off, offJar, start.location!.pathname + start.location!.search);
      const signedIn = await step(
        off,
        offJar,
        "/login",
        postForm(
          {
            interaction: hiddenField(login.body, "interaction"),
            csrf: hiddenField(login.body, "csrf"),
            username: who.username,
            password: who.password,
          },
          { Origin: off.url },
        ),
      );
      expect(signedIn.location?.pathname).toBe("/consent");
      const consent = await step(off, offJar, signedIn.location!.pathname + signedIn.location!.search);
      expect(consent.body).not.toContain('name="remember"');
    } finally {
      await off.dispose();
      await ownBridge.close();
    }
    // The tier that remembers still does.
    expect((await authorizeUntilConsent(jar, who)).asked).toBe(false);
  });
});

// Last: a client-wide revocation voids every consent to the desk agent given in its second too.
describe("the operator's revocations", () => {
  it("revoking every grant of a person forgets what they remembered", async () => {
    const who = fresh();
    const jar = await remembered(who);
    const res = await admin("DELETE", `/admin/users/${encodeURIComponent(who.username)}/grants`);
    expect(res.status).toBe(200);
    expect((await authorizeUntilConsent(jar, who)).asked).toBe(true);
  });

  it("revoking every token of a client voids every consent to it given until then", async () => {
    const who = fresh();
    const jar = await remembered(who);
    const res = await admin("DELETE", `/admin/clients/${DESK_AGENT.clientId}/tokens`);
    expect(res.status).toBe(200);
    expect((await authorizeUntilConsent(jar, who)).asked).toBe(true);
    expect(consentIds(await agentsPage(jar))).toEqual([]);
  });
});
