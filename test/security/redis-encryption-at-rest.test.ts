// Redis encryption at rest (docs/auth-tier.md, "Redis encryption at rest"): someone who reads Redis (a backup,
// a snapshot, a shared instance) learns no user, claim or client from it, and someone who can
// write to it cannot move one browser's session under another's id or forge one in plain JSON.
// Real workerd runtimes of the auth tier share the real Redis; Redis is read and written
// directly with ioredis, as such an attacker would.
import { createHash, randomBytes } from "node:crypto";
import { Redis as IORedis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { generateValueKey } from "../../src/auth/store/value-encryption.js";
import { hashPassword } from "../../src/auth/ui/users.js";
import { authConfig } from "../helpers/auth-config.js";
import { authorizationParams, pkce } from "../helpers/authorization-request.js";
import { authorize, CookieJar, postForm, step } from "../helpers/login-flow.js";
import { REDIS_URL } from "../helpers/redis.js";
import { startAuthWorker, type RunningWorker } from "../helpers/workers.js";

/** One public name for every instance (as behind a load balancer), so each accepts the others' tokens. */
const ISSUER = "http://auth.test";
const REDIRECT = "http://127.0.0.1:9/callback";
const AGENT = {
  name: "Test Agent",
  clientId: "agent-public",
  tokenEndpointAuthMethod: "none",
  redirectUris: [REDIRECT],
  scopes: ["tools:read", "tools:write"],
};
const COOKIE = "maverics_session";

/** What must never appear in Redis in the clear: unique to this run, so other tests' keys cannot match. */
const MARK = randomBytes(6).toString("hex");
const USER = {
  username: `user-${MARK}`,
  password: `pw-${MARK}`,
  sub: `sub-${MARK}`,
  name: `Name ${MARK}`,
  email: `mail-${MARK}@example.com`,
};
const CLIENT_NAME = `Client ${MARK}`;

/** Two keys, with ids unique to this run (log lines name them). */
const A = { id: `a-${MARK}`, env: "REDIS_ENCRYPTION_KEY_A", secret: generateValueKey() };
const B = { id: `b-${MARK}`, env: "REDIS_ENCRYPTION_KEY_B", secret: generateValueKey() };
const BINDINGS = { [A.env]: A.secret, [B.env]: B.secret };

function config(
  encryption: { keys: (typeof A)[]; activeKey?: string; acceptPlaintext?: boolean } | null,
  passwordHash: string,
): string {
  return authConfig(ISSUER, {
    apps: [AGENT],
    login: {
      users: [{ username: USER.username, passwordHash, sub: USER.sub, claims: { name: USER.name, email: USER.email } }],
    },
    cache: {
      redis: encryption
        ? { encryption: { ...encryption, keys: encryption.keys.map((k) => ({ id: k.id, secret: { env: k.env } })) } }
        : {},
    },
  });
}

let redis: IORedis;
/** Keys A only. */
let sealedA: RunningWorker;
/** B encrypts, A still decrypts: the middle of a rotation. */
let rotated: RunningWorker;
/** B only: A has been dropped. */
let onlyB: RunningWorker;
/** No encryption (a deployment before it was switched on). */
let plain: RunningWorker;
/** Keys A, reading plain values during a migration. */
let migrating: RunningWorker;

beforeAll(async () => {
  redis = new IORedis(REDIS_URL);
  const hash = await hashPassword(USER.password);
  const start = (encryption: Parameters<typeof config>[0]) =>
    startAuthWorker({ config: config(encryption, hash), bindings: BINDINGS });
  [sealedA, rotated, onlyB, plain, migrating] = await Promise.all([
    start({ keys: [A] }),
    start({ keys: [A, B], activeKey: B.id }),
    start({ keys: [B] }),
    start(null),
    start({ keys: [A], acceptPlaintext: true }),
  ]);
});
afterAll(async () => {
  await Promise.all([sealedA, rotated, onlyB, plain, migrating].map((w) => w?.dispose()));
  await redis?.quit();
});

interface SignedIn {
  jar: CookieJar;
  sessionKey: string;
  tokens: { access_token: string; refresh_token: string; id_token: string };
}

/** The session's record is kept under the SHA-256 of its cookie (src/auth/ui/session.ts). */
function sessionKeyOf(cookie: string): string {
  return `aig:session:${createHash("sha256").update(cookie).digest("base64url")}`;
}

/** Signs the user in at `worker` and redeems the code there. */
async function signIn(worker: RunningWorker): Promise<SignedIn> {
  const { verifier, challenge } = await pkce();
  const { redirect, jar } = await authorize(worker, authorizationParams(AGENT.clientId, REDIRECT, challenge), USER);
  const code = redirect.searchParams.get("code");
  expect(code, redirect.toString()).toBeTruthy();
  const res = await worker.fetch(
    "/token",
    postForm({
      grant_type: "authorization_code",
      client_id: AGENT.clientId,
      code: code!,
      redirect_uri: REDIRECT,
      code_verifier: verifier,
    }),
  );
  expect(res.status).toBe(200);
  return { jar, sessionKey: sessionKeyOf(jar.get(COOKIE)!), tokens: (await res.json()) as SignedIn["tokens"] };
}

/** Where /authorize sends this browser first: /consent when its session is recognized, /login when not. */
async function firstStop(worker: RunningWorker, jar: CookieJar): Promise<string> {
  const { challenge } = await pkce();
  const { location } = await step(
    worker,
    jar,
    `/authorize?${new URLSearchParams(authorizationParams(AGENT.clientId, REDIRECT, challenge))}`,
  );
  return location!.pathname;
}

const userinfo = async (worker: RunningWorker, accessToken: string) => {
  const res = await worker.fetch("/userinfo", { headers: { Authorization: `Bearer ${accessToken}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
};

const refresh = (worker: RunningWorker, refreshToken: string) =>
  worker.fetch(
    "/token",
    postForm({ grant_type: "refresh_token", client_id: AGENT.clientId, refresh_token: refreshToken }),
  );

/** Every value under aig:* in Redis that contains `text`, by key. */
async function valuesContaining(text: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", "aig:*", "COUNT", 1000);
    cursor = next;
    if (keys.length === 0) continue;
    const values = await redis.mget(...keys); // null for keys that are not strings
    keys.forEach((key, i) => values[i]?.includes(text) && found.push(key));
  } while (cursor !== "0");
  return found;
}

/** The worker's warning about an unreadable value, once it has been written out. */
async function unreadableLogLine(worker: RunningWorker, reason: string): Promise<Record<string, unknown>> {
  return vi.waitFor(
    () => {
      const line = worker
        .output()
        .split("\n")
        .filter((l) => l.includes('"store.value_unreadable"'))
        .map((l) => JSON.parse(l.slice(l.indexOf("{"))) as Record<string, unknown>)
        .find((l) => l.reason === reason);
      if (!line) throw new Error(`no store.value_unreadable line with reason ${reason} yet`);
      return line;
    },
    { timeout: 5_000, interval: 50 },
  );
}

describe("with Redis encryption at rest on", () => {
  it("signs in, redeems, refreshes and answers userinfo, while Redis holds no username, claim or client name in the clear", async () => {
    const { jar, sessionKey, tokens } = await signIn(sealedA);
    expect(await userinfo(sealedA, tokens.access_token)).toMatchObject({
      sub: USER.sub,
      name: USER.name,
      email: USER.email,
    });
    const refreshed = await refresh(sealedA, tokens.refresh_token);
    expect(refreshed.status).toBe(200);
    expect(await firstStop(sealedA, jar)).toBe("/consent");

    // A registered client's record, read back through the tier at /authorize.
    const registered = await sealedA.fetch("/register", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ client_name: CLIENT_NAME, redirect_uris: [REDIRECT], token_endpoint_auth_method: "none" }),
    });
    expect(registered.status).toBe(201);
    const { client_id: clientId } = (await registered.json()) as { client_id: string };
    const { challenge } = await pkce();
    const viaRegistered = await step(
      sealedA,
      new CookieJar(),
      `/authorize?${new URLSearchParams(authorizationParams(clientId, REDIRECT, challenge))}`,
    );
    expect(viaRegistered.location?.pathname).toBe("/login");

    for (const text of [USER.username, USER.name, USER.email, CLIENT_NAME, USER.sub])
      expect(await valuesContaining(text), text).toEqual([]);
    for (const key of [sessionKey, `aig:userinfo:${USER.sub}`, `aig:client:${clientId}`]) {
      expect(await redis.get(key), key).toMatch(new RegExp(`^enc:v1:${A.id}:[A-Za-z0-9_-]{16}\\.[A-Za-z0-9_-]+$`));
    }
  });

  it("keeps reading values sealed under the old key once a new key encrypts (rotation without a flag day)", async () => {
    const { jar, sessionKey, tokens } = await signIn(sealedA);
    expect(await redis.get(sessionKey)).toMatch(new RegExp(`^enc:v1:${A.id}:`));

    expect(await firstStop(rotated, jar)).toBe("/consent");
    expect(await userinfo(rotated, tokens.access_token)).toMatchObject({ name: USER.name });
    const res = await refresh(rotated, tokens.refresh_token);
    expect(res.status).toBe(200);
    // The session was written again (its idle timer moved) under the active key.
    expect(await redis.get(sessionKey)).toMatch(new RegExp(`^enc:v1:${B.id}:`));
  });

  it("treats a value under a key id no longer configured as absent, and logs the key id and the key's kind", async () => {
    const { jar, sessionKey, tokens } = await signIn(sealedA);
    expect(await firstStop(onlyB, jar)).toBe("/login");
    const line = await unreadableLogLine(onlyB, "unknown_key");
    expect(line).toMatchObject({ level: "warn", kind: "session", kid: A.id });
    // Nor is the refresh token's family readable: invalid_grant, not a 500.
    const res = await refresh(onlyB, tokens.refresh_token);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: "invalid_grant" });
    // The log names neither the session id nor any value.
    expect(onlyB.output()).not.toContain(sessionKey.slice("aig:session:".length));
    expect(onlyB.output()).not.toContain(USER.name);
    // The instance that has key A still honours both.
    expect(await firstStop(sealedA, jar)).toBe("/consent");
  });

  it("does not decrypt a victim's session copied under the attacker's own session id", async () => {
    const victim = await signIn(sealedA);
    const attacker = new CookieJar();
    const attackerId = randomBytes(32).toString("base64url");
    attacker.store(new Response(null, { headers: { "Set-Cookie": `${COOKIE}=${attackerId}; Path=/` } }));
    const attackerKey = sessionKeyOf(attackerId);
    await redis.set(attackerKey, (await redis.get(victim.sessionKey))!, "PX", 60_000);
    try {
      expect(await firstStop(sealedA, attacker)).toBe("/login");
      expect(await unreadableLogLine(sealedA, "not_authentic")).toMatchObject({ kind: "session", kid: A.id });
      expect(await firstStop(sealedA, victim.jar)).toBe("/consent");
    } finally {
      await redis.del(attackerKey);
    }
  });

  it("refuses a session forged in plain JSON, unless plain values are explicitly read during a migration", async () => {
    const before = await signIn(plain);
    const raw = await redis.get(before.sessionKey);
    expect(raw?.startsWith("{")).toBe(true);
    expect(raw).toContain(USER.name);

    expect(await firstStop(sealedA, before.jar)).toBe("/login");
    expect(await unreadableLogLine(sealedA, "plaintext")).toMatchObject({ kind: "session" });
    expect(await firstStop(migrating, before.jar)).toBe("/consent");
    // Written again by the migrating instance: sealed from now on.
    expect(await redis.get(before.sessionKey)).toMatch(new RegExp(`^enc:v1:${A.id}:`));
  });
});

describe("Redis encryption configuration", () => {
  it("is on in the production example config (config/auth.yaml): a registered client's record is sealed", async () => {
    const bundled = await startAuthWorker();
    try {
      const res = await bundled.fetch("/register", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          client_name: CLIENT_NAME,
          redirect_uris: [REDIRECT],
          token_endpoint_auth_method: "none",
        }),
      });
      expect(res.status).toBe(201);
      const { client_id: clientId } = (await res.json()) as { client_id: string };
      expect(await redis.get(`aig:client:${clientId}`)).toMatch(/^enc:v1:k1:/);
    } finally {
      await bundled.dispose();
    }
  });

  it("refuses a key that is not 32 bytes, naming the path and never the value", async () => {
    const short = randomBytes(16).toString("base64url");
    const worker = await startAuthWorker({
      config: config({ keys: [A] }, await hashPassword("x", 1000)),
      bindings: { [A.env]: short },
    });
    try {
      const res = await worker.fetch("/status");
      expect(res.status).toBe(500);
      const text = await res.text();
      expect(text).not.toContain(short);
      expect((JSON.parse(text) as { issues: { path: string }[] }).issues.map((i) => i.path)).toEqual([
        "oidcProvider.cache.redis.encryption.keys.0.secret.env",
      ]);
    } finally {
      await worker.dispose();
    }
  });
});
