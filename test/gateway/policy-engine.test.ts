// The policy engine on real OPA-ABI wasm modules through the real SDK (@open-policy-agent/opa-wasm),
// in Node: the fixtures are built from test/fixtures/opa/ by the global setup.
import { beforeAll, describe, expect, it } from "vitest";
import { DENIED_MESSAGE } from "../../src/gateway/policy/decision.js";
import { PolicyEngine } from "../../src/gateway/policy/engine.js";
import { buildPolicyInput, type PolicyInput, type PolicyInputParts } from "../../src/gateway/policy/input.js";
import { createPolicyRegistry, type PolicyRegistry } from "../../src/gateway/policy/registry.js";
import { loadPolicyFixtures } from "../helpers/opa-fixtures.js";

/** 2026-03-02T08:30:00Z, a Monday: 09:30 in the business-hours example's UTC+1. */
const MONDAY_MORNING = Date.parse("2026-03-02T08:30:00Z");
const SATURDAY = Date.parse("2026-03-07T10:00:00Z");

function input(
  overrides: {
    tool?: string;
    arguments?: Record<string, unknown>;
    listing?: boolean;
    scopes?: string[];
    groups?: string[];
    session?: string;
    now?: number;
  } = {},
): PolicyInput {
  const upstreamName = overrides.tool ?? "list_issues";
  const parts: PolicyInputParts = {
    principal: {
      issuer: "https://auth.example",
      sub: "alice",
      clientId: "agent-a",
      scopes: overrides.scopes ?? ["tools:read"],
      expiresAt: 1_900_000_000,
    },
    claims: { groups: overrides.groups ?? ["engineering"] },
    session: { id: overrides.session ?? "session-1", createdAt: MONDAY_MORNING - 60_000 },
    tool: {
      name: `github__${upstreamName}`,
      app: "github",
      upstreamName,
      arguments: overrides.listing ? undefined : overrides.arguments,
    },
    mcp: overrides.listing
      ? { method: "tools/list", params: {} }
      : { method: "tools/call", params: { name: `github__${upstreamName}`, arguments: overrides.arguments } },
    http: { method: "POST", path: "/mcp", headers: { "content-type": "application/json" } },
    now: overrides.now ?? MONDAY_MORNING,
  };
  return buildPolicyInput(parts);
}

let registry: PolicyRegistry;
beforeAll(async () => {
  registry = createPolicyRegistry(await loadPolicyFixtures());
});

describe("policy decisions", () => {
  let engine: PolicyEngine;
  beforeAll(() => {
    engine = new PolicyEngine(registry);
  });

  it("allows a call the policy allows", async () => {
    expect(await engine.decide({ name: "scopes" }, input({ tool: "list_issues", scopes: ["tools:read"] }))).toEqual({
      allowed: true,
      policy: "scopes",
    });
  });

  it("denies with the policy's external message and audit reason", async () => {
    expect(await engine.decide({ name: "scopes" }, input({ tool: "create_issue", scopes: ["tools:read"] }))).toEqual({
      allowed: false,
      externalMessage: "this tool needs the tools:write scope",
      reason: "token lacks scope tools:write",
      policy: "scopes",
    });
  });

  it("denies by arguments, with a message the policy formats through the SDK's sprintf", async () => {
    const decision = await engine.decide(
      { name: "argument-groups" },
      input({ tool: "create_issue", groups: ["support"], arguments: { repo: "acme/api", title: "x" } }),
    );
    expect(decision).toEqual({
      allowed: false,
      externalMessage: "repo=acme/api is not permitted for your groups",
      reason: "argument outside the user's groups",
      policy: "argument-groups",
    });
  });

  it("allows arguments that one of the user's groups may use (from the data document)", async () => {
    const decision = await engine.decide(
      { name: "argument-groups" },
      input({ tool: "create_issue", groups: ["support", "engineering"], arguments: { repo: "acme/web" } }),
    );
    expect(decision.allowed).toBe(true);
  });

  it("answers a listing (no arguments) by whether any call could be allowed", async () => {
    const shown = await engine.decide(
      { name: "argument-groups" },
      input({ tool: "create_issue", groups: ["support"], listing: true }),
    );
    const hidden = await engine.decide(
      { name: "argument-groups" },
      input({ tool: "create_issue", groups: ["sales"], listing: true }),
    );
    expect([shown.allowed, hidden.allowed]).toEqual([true, false]);
  });

  it("keeps a whole app to the groups its data document names, and leaves other apps open", async () => {
    const forApp = (app: string, groups: string[]) => {
      const document = input({ groups, listing: true });
      return { ...document, app: { name: app }, tool: { ...document.tool!, app } };
    };
    const sre = await engine.decide({ name: "app-groups" }, forApp("ops", ["engineering", "sre"]));
    const engineer = await engine.decide({ name: "app-groups" }, forApp("ops", ["engineering"]));
    const other = await engine.decide({ name: "app-groups" }, forApp("github", []));
    expect([sre.allowed, engineer.allowed, other.allowed]).toEqual([true, false, true]);
    expect(engineer).toMatchObject({
      externalMessage: "the ops app is not available to your groups",
      reason: "user is in none of the app's groups",
    });
  });

  it("keeps an app's prompts and resources to the same groups as its tools, through input.app", async () => {
    const { tool: _tool, ...document } = input({ groups: ["engineering"] });
    const prompt = {
      ...document,
      app: { name: "ops" },
      prompt: { name: "ops__runbook", app: "ops", upstream_name: "runbook", arguments: {} },
    };
    const resource = { ...document, app: { name: "ops" }, resource: { uri: "ops://hosts", app: "ops" } };
    expect(await engine.decide({ name: "app-groups" }, prompt)).toMatchObject({
      allowed: false,
      externalMessage: "the ops app is not available to your groups",
    });
    expect(await engine.decide({ name: "app-groups" }, resource)).toMatchObject({ allowed: false });
    expect(
      await engine.decide({ name: "app-groups" }, { ...resource, user: { sub: "alice", claims: { groups: ["sre"] } } }),
    ).toMatchObject({ allowed: true });
  });

  it("decides from input.time and the data document: destructive tools only in business hours", async () => {
    const weekday = await engine.decide(
      { name: "business-hours" },
      input({ tool: "delete_branch", now: MONDAY_MORNING }),
    );
    const weekend = await engine.decide({ name: "business-hours" }, input({ tool: "delete_branch", now: SATURDAY }));
    const harmless = await engine.decide({ name: "business-hours" }, input({ tool: "list_issues", now: SATURDAY }));
    expect([weekday.allowed, weekend.allowed, harmless.allowed]).toEqual([true, false, true]);
    expect(weekend.externalMessage).toBe("destructive tools may only run during business hours");
  });
});

describe("what a policy sees", () => {
  const engine = () => new PolicyEngine(registry);

  it("receives the input document exactly as built", async () => {
    const document = input({
      tool: "create_issue",
      arguments: { repo: "acme/api", labels: ["bug", "p1"], draft: false, estimate: 2.5 },
    });
    expect(await engine().evaluate({ name: "echo", entrypoint: "test/echo/input" }, document)).toEqual([
      { result: document },
    ]);
  });

  it("receives the data document bundled with it", async () => {
    expect(await engine().evaluate({ name: "echo", entrypoint: "test/echo/data" }, input())).toEqual([
      { result: { greeting: "hello", limits: { calls: 3 }, tags: ["a", "b"] } },
    ]);
  });

  it("gives concurrent evaluations in one isolate their own inputs", async () => {
    const fresh = engine(); // all calls race the policy's first load, too
    const sessions = Array.from({ length: 64 }, (_, i) => `session-${i}-${"x".repeat(i * 37)}`);
    const decisions = await Promise.all(
      sessions.map((session) => fresh.decide({ name: "echo", entrypoint: "test/echo/decision" }, input({ session }))),
    );
    expect(decisions.map((d) => d.reason)).toEqual(sessions);
  });
});

describe("failing closed", () => {
  const engine = () => new PolicyEngine(registry);

  it("denies when the module traps, then evaluates again on a fresh instance", async () => {
    const policies = engine();
    const trapped = await policies.decide({ name: "trap", entrypoint: "test/trap/decision" }, input());
    expect(trapped).toMatchObject({ allowed: false, externalMessage: DENIED_MESSAGE, policy: "trap" });
    expect(trapped.reason).toMatch(/^policy "trap" failed: RuntimeError: unreachable/);
    expect(await policies.decide({ name: "trap", entrypoint: "test/trap/allow" }, input())).toEqual({
      allowed: true,
      policy: "trap",
    });
  });

  it("denies when the module aborts (opa_abort)", async () => {
    const decision = await engine().decide({ name: "trap", entrypoint: "test/trap/abort" }, input());
    expect(decision).toMatchObject({ allowed: false, reason: 'policy "trap" failed: policy aborted on purpose' });
  });

  it.each([
    ["test/shapes/boolean", "the result is a boolean"],
    ["test/shapes/no_allowed", "allowed is missing"],
    ["test/shapes/allowed_string", "allowed is a string"],
    ["test/shapes/message_number", "external_message is a number"],
    ["test/shapes/undefined", "the decision is undefined"],
  ])("denies a result of the wrong shape (%s)", async (entrypoint, detail) => {
    const decision = await engine().decide({ name: "shapes", entrypoint }, input());
    expect(decision).toMatchObject({ allowed: false, externalMessage: DENIED_MESSAGE });
    expect(decision.reason).toContain(`policy result has the wrong shape: ${detail}`);
  });

  it("ignores keys of the result it does not know", async () => {
    expect(await engine().decide({ name: "shapes", entrypoint: "test/shapes/extra" }, input())).toEqual({
      allowed: true,
      policy: "shapes",
    });
  });

  it("denies when the configured entrypoint is not in the policy", async () => {
    const decision = await engine().decide({ name: "scopes", entrypoint: "mcp/scopes/allow" }, input());
    expect(decision).toMatchObject({
      allowed: false,
      reason: 'policy "scopes" has no entrypoint "mcp/scopes/allow" (it has: mcp/scopes/decision)',
    });
  });

  it("denies when no entrypoint is configured and the policy has several", async () => {
    const decision = await engine().decide({ name: "trap" }, input());
    expect(decision.allowed).toBe(false);
    expect(decision.reason).toContain(
      'policy "trap" has 3 entrypoints (test/trap/decision, test/trap/abort, test/trap/allow)',
    );
  });

  it("denies every call to a module that is not an OPA policy", async () => {
    const policies = engine();
    for (let i = 0; i < 2; i++) {
      const decision = await policies.decide({ name: "not-a-policy" }, input());
      expect(decision).toMatchObject({ allowed: false, externalMessage: DENIED_MESSAGE });
      expect(decision.reason).toMatch(/^policy "not-a-policy" cannot be loaded: /);
    }
  });

  it("denies every call to a policy that is not in the bundle", async () => {
    const decision = await engine().decide({ name: "github-policy" }, input());
    expect(decision).toMatchObject({ allowed: false, externalMessage: DENIED_MESSAGE });
    expect(decision.reason).toMatch(/^no policy named "github-policy" is in the worker bundle \(bundled: .*scopes.*\)/);
  });
});
