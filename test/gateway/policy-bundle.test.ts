// The gateway worker in workerd, bundled by `wrangler deploy --dry-run` with the OPA fixtures as
// its policies (the global setup points the bundling step at them): the policies load as
// CompiledWasm modules, and /status reports each configured one.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GATEWAY_CLIENT, gatewayConfig } from "../helpers/gateway-stack.js";
import { startGatewayWorker, type RunningWorker } from "../helpers/workers.js";

function withPolicies(authorization: Record<string, unknown>, apps: Record<string, unknown>[]): string {
  const config = JSON.parse(gatewayConfig("http://auth.test", { authorization: {} })) as {
    mcpProvider: { authorization: Record<string, unknown> };
    apps: unknown[];
  };
  Object.assign(config.mcpProvider.authorization, authorization);
  config.apps = apps.map((app) => ({
    type: "mcpProxy",
    upstream: { stream: { url: "http://upstream.test/mcp" } },
    ...app,
  }));
  return JSON.stringify(config);
}

describe("policies bundled into the gateway worker", () => {
  let healthy: RunningWorker;
  let broken: RunningWorker;
  beforeAll(async () => {
    [healthy, broken] = await Promise.all([
      startGatewayWorker({
        config: withPolicies({ inbound: { opa: { name: "scopes" } } }, [
          {
            name: "github",
            authorization: {
              inbound: { opa: { name: "argument-groups", entrypoint: "mcp/argument_groups/decision" } },
            },
          },
        ]),
        bindings: GATEWAY_CLIENT.bindings,
      }),
      startGatewayWorker({
        config: withPolicies({ defaultDecision: "allow" }, [
          { name: "crm", authorization: { inbound: { opa: { name: "crm-policy" } } } },
          { name: "wiki", authorization: { inbound: { opa: { name: "not-a-policy" } } } },
        ]),
        bindings: GATEWAY_CLIENT.bindings,
      }),
    ]);
  });
  afterAll(() => Promise.all([healthy.dispose(), broken.dispose()]));

  it("loads the configured policies in workerd and reports them on /status", async () => {
    const res = await healthy.fetch("/status");
    expect(res.status).toBe(200);
    const { policy } = (await res.json()) as { policy: unknown };
    expect(policy).toEqual({
      defaultDecision: "deny",
      bundled: ["app-groups", "argument-groups", "business-hours", "echo", "not-a-policy", "scopes", "shapes", "trap"],
      policies: [
        { scope: "global", name: "scopes", entrypoint: "mcp/scopes/decision", status: "ok" },
        { scope: "apps.github", name: "argument-groups", entrypoint: "mcp/argument_groups/decision", status: "ok" },
      ],
    });
  });

  it("reports a missing or broken policy and degrades, staying up", async () => {
    const res = await broken.fetch("/status");
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      status: string;
      policy: { defaultDecision: string; policies: { name: string; status: string; error: string }[] };
    };
    expect(body.status).toBe("degraded");
    expect(body.policy.defaultDecision).toBe("allow");
    expect(body.policy.policies.map(({ name, status }) => ({ name, status }))).toEqual([
      { name: "crm-policy", status: "missing" },
      { name: "not-a-policy", status: "broken" },
    ]);
    expect(body.policy.policies[0]!.error).toContain('no policy named "crm-policy" is in the worker bundle');
  });
});
