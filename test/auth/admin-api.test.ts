// The admin API against the real auth tier (docs/auth/grants-and-admin.md): only an operator's
// bearer token opens it (no credential, a wrong one, a user's or an agent's own token: 401 with
// a Bearer challenge); an operator lists a person's grants, revokes one, every grant of a person,
// or every token of a client, and each action is a log line naming operator, action and target.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authConfig, confidentialClient, GATEWAY_RESOURCE } from "../helpers/auth-config.js";
import { oauthError, postForm } from "../helpers/oauth-requests.js";
import { seedRefreshFamily } from "../helpers/refresh-family.js";
import { signAccessToken } from "../helpers/tokens.js";
import { startAuthWorker, type RunningWorker } from "../helpers/workers.js";

const OPERATOR_TOKEN = randomBytes(32).toString("base64url");
const operator = { name: "oncall", token: { env: "ADMIN_SECRET_ONCALL" } };
const resourceServer = confidentialClient("resource-server", { introspection: true });
const app = confidentialClient("app");
const other = confidentialClient("other-app");
const agent = confidentialClient("agent", { grantTypes: ["client_credentials", "refresh_token"] });

let auth: RunningWorker;

beforeAll(async () => {
  auth = await startAuthWorker({
    config: (url) =>
      authConfig(url, {
        apps: [resourceServer.app, app.app, other.app, agent.app],
        admin: { operators: [operator] },
      }),
    bindings: {
      ...resourceServer.bindings,
      ...app.bindings,
      ...other.bindings,
      ...agent.bindings,
      ADMIN_SECRET_ONCALL: OPERATOR_TOKEN,
    },
  });
});
afterAll(() => auth.dispose());

function admin(method: string, path: string, credential: string | null = OPERATOR_TOKEN): Promise<Response> {
  return auth.fetch(path, { method, headers: credential === null ? {} : { Authorization: `Bearer ${credential}` } });
}

interface GrantView {
  id: string;
  client_id: string;
  client_name: string | null;
  client_kind: string;
  verified_host: string | null;
  scope: string;
  resource: string[];
  granted_at: string | null;
  last_used_at: string | null;
}

async function grantsOf(sub: string): Promise<GrantView[]> {
  const res = await admin("GET", `/admin/users/${encodeURIComponent(sub)}/grants`);
  expect(res.status).toBe(200);
  expect(res.headers.get("Cache-Control")).toBe("no-store");
  return ((await res.json()) as { grants: GrantView[] }).grants;
}

/** A person's grant to `client`, refreshed once: its current refresh token and an access token minted from it. */
async function grantTo(client: typeof app, sub: string) {
  const { refreshToken } = await seedRefreshFamily(client.client.clientId, { sub, resource: [GATEWAY_RESOURCE] });
  const res = await postForm(
    auth,
    "/token",
    { grant_type: "refresh_token", refresh_token: refreshToken },
    client.client,
  );
  expect(res.status).toBe(200);
  const body = (await res.json()) as { access_token: string; refresh_token: string };
  return { accessToken: body.access_token, refreshToken: body.refresh_token };
}

async function isActive(token: string): Promise<boolean> {
  const res = await postForm(auth, "/introspect", { token }, resourceServer.client);
  return ((await res.json()) as { active: boolean }).active;
}

const refresh = (client: typeof app, refreshToken: string) =>
  postForm(auth, "/token", { grant_type: "refresh_token", refresh_token: refreshToken }, client.client);

async function machineToken(): Promise<string> {
  const res = await postForm(
    auth,
    "/token",
    { grant_type: "client_credentials", resource: GATEWAY_RESOURCE },
    agent.client,
  );
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

const newPerson = () => `person-${randomBytes(6).toString("base64url")}`;

describe("who may use the admin API", () => {
  it("asks for a bearer credential when none is presented", async () => {
    const res = await admin("GET", "/admin/users/alice/grants", null);
    expect(await oauthError(res)).toEqual({ status: 401, error: "invalid_token", challenge: 'Bearer realm="admin"' });
  });

  it("refuses a wrong operator token, a user's access token and a client's own secret", async () => {
    const userToken = await signAccessToken(auth.url, { sub: "alice", client_id: "app", aud: GATEWAY_RESOURCE });
    for (const credential of [
      randomBytes(32).toString("base64url"),
      userToken,
      app.client.secret,
      `${OPERATOR_TOKEN}x`,
    ]) {
      const res = await admin("DELETE", "/admin/clients/app/tokens", credential);
      const { status, error, challenge } = await oauthError(res);
      expect({ status, error }).toEqual({ status: 401, error: "invalid_token" });
      expect(challenge).toMatch(/^Bearer realm="admin", error="invalid_token"/);
    }
    // Basic with the operator's token as password is not the admin credential either.
    const basic = await auth.fetch("/admin/users/alice/grants", {
      headers: { Authorization: `Basic ${btoa(`oncall:${OPERATOR_TOKEN}`)}` },
    });
    expect(basic.status).toBe(401);
    expect(auth.output()).toMatch(/"event":"admin\.unauthorized"/);
  });

  it("is off, as an unknown path, when no operator is configured", async () => {
    const plain = await startAuthWorker({ config: (url) => authConfig(url) });
    try {
      const res = await plain.fetch("/admin/users/alice/grants", {
        headers: { Authorization: `Bearer ${OPERATOR_TOKEN}` },
      });
      expect(res.status).toBe(404);
      expect(((await res.json()) as { error: string }).error).toBe("invalid_request");
    } finally {
      await plain.dispose();
    }
  });

  it("refuses to start with a guessable operator token, naming the setting and never the value", async () => {
    const weak = await startAuthWorker({
      config: (url) => authConfig(url, { admin: { operators: [operator] } }),
      bindings: { ADMIN_SECRET_ONCALL: "hunter2" },
    });
    try {
      const res = await weak.fetch("/admin/users/alice/grants", { headers: { Authorization: "Bearer hunter2" } });
      expect(res.status).toBe(500);
      const body = await res.text();
      expect(body).toContain("oidcProvider.admin.operators.0.token.env");
      expect(body).not.toContain("hunter2");
    } finally {
      await weak.dispose();
    }
  });
});

describe("an operator's levers", () => {
  it("lists a person's grants with client, scopes, resources, when granted and when last used", async () => {
    const sub = newPerson();
    await grantTo(app, sub);
    await seedRefreshFamily(other.client.clientId, { sub, scope: "openid" });
    const grants = await grantsOf(sub);
    expect(grants).toHaveLength(2);
    const used = grants.find((grant) => grant.client_id === "app")!;
    expect(used).toMatchObject({
      client_name: "app",
      client_kind: "configured",
      verified_host: null,
      scope: "openid tools:read",
      resource: [GATEWAY_RESOURCE],
    });
    expect(Date.parse(used.granted_at!)).toBeLessThanOrEqual(Date.parse(used.last_used_at!));
    expect(grants.find((grant) => grant.client_id === "other-app")!.last_used_at).toBeNull();
    expect(auth.output()).toMatch(
      new RegExp(`"event":"admin\\.action".*"operator":"oncall","action":"list_grants","target":\\{"sub":"${sub}"\\}`),
    );
  });

  it("never shows a grant's family id, which is half of its refresh tokens", async () => {
    const sub = newPerson();
    const { familyId } = await seedRefreshFamily(app.client.clientId, { sub });
    const res = await admin("GET", `/admin/users/${sub}/grants`);
    expect(await res.text()).not.toContain(familyId);
  });

  it("revokes one grant: its refresh token and access tokens stop, the person's others go on", async () => {
    const sub = newPerson();
    const revoked = await grantTo(app, sub);
    const kept = await grantTo(other, sub);
    const target = (await grantsOf(sub)).find((grant) => grant.client_id === "app")!;

    expect((await admin("DELETE", `/admin/users/${sub}/grants/${target.id}`)).status).toBe(204);
    expect(await isActive(revoked.accessToken)).toBe(false);
    expect((await oauthError(await refresh(app, revoked.refreshToken))).error).toBe("invalid_grant");
    expect(await isActive(kept.accessToken)).toBe(true);
    expect((await grantsOf(sub)).map((grant) => grant.client_id)).toEqual(["other-app"]);
    expect(auth.output()).toContain(`"action":"revoke_grant","target":{"sub":"${sub}","grant":"${target.id}"}`);
  });

  it("answers 404 for a grant the person does not have, another person's included", async () => {
    const [sub, stranger] = [newPerson(), newPerson()];
    await grantTo(app, stranger);
    const theirs = (await grantsOf(stranger))[0]!;
    expect((await admin("DELETE", `/admin/users/${sub}/grants/${theirs.id}`)).status).toBe(404);
    expect((await admin("DELETE", `/admin/users/${sub}/grants/nothing`)).status).toBe(404);
    expect(await grantsOf(stranger)).toHaveLength(1);
  });

  it("revokes every grant of a person, and access tokens issued to them without a refresh token", async () => {
    const sub = newPerson();
    const [first, second] = [await grantTo(app, sub), await grantTo(other, sub)];
    const bystander = await grantTo(app, newPerson());
    const standalone = await signAccessToken(auth.url, {
      sub,
      client_id: "app",
      aud: GATEWAY_RESOURCE,
      scope: "openid",
    });

    const res = await admin("DELETE", `/admin/users/${sub}/grants`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ sub, grants_revoked: 2 });
    for (const token of [first.accessToken, second.accessToken, standalone]) expect(await isActive(token)).toBe(false);
    expect((await oauthError(await refresh(other, second.refreshToken))).error).toBe("invalid_grant");
    const userinfo = await auth.fetch("/userinfo", { headers: { Authorization: `Bearer ${standalone}` } });
    expect(userinfo.status).toBe(401);
    expect(await grantsOf(sub)).toEqual([]);
    expect(await isActive(bystander.accessToken)).toBe(true);
  });

  it("revokes every token of a client: machine tokens, user grants and their access tokens, nobody else's", async () => {
    const machine = await machineToken();
    const sub = newPerson();
    const user = await grantTo(agent, sub);
    const bystander = await grantTo(app, sub);
    expect(await isActive(machine)).toBe(true);

    const res = await admin("DELETE", "/admin/clients/agent/tokens");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ client_id: "agent" });
    expect(await isActive(machine)).toBe(false);
    expect(await isActive(user.accessToken)).toBe(false);
    expect((await oauthError(await refresh(agent, user.refreshToken))).error).toBe("invalid_grant");
    expect(await grantsOf(sub)).toMatchObject([{ client_id: "app" }]);
    expect(await isActive(bystander.accessToken)).toBe(true);
    expect(auth.output()).toContain('"operator":"oncall","action":"revoke_client","target":{"client_id":"agent"}');

    // A metadata-document client is named by its URL, percent-encoded as one path segment.
    const url = "https://agent.example/client.json";
    const byUrl = await admin("DELETE", `/admin/clients/${encodeURIComponent(url)}/tokens`);
    expect(byUrl.status).toBe(200);
    expect(await byUrl.json()).toMatchObject({ client_id: url, grants_revoked: 0 });

    // Tokens issued after the revocation's second work again: the client itself was not removed.
    const deadline = Date.now() + 5_000;
    let fresh = await machineToken();
    while (!(await isActive(fresh)) && Date.now() < deadline) fresh = await machineToken();
    expect(await isActive(fresh)).toBe(true);
  });
});
