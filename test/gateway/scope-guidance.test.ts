// The scopes the gateway tells clients to ask for (MCP 2026-07-28 authorization, "Scope Selection
// Strategy" and "Refresh Tokens"; RFC 6750 §3; RFC 9728 §2), over raw HTTP: the 401 challenge's
// `scope` and the resource metadata's `scopes_supported` name the same scopes — the configured
// ones, or what the apps' default token exchanges need — and never `offline_access`; a 403 names
// every scope the request lacks in one challenge.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, withToken, type Stack } from "../helpers/gateway-stack.js";
import { initializeRequest, postMcp } from "../helpers/mcp.js";

/** An MCP Proxy app whose upstream is never reached by these requests. */
function app(name: string, outbound: Record<string, unknown>) {
  return {
    name,
    type: "mcpProxy",
    upstream: { transport: "stream", stream: { url: "http://127.0.0.1:9/mcp" } },
    authorization: { outbound },
  };
}

/** Three apps: two exchange tokens with default scopes (one with a per-tool write scope), one sends none. */
const APPS = [
  app("files", {
    type: "tokenExchange",
    tokenExchange: {
      audience: "http://files.test",
      defaults: { scopes: [{ name: "tools:read" }, { name: "files:read" }] },
      tools: [{ name: "^write_.*$", scopes: [{ name: "tools:write" }] }],
    },
  }),
  app("notes", {
    type: "tokenExchange",
    tokenExchange: { audience: "http://notes.test", defaults: { scopes: [{ name: "tools:read" }] } },
  }),
  app("public", { type: "none" }),
];

const stacks: Stack[] = [];
async function stackWith(options: Parameters<typeof startStack>[0]): Promise<Stack> {
  const stack = await startStack(options);
  stacks.push(stack);
  return stack;
}
afterAll(() => Promise.all(stacks.map((stack) => stack.dispose())));

/** The 401 (or 403) challenge's parameters, by name. */
function challenge(res: Response): Record<string, string> {
  const header = res.headers.get("WWW-Authenticate") ?? "";
  expect(header).toMatch(/^Bearer /);
  return Object.fromEntries([...header.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
}

async function scopesSupported(stack: Stack): Promise<string[] | undefined> {
  const res = await stack.gateway.fetch("/.well-known/oauth-protected-resource/mcp");
  expect(res.status).toBe(200);
  return ((await res.json()) as { scopes_supported?: string[] }).scopes_supported;
}

describe("derived from the apps (no scopesSupported configured)", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await stackWith({ apps: APPS, exchangeAudiences: ["http://files.test", "http://notes.test"] });
  });

  it("names the apps' default exchange scopes in the 401 challenge to a request without a token", async () => {
    const res = await postMcp(stack.gateway, initializeRequest());
    expect(res.status).toBe(401);
    expect(challenge(res)).toEqual({
      resource_metadata: "http://gateway.test/.well-known/oauth-protected-resource/mcp",
      scope: "tools:read files:read",
    });
  });

  it("advertises the same scopes in the protected resource metadata, without the per-tool write scope", async () => {
    expect(await scopesSupported(stack)).toEqual(["tools:read", "files:read"]);
  });

  it("names them in the 401 to a token it refuses too, beside invalid_token", async () => {
    const res = await postMcp(withToken(stack.gateway, "not.a.jwt"), initializeRequest());
    expect(res.status).toBe(401);
    expect(challenge(res)).toMatchObject({ error: "invalid_token", scope: "tools:read files:read" });
  });
});

describe("configured", () => {
  it("advertises requiredScopes then scopesSupported, once each, in the challenge and the metadata alike", async () => {
    const stack = await stackWith({
      apps: APPS,
      exchangeAudiences: ["http://files.test", "http://notes.test"],
      requiredScopes: ["mcp:connect"],
      scopesSupported: ["tools:read", "mcp:connect", "notes:read"],
    });
    const res = await postMcp(stack.gateway, initializeRequest());
    expect(challenge(res).scope).toBe("mcp:connect tools:read notes:read");
    expect(await scopesSupported(stack)).toEqual(["mcp:connect", "tools:read", "notes:read"]);
  });

  it("advertises nothing with scopesSupported: [] and no required scopes: no scope parameter, no scopes_supported", async () => {
    const stack = await stackWith({
      apps: APPS,
      exchangeAudiences: ["http://files.test", "http://notes.test"],
      scopesSupported: [],
    });
    const res = await postMcp(stack.gateway, initializeRequest());
    expect(res.status).toBe(401);
    expect(res.headers.get("WWW-Authenticate")).toBe(
      'Bearer resource_metadata="http://gateway.test/.well-known/oauth-protected-resource/mcp"',
    );
    expect(await scopesSupported(stack)).toBeUndefined();
  });

  it("answers a token lacking required scopes with one 403 insufficient_scope naming every one of them", async () => {
    const stack = await stackWith({ requiredScopes: ["tools:read", "mcp:connect", "mcp:admin"] });
    const res = await postMcp(stack.as(await stack.token("agent-a", undefined, "tools:read")), initializeRequest());
    expect(res.status).toBe(403);
    expect(challenge(res)).toEqual({
      error: "insufficient_scope",
      scope: "tools:read mcp:connect mcp:admin",
      resource_metadata: "http://gateway.test/.well-known/oauth-protected-resource/mcp",
    });
  });
});

describe("offline_access", () => {
  it("is never advertised, even when an app's default exchange asks for it", async () => {
    const stack = await stackWith({
      apps: [
        app("offline", {
          type: "tokenExchange",
          tokenExchange: {
            audience: "http://offline.test",
            defaults: { scopes: [{ name: "offline_access" }, { name: "tools:read" }] },
          },
        }),
      ],
      exchangeAudiences: ["http://offline.test"],
    });
    const res = await postMcp(stack.gateway, initializeRequest());
    expect(challenge(res).scope).toBe("tools:read");
    expect(await scopesSupported(stack)).toEqual(["tools:read"]);
  });
});

describe("faults", () => {
  it("still challenges with the scopes, and serves the metadata, while the auth tier is down", async () => {
    const stack = await startStack({ apps: APPS, exchangeAudiences: ["http://files.test", "http://notes.test"] });
    try {
      await stack.auth.dispose();
      const res = await postMcp(stack.gateway, initializeRequest());
      expect(res.status).toBe(401);
      expect(challenge(res).scope).toBe("tools:read files:read");
      expect(await scopesSupported(stack)).toEqual(["tools:read", "files:read"]);
    } finally {
      await stack.gateway.dispose();
    }
  });
});
