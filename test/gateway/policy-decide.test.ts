// Which policies decide a tool call under a given configuration, the default when none is
// configured, and what /status reports about them (real fixtures through the real SDK, in Node).
import { beforeAll, describe, expect, it } from "vitest";
import { gatewayConfigSchema } from "../../src/gateway/config-schema.js";
import { decideToolAccess, reportPolicies } from "../../src/gateway/policy/decide.js";
import { PolicyEngine } from "../../src/gateway/policy/engine.js";
import { buildPolicyInput, type PolicyInput } from "../../src/gateway/policy/input.js";
import { createPolicyRegistry, type PolicyRegistry } from "../../src/gateway/policy/registry.js";
import { loadPolicyFixtures } from "../helpers/opa-fixtures.js";

function gateway(authorization: Record<string, unknown> = {}, apps: Record<string, unknown>[] = []) {
  const config = gatewayConfigSchema.parse({
    mcpProvider: {
      resource: "https://gw.example/mcp",
      authorization: {
        oauth: {
          servers: [
            { issuer: "https://auth.example", tokenValidation: { expectedAudiences: ["https://gw.example/mcp"] } },
          ],
        },
        ...authorization,
      },
    },
    apps: apps.map((app) => ({ type: "mcpProxy", upstream: { stream: { url: "https://up.example/mcp" } }, ...app })),
  });
  return { provider: config.mcpProvider, apps: config.apps };
}

function call(upstreamName: string, scopes: string[], args: Record<string, unknown> = {}): PolicyInput {
  return buildPolicyInput({
    principal: { issuer: "https://auth.example", sub: "alice", clientId: "agent-a", scopes, expiresAt: 1_900_000_000 },
    claims: { groups: ["support"] },
    session: { id: "s", createdAt: 0 },
    tool: { name: `github__${upstreamName}`, app: "github", upstreamName, arguments: args },
    mcp: { method: "tools/call", params: { name: `github__${upstreamName}`, arguments: args } },
    http: { method: "POST", path: "/mcp", headers: {} },
  });
}

let registry: PolicyRegistry;
let engine: PolicyEngine;
beforeAll(async () => {
  registry = createPolicyRegistry(await loadPolicyFixtures());
  engine = new PolicyEngine(registry);
});

describe("policy configuration", () => {
  it("denies by default when no policy is configured", () => {
    expect(gateway().provider.authorization.defaultDecision).toBe("deny");
  });

  it("rejects a policy name that could not be a bundled policy", () => {
    const result = gatewayConfigSchema.safeParse({
      mcpProvider: {
        resource: "https://gw.example/mcp",
        authorization: {
          oauth: { servers: [{ issuer: "https://a.example", tokenValidation: { expectedAudiences: ["x"] } }] },
          inbound: { opa: { name: "../etc" } },
        },
      },
    });
    expect(result.success ? [] : result.error.issues.map((i) => i.path.join("."))).toEqual([
      "mcpProvider.authorization.inbound.opa.name",
    ]);
  });
});

describe("deciding a tool call", () => {
  it("follows defaultDecision when neither the gateway nor the app names a policy", async () => {
    const closed = gateway();
    const open = gateway({ defaultDecision: "allow" });
    const input = call("list_issues", ["tools:read"]);
    expect(await decideToolAccess(engine, closed.provider, undefined, input)).toMatchObject({
      allowed: false,
      reason: expect.stringContaining("defaultDecision is deny"),
    });
    expect(await decideToolAccess(engine, open.provider, undefined, input)).toMatchObject({ allowed: true });
  });

  it("applies the app's policy", async () => {
    const { provider, apps } = gateway({}, [
      { name: "github", authorization: { inbound: { opa: { name: "scopes" } } } },
    ]);
    expect(await decideToolAccess(engine, provider, apps[0], call("create_issue", ["tools:read"]))).toMatchObject({
      allowed: false,
      policy: "scopes",
    });
    expect(await decideToolAccess(engine, provider, apps[0], call("create_issue", ["tools:write"]))).toMatchObject({
      allowed: true,
      policy: "scopes",
    });
  });

  it("requires both the global and the app's policy to allow", async () => {
    const { provider, apps } = gateway({ inbound: { opa: { name: "scopes" } } }, [
      {
        name: "github",
        authorization: { inbound: { opa: { name: "argument-groups", file: "policies/argument-groups" } } },
      },
    ]);
    const app = apps[0];
    // The global policy denies first: the app's is not asked.
    expect(
      await decideToolAccess(engine, provider, app, call("create_issue", ["tools:read"], { repo: "acme/helpdesk" })),
    ).toMatchObject({ allowed: false, policy: "scopes" });
    // The global policy allows, the app's denies.
    expect(
      await decideToolAccess(engine, provider, app, call("create_issue", ["tools:write"], { repo: "acme/api" })),
    ).toMatchObject({ allowed: false, policy: "argument-groups" });
    expect(
      await decideToolAccess(engine, provider, app, call("create_issue", ["tools:write"], { repo: "acme/helpdesk" })),
    ).toMatchObject({ allowed: true });
  });

  it("never falls back to defaultDecision when a configured policy is missing", async () => {
    const { provider, apps } = gateway({ defaultDecision: "allow" }, [
      { name: "github", authorization: { inbound: { opa: { name: "github-policy" } } } },
    ]);
    expect(await decideToolAccess(engine, provider, apps[0], call("list_issues", ["tools:read"]))).toMatchObject({
      allowed: false,
      policy: "github-policy",
    });
  });
});

describe("policy status", () => {
  it("reports every configured policy: loaded, missing, broken or misconfigured", async () => {
    const { provider, apps } = gateway({ inbound: { opa: { name: "scopes" } } }, [
      { name: "github", authorization: { inbound: { opa: { name: "argument-groups" } } } },
      { name: "crm", authorization: { inbound: { opa: { name: "crm-policy" } } } },
      { name: "wiki", authorization: { inbound: { opa: { name: "not-a-policy" } } } },
      { name: "jira", authorization: { inbound: { opa: { name: "shapes" } } } },
      { name: "plain" },
    ]);
    const status = await reportPolicies(engine, registry, provider, apps);
    expect(status.defaultDecision).toBe("deny");
    expect(status.bundled).toEqual(expect.arrayContaining(["scopes", "argument-groups", "not-a-policy"]));
    expect(status.policies.map(({ scope, name, status, entrypoint }) => ({ scope, name, status, entrypoint }))).toEqual(
      [
        { scope: "global", name: "scopes", status: "ok", entrypoint: "mcp/scopes/decision" },
        { scope: "apps.github", name: "argument-groups", status: "ok", entrypoint: "mcp/argument_groups/decision" },
        { scope: "apps.crm", name: "crm-policy", status: "missing", entrypoint: undefined },
        { scope: "apps.wiki", name: "not-a-policy", status: "broken", entrypoint: undefined },
        { scope: "apps.jira", name: "shapes", status: "entrypoint", entrypoint: undefined },
      ],
    );
    expect(status.policies.filter((p) => p.status !== "ok").every((p) => typeof p.error === "string")).toBe(true);
  });
});
