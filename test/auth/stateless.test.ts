// The auth tier keeps no state of its own: two runtimes with the same
// configuration and signing keys, sharing one Redis, are interchangeable. Behind a load balancer
// any request of a flow may land on either, so each step here deliberately switches instances.
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALICE, authConfig, confidentialClient, GATEWAY_RESOURCE } from "../helpers/auth-config.js";
import { authorizationParams, pkce } from "../helpers/authorization-request.js";
import { authorize, CookieJar, hiddenField, postForm, step } from "../helpers/login-flow.js";
import { startAuthWorker, type RunningWorker } from "../helpers/workers.js";

/** One public name for both instances, as behind a load balancer (neither one's own URL). */
const ISSUER = "http://auth.test";
const REDIRECT = "http://127.0.0.1:9/callback";
const CREDENTIALS = { username: ALICE.username, password: ALICE.password };
const AGENT = {
  name: "Test Agent",
  clientId: "agent-public",
  tokenEndpointAuthMethod: "none",
  redirectUris: [REDIRECT],
  scopes: ["tools:read", "tools:write"],
};
/** A resource server that introspects tokens. */
const resourceServer = confidentialClient("resource-server", {
  grantTypes: ["client_credentials"],
  introspection: true,
});

let a: RunningWorker;
let b: RunningWorker;

beforeAll(async () => {
  const options = {
    config: authConfig(ISSUER, { apps: [AGENT, resourceServer.app], login: { users: [ALICE.config] } }),
    bindings: resourceServer.bindings,
  };
  [a, b] = await Promise.all([startAuthWorker(options), startAuthWorker(options)]);
});
afterAll(async () => {
  await Promise.all([a?.dispose(), b?.dispose()]);
});

const authParams = (challenge: string) => authorizationParams(AGENT.clientId, REDIRECT, challenge);

function redeem(worker: RunningWorker, code: string, verifier: string): Promise<Response> {
  return worker.fetch(
    "/token",
    postForm({
      grant_type: "authorization_code",
      client_id: AGENT.clientId,
      code,
      redirect_uri: REDIRECT,
      code_verifier: verifier,
    }),
  );
}

/** Logs in and consents at `worker`, then redeems the code at `redeemAt`. */
async function tokensFrom(worker: RunningWorker, redeemAt: RunningWorker) {
  const { verifier, challenge } = await pkce();
  const { redirect } = await authorize(worker, authParams(challenge), CREDENTIALS);
  const res = await redeem(redeemAt, redirect.searchParams.get("code")!, verifier);
  expect(res.status).toBe(200);
  return (await res.json()) as { access_token: string; refresh_token: string };
}

async function introspect(worker: RunningWorker, token: string) {
  const res = await worker.fetch(
    "/introspect",
    postForm(
      { token },
      { Authorization: `Basic ${btoa(`${resourceServer.client.clientId}:${resourceServer.client.secret}`)}` },
    ),
  );
  expect(res.status).toBe(200);
  return (await res.json()) as { active: boolean };
}

describe("two auth-tier instances sharing one Redis", () => {
  it("redeems at one instance a code issued by the other", async () => {
    const { verifier, challenge } = await pkce();
    const { redirect } = await authorize(a, authParams(challenge), CREDENTIALS);
    expect(redirect.searchParams.get("iss")).toBe(ISSUER);
    const res = await redeem(b, redirect.searchParams.get("code")!, verifier);
    expect(res.status).toBe(200);
    const { access_token } = (await res.json()) as { access_token: string };
    expect(decodeJwt(access_token)).toMatchObject({ iss: ISSUER, sub: "alice", aud: GATEWAY_RESOURCE });
  });

  it("refuses at one instance a code already redeemed at the other", async () => {
    const { verifier, challenge } = await pkce();
    const { redirect } = await authorize(a, authParams(challenge), CREDENTIALS);
    const code = redirect.searchParams.get("code")!;
    expect((await redeem(a, code, verifier)).status).toBe(200);
    const replay = await redeem(b, code, verifier);
    expect(replay.status).toBe(400);
    expect(await replay.json()).toMatchObject({ error: "invalid_grant" });
  });

  it("honours at one instance the login session started at the other", async () => {
    const { jar } = await authorize(a, authParams((await pkce()).challenge), CREDENTIALS);
    const again = await step(b, jar, `/authorize?${new URLSearchParams(authParams((await pkce()).challenge))}`);
    expect(again.location?.pathname).toBe("/consent");
  });

  it("completes a sign-in whose every step alternates between the instances", async () => {
    const { verifier, challenge } = await pkce();
    const jar = new CookieJar();
    const start = await step(a, jar, `/authorize?${new URLSearchParams(authParams(challenge))}`);
    const loginPage = await step(b, jar, start.location!.pathname + start.location!.search);
    const afterLogin = await step(
      a,
      jar,
      "/login",
      postForm({
        interaction: hiddenField(loginPage.body, "interaction"),
        csrf: hiddenField(loginPage.body, "csrf"),
        ...CREDENTIALS,
      }),
    );
    const consent = await step(b, jar, afterLogin.location!.pathname + afterLogin.location!.search);
    const done = await step(
      a,
      jar,
      "/consent",
      postForm({
        interaction: hiddenField(consent.body, "interaction"),
        csrf: hiddenField(consent.body, "csrf"),
        decision: "allow",
      }),
    );
    expect(done.location?.origin + done.location!.pathname).toBe(REDIRECT);
    expect((await redeem(b, done.location!.searchParams.get("code")!, verifier)).status).toBe(200);
  });

  it("sees at one instance an access token revoked at the other", async () => {
    const { access_token } = await tokensFrom(a, a);
    expect(await introspect(b, access_token)).toMatchObject({ active: true });
    const revoked = await a.fetch("/revoke", postForm({ token: access_token, client_id: AGENT.clientId }));
    expect(revoked.status).toBe(200);
    expect(await introspect(b, access_token)).toEqual({ active: false });
  });

  it("refuses at one instance a refresh token revoked at the other", async () => {
    const { refresh_token } = await tokensFrom(a, b);
    expect((await b.fetch("/revoke", postForm({ token: refresh_token, client_id: AGENT.clientId }))).status).toBe(200);
    const refresh = await a.fetch(
      "/token",
      postForm({ grant_type: "refresh_token", client_id: AGENT.clientId, refresh_token }),
    );
    expect(refresh.status).toBe(400);
    expect(await refresh.json()).toMatchObject({ error: "invalid_grant" });
  });
});
