// Who may talk to the gateway: MCP authorization (2025-11-25) with RFC 9728 resource metadata,
// RFC 6750 bearer tokens, RFC 9068 JWT access tokens for this gateway's audience only.
import { randomUUID } from "node:crypto";
import { generateKeyPair, importJWK, SignJWT, type JWK } from "jose";
import { afterAll, beforeAll, describe, expect, it, inject } from "vitest";
import { GATEWAY_RESOURCE } from "../helpers/auth-config.js";
import { startStack, withToken, type Stack } from "../helpers/gateway-stack.js";
import { deleteSession, initializeRequest, openSession, postMcp, postOnSession } from "../helpers/mcp.js";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.dispose());

/** A token signed with the auth tier's own key: valid in every respect except what `claims` changes. */
async function signedByAuthTier(
  claims: Record<string, unknown>,
  header: Record<string, unknown> = {},
): Promise<string> {
  const jwk = (JSON.parse(inject("signingKeys")) as { keys: (JWK & { kid: string })[] }).keys[0]!;
  const { activeFrom: _a, ...material } = jwk as JWK & { activeFrom?: number };
  const key = await importJWK(material, "ES256");
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    iss: stack.auth.url,
    sub: "mallory",
    aud: GATEWAY_RESOURCE,
    client_id: "agent-a",
    iat: now,
    exp: now + 300,
    jti: randomUUID(),
    ...claims,
  })
    .setProtectedHeader({ alg: "ES256", kid: jwk.kid, typ: "at+jwt", ...header })
    .sign(key);
}

function wwwAuthenticate(res: Response): string {
  return res.headers.get("WWW-Authenticate") ?? "";
}

describe("protected resource metadata (RFC 9728)", () => {
  it.each(["/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"])(
    "is served at %s",
    async (path) => {
      const res = await stack.gateway.fetch(path);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({
        resource: GATEWAY_RESOURCE,
        authorization_servers: [stack.auth.url],
        bearer_methods_supported: ["header"],
      });
    },
  );

  it("names an authorization server whose own metadata is reachable", async () => {
    const { authorization_servers } = (await (
      await stack.gateway.fetch("/.well-known/oauth-protected-resource")
    ).json()) as { authorization_servers: string[] };
    const res = await fetch(`${authorization_servers[0]}/.well-known/oauth-authorization-server`);
    expect(res.status).toBe(200);
  });
});

describe("bearer tokens at the MCP endpoint", () => {
  it("answers a request without a token with 401 and WWW-Authenticate naming the resource metadata", async () => {
    const res = await postMcp(stack.gateway, initializeRequest());
    expect(res.status).toBe(401);
    expect(wwwAuthenticate(res)).toBe(
      'Bearer resource_metadata="http://gateway.test/.well-known/oauth-protected-resource/mcp"',
    );
    expect(await res.json()).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32000 } });
  });

  it.each([
    ["a token that is not a JWT", async () => "not-a-jwt"],
    [
      "a token for another audience",
      async () =>
        stack.token("agent-a", "http://other.test/api").catch(() => signedByAuthTier({ aud: "http://other.test/api" })),
    ],
    [
      "an expired token",
      async () =>
        signedByAuthTier({ exp: Math.floor(Date.now() / 1000) - 3600, iat: Math.floor(Date.now() / 1000) - 7200 }),
    ],
    ["a token from another issuer", async () => signedByAuthTier({ iss: "https://evil.example" })],
    [
      "a token with alg none",
      async () => {
        const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
        return `${enc({ alg: "none", typ: "at+jwt" })}.${enc({ iss: stack.auth.url, sub: "x", aud: GATEWAY_RESOURCE, exp: 9999999999, client_id: "agent-a" })}.`;
      },
    ],
    [
      "a token signed by an unknown key",
      async () => {
        const { privateKey } = await generateKeyPair("ES256");
        const now = Math.floor(Date.now() / 1000);
        return new SignJWT({
          iss: stack.auth.url,
          sub: "x",
          aud: GATEWAY_RESOURCE,
          client_id: "agent-a",
          iat: now,
          exp: now + 60,
        })
          .setProtectedHeader({ alg: "ES256", kid: "forged", typ: "at+jwt" })
          .sign(privateKey);
      },
    ],
    ["an ID token (typ JWT, not at+jwt)", async () => signedByAuthTier({}, { typ: "JWT" })],
    [
      "an HS256 token keyed with the public key",
      async () => {
        const jwk = (JSON.parse(inject("signingKeys")) as { keys: JWK[] }).keys[0]!;
        const { d: _d, activeFrom: _a, ...pub } = jwk as JWK & { activeFrom?: number };
        const secret = new TextEncoder().encode(JSON.stringify(pub));
        const now = Math.floor(Date.now() / 1000);
        return new SignJWT({
          iss: stack.auth.url,
          sub: "x",
          aud: GATEWAY_RESOURCE,
          client_id: "agent-a",
          iat: now,
          exp: now + 60,
        })
          .setProtectedHeader({ alg: "HS256", kid: jwk.kid!, typ: "at+jwt" })
          .sign(secret);
      },
    ],
  ])("refuses %s with 401 invalid_token", async (_name, makeToken) => {
    const res = await postMcp(withToken(stack.gateway, await makeToken()), initializeRequest());
    expect(res.status).toBe(401);
    expect(wwwAuthenticate(res)).toMatch(
      /^Bearer resource_metadata="[^"]+", error="invalid_token", error_description="[^"]+"$/,
    );
  });

  it("accepts a token the auth tier issued for this gateway", async () => {
    const res = await postMcp(stack.as(await stack.token()), initializeRequest());
    expect(res.status).toBe(200);
  });

  it("also guards DELETE and GET", async () => {
    expect(
      (await stack.gateway.fetch("/mcp", { method: "DELETE", headers: { "Mcp-Session-Id": "A".repeat(43) } })).status,
    ).toBe(401);
    expect((await stack.gateway.fetch("/mcp", { headers: { Accept: "text/event-stream" } })).status).toBe(401);
  });
});

describe("sessions are bound to the principal that created them", () => {
  it("answers another agent's token on the session as if the session did not exist", async () => {
    const owner = stack.as(await stack.token("agent-a"));
    const intruder = stack.as(await stack.token("agent-b"));
    const sessionId = await openSession(owner);
    const hijack = await postOnSession(intruder, sessionId, { jsonrpc: "2.0", id: 1, method: "tools/list" });
    expect(hijack.status).toBe(404);
    expect((await deleteSession(intruder, sessionId)).status).toBe(404);
    // The owner's session is untouched.
    expect((await postOnSession(owner, sessionId, { jsonrpc: "2.0", id: 2, method: "ping" })).status).toBe(200);
  });

  it("lets the same agent continue with a fresh token", async () => {
    const sessionId = await openSession(stack.as(await stack.token("agent-a")));
    const res = await postOnSession(stack.as(await stack.token("agent-a")), sessionId, {
      jsonrpc: "2.0",
      id: 1,
      method: "ping",
    });
    expect(res.status).toBe(200);
  });
});

describe("CORS", () => {
  it("lets any origin read the resource metadata", async () => {
    const res = await stack.gateway.fetch("/.well-known/oauth-protected-resource/mcp", {
      headers: { Origin: "http://localhost:6274" },
    });
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe("*");
  });

  it("shows the 401 challenge to an allowed browser origin, and nothing to others", async () => {
    const allowed = await startStack({ stream: { allowedOrigins: ["http://localhost:6274"] } });
    try {
      const ok = await postMcp(allowed.gateway, initializeRequest(), { Origin: "http://localhost:6274" });
      expect(ok.status).toBe(401);
      expect(ok.headers.get("Access-Control-Allow-Origin")).toBe("http://localhost:6274");
      expect(ok.headers.get("Access-Control-Expose-Headers")).toMatch(/WWW-Authenticate/i);
      const preflight = await allowed.gateway.fetch("/mcp", {
        method: "OPTIONS",
        headers: {
          Origin: "http://localhost:6274",
          "Access-Control-Request-Method": "POST",
          "Access-Control-Request-Headers": "authorization, mcp-session-id",
        },
      });
      expect(preflight.status).toBe(204);
      const other = await postMcp(allowed.gateway, initializeRequest(), { Origin: "https://evil.example" });
      expect(other.status).toBe(403);
      expect(other.headers.get("Access-Control-Allow-Origin")).toBeNull();
    } finally {
      await allowed.dispose();
    }
  });
});

describe("response headers", () => {
  it("marks every answer, success, SSE or error, as not to be sniffed, framed or cross-origin isolated", async () => {
    const token = await stack.token();
    const sessionId = await openSession(stack.as(token));
    const answers = [
      await stack.gateway.fetch("/.well-known/oauth-protected-resource/mcp"),
      await postOnSession(stack.as(token), sessionId, { jsonrpc: "2.0", id: 2, method: "ping" }),
      await postOnSession(
        stack.as(token),
        sessionId,
        { jsonrpc: "2.0", id: 3, method: "ping" },
        { Accept: "text/event-stream" },
      ),
      await postMcp(stack.gateway, initializeRequest()),
    ];
    expect(answers.map((res) => res.status)).toEqual([200, 200, 200, 401]);
    for (const res of answers) {
      expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
      expect(res.headers.get("X-Frame-Options")).toBe("DENY");
      expect(res.headers.get("Content-Security-Policy")).toBe("default-src 'none'; frame-ancestors 'none'");
      expect(res.headers.get("Cross-Origin-Resource-Policy")).toBeNull();
      await res.body?.cancel();
    }
  });
});

describe("required scopes", () => {
  it("answers a valid token without the required scope with 403 insufficient_scope naming the scope", async () => {
    const scoped = await startStack({ requiredScopes: ["mcp:connect"] });
    try {
      const res = await postMcp(scoped.as(await scoped.token()), initializeRequest());
      expect(res.status).toBe(403);
      expect(wwwAuthenticate(res)).toMatch(
        /^Bearer error="insufficient_scope", scope="mcp:connect", resource_metadata="[^"]+"$/,
      );
      const metadata = (await (await scoped.gateway.fetch("/.well-known/oauth-protected-resource")).json()) as {
        scopes_supported?: string[];
      };
      expect(metadata.scopes_supported).toEqual(["mcp:connect"]);
    } finally {
      await scoped.dispose();
    }
  });
});
