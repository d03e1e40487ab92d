// Signing keys: ES256 by default, EdDSA selectable, several keys by `kid`; the newest active key
// signs, older ones still verify, a key published ahead of time does not sign yet.
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { afterAll, describe, expect, it } from "vitest";
import { generateSigningKey } from "../../scripts/keys.js";
import { authConfig, confidentialClient, GATEWAY_RESOURCE } from "../helpers/auth-config.js";
import { startAuthWorker, type RunningWorker } from "../helpers/workers.js";

const agent = confidentialClient("machine", { grantTypes: ["client_credentials"] });
const workers: RunningWorker[] = [];
afterAll(() => Promise.all(workers.map((w) => w.dispose())));

async function start(keys: object[], jwks: object[] = [{ algorithm: "ES256" }]) {
  const auth = await startAuthWorker({
    config: (url) => authConfig(url, { jwks, apps: [agent.app] }),
    bindings: { ...agent.bindings, SIGNING_KEYS: JSON.stringify({ keys }) },
  });
  workers.push(auth);
  return auth;
}

async function issue(auth: RunningWorker): Promise<string> {
  const res = await auth.fetch("/token", {
    method: "POST",
    headers: {
      "Content-Type": "application/x-www-form-urlencoded",
      Authorization: `Basic ${btoa(`machine:${agent.client.secret}`)}`,
    },
    body: new URLSearchParams({ grant_type: "client_credentials", resource: GATEWAY_RESOURCE }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

async function verifyAgainstJwks(auth: RunningWorker, token: string) {
  const jwks = (await (await auth.fetch("/jwks")).json()) as Parameters<typeof createLocalJWKSet>[0];
  return jwtVerify(token, createLocalJWKSet(jwks));
}

describe("signing keys", () => {
  it("signs with EdDSA when the key set and configuration say so", async () => {
    const auth = await start([await generateSigningKey("EdDSA")], [{ algorithm: "EdDSA" }]);
    const token = await issue(auth);
    expect(decodeProtectedHeader(token).alg).toBe("EdDSA");
    await expect(verifyAgainstJwks(auth, token)).resolves.toBeTruthy();
  });

  it("signs with the newest active key and keeps verifying tokens of the older one", async () => {
    const now = Math.floor(Date.now() / 1000);
    const old = await generateSigningKey("ES256", now - 86_400);
    const current = await generateSigningKey("ES256", now - 60);
    const upcoming = await generateSigningKey("ES256", now + 86_400);

    const before = await start([old]);
    const oldToken = await issue(before);
    expect(decodeProtectedHeader(oldToken).kid).toBe(old.kid);

    const after = await start([old, current, upcoming]);
    const newToken = await issue(after);
    expect(decodeProtectedHeader(newToken).kid).toBe(current.kid);
    const published = ((await (await after.fetch("/jwks")).json()) as { keys: { kid: string }[] }).keys.map(
      (k) => k.kid,
    );
    expect(published).toEqual([old.kid, current.kid, upcoming.kid]);
    // A token signed before the rotation still verifies against the published set.
    await expect(verifyAgainstJwks(after, oldToken)).resolves.toBeTruthy();
  });

  it("refuses, at startup, a key whose algorithm the configuration does not allow", async () => {
    const auth = await start([await generateSigningKey("EdDSA")], [{ algorithm: "ES256" }]);
    const res = await auth.fetch("/jwks");
    expect(res.status).toBe(500);
    expect(JSON.stringify(await res.json())).toContain("SIGNING_KEYS.keys.0.alg");
  });

  it("refuses a key set whose keys carry no private part, without echoing key material", async () => {
    const { d: _d, ...publicOnly } = await generateSigningKey("ES256");
    const auth = await start([publicOnly]);
    const res = await auth.fetch("/jwks");
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(text).toContain("SIGNING_KEYS.keys.0.d");
    expect(text).not.toContain(publicOnly.x as string);
  });
});
