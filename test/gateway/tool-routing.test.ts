// Pure rules of tool routing: namespaces, per-tool outbound configuration, the exchanged-token cache.
import { describe, expect, it } from "vitest";
import { candidateApp, exposedName } from "../../src/gateway/apps/catalog.js";
import { appSchema, type AppConfig, type TokenExchangeConfig } from "../../src/gateway/apps-schema.js";
import { cacheKey, TokenCache } from "../../src/gateway/outbound/token-cache.js";
import { resolveToolConfig } from "../../src/gateway/outbound/tool-config.js";

function app(fields: Record<string, unknown>): AppConfig {
  return appSchema.parse({ type: "mcpProxy", upstream: { stream: { url: "https://up.example/mcp" } }, ...fields });
}

const exchange = (tools: unknown[]): TokenExchangeConfig => {
  const parsed = app({
    name: "x",
    authorization: { outbound: { type: "tokenExchange", tokenExchange: { audience: "https://api.example", tools } } },
  });
  if (parsed.authorization.outbound.type !== "tokenExchange") throw new Error("unreachable");
  return parsed.authorization.outbound.tokenExchange;
};

describe("tool namespaces", () => {
  const github = app({ name: "github" });
  const crm = app({ name: "crm", toolNamespace: "sales" });

  it("prefixes tool names with the namespace and a double underscore", () => {
    expect(exposedName(github, "create_issue")).toBe("github__create_issue");
    expect(exposedName(crm, "find")).toBe("sales__find");
  });

  it("routes a namespaced name to its app with the prefix stripped", () => {
    expect(candidateApp([github, crm], "sales__find")).toEqual({ app: crm, upstreamName: "find" });
  });

  it("routes nothing for a bare namespace, an unknown namespace or a name without one", () => {
    expect(candidateApp([github, crm], "github__")).toBeNull();
    expect(candidateApp([github, crm], "gitlab__create_issue")).toBeNull();
    expect(candidateApp([github, crm], "create_issue")).toBeNull();
  });

  it("keeps names unchanged for an app with an empty namespace", () => {
    const bare = app({ name: "only", toolNamespace: "" });
    expect(exposedName(bare, "echo")).toBe("echo");
    expect(candidateApp([bare], "echo")).toEqual({ app: bare, upstreamName: "echo" });
  });
});

describe("per-tool outbound configuration", () => {
  const config = exchange([
    { name: "create_issue", ttl: "5s", scopes: [{ name: "issues:write" }] },
    { name: "^list_.*$", ttl: "30s", scopes: [{ name: "issues:read" }] },
    { name: "list_everything", ttl: "1s" },
  ]);

  it("uses an exact name's entry", () => {
    expect(resolveToolConfig(config, "create_issue")).toEqual({
      key: "tools.0",
      ttlMs: 5_000,
      scopes: ["issues:write"],
    });
  });

  it("uses the first matching entry: a regex before a later exact name", () => {
    expect(resolveToolConfig(config, "list_everything")).toMatchObject({ key: "tools.1", ttlMs: 30_000 });
  });

  it("requires a regex to match the whole name", () => {
    const unanchored = exchange([{ name: "list_.*|delete$", ttl: "30s" }]);
    expect(resolveToolConfig(unanchored, "xdelete").key).toBe("defaults");
    expect(resolveToolConfig(unanchored, "list_repos").key).toBe("tools.0");
    const prefix = exchange([{ name: "^list$", ttl: "30s" }]);
    expect(resolveToolConfig(prefix, "list_and_delete").key).toBe("defaults");
  });

  it("falls back to the app's defaults for tools without an entry, and for listing", () => {
    expect(resolveToolConfig(config, "delete_repo")).toEqual({ key: "defaults", ttlMs: 5_000, scopes: [] });
    expect(resolveToolConfig(config, undefined).key).toBe("defaults");
  });

  it("refuses an invalid regex in configuration", () => {
    expect(() => exchange([{ name: "^list_(.*$", ttl: "1s" }])).toThrow(/regular expression/);
  });
});

describe("exchanged-token cache", () => {
  const key = cacheKey("github", "tools.0", "https://api.example", ["b", "a"]);

  it("keys by app, configuration entry, audience and the set of scopes", () => {
    expect(key).toBe(cacheKey("github", "tools.0", "https://api.example", ["a", "b"]));
    expect(key).not.toBe(cacheKey("github", "tools.1", "https://api.example", ["a", "b"]));
  });

  it("reuses a token only while it has more than the margin left to live", () => {
    const cache = new TokenCache();
    const now = 1_000_000;
    cache.put(key, { token: "t", expiresAt: now + 30_000 });
    expect(cache.get(key, 1_000, now + 28_900)?.token).toBe("t");
    expect(cache.get(key, 1_000, now + 29_000)).toBeUndefined();
    // A slow app's margin (its slowest recent call) keeps tokens from dying on the way.
    expect(cache.get(key, 5_000, now + 25_500)).toBeUndefined();
  });

  it("forgets a token the upstream refused", () => {
    const cache = new TokenCache();
    cache.put(key, { token: "t", expiresAt: Date.now() + 30_000 });
    cache.drop(key);
    expect(cache.get(key, 0)).toBeUndefined();
  });

  it("forgets expired tokens when persisted", () => {
    const cache = new TokenCache();
    cache.put(key, { token: "t", expiresAt: 10 });
    expect(cache.snapshot(11)).toEqual({});
  });
});
