// Checklist step 7, Auth Provider instance failure: two auth-tier runtimes share Redis behind a
// round-robin front (test/helpers/e2e-front.ts, standing in for the load balancer); everything
// reaches the auth tier through it — the agent's OAuth flow, the gateway's JWKS fetches and token
// exchanges, the upstreams' JWKS. One runtime is stopped: the gateway's token exchange still
// succeeds through the other, and so does the agent's refresh (rotation state is in Redis).
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { decodeJwt } from "jose";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "../helpers/browser.js";
import { connectInteractiveAgent, type InteractiveAgent } from "../helpers/e2e-clients.js";
import { startE2eStack, type E2eStack } from "../helpers/e2e-stack.js";

let stack: E2eStack;
let browser: Browser;
let agent: InteractiveAgent;

beforeAll(async () => {
  [stack, browser] = await Promise.all([startE2eStack({ authInstances: 2 }), launchChromium()]);
  agent = await connectInteractiveAgent(stack, browser, "dynamic registration");
});
afterAll(async () => {
  await agent?.close();
  await browser?.close();
  await stack?.dispose();
});

/** The claims of the token the upstream received for the last call it accepted. */
async function callThroughExchange(tool: string, args: Record<string, unknown> = {}) {
  const before = stack.demo.received.length;
  const result = (await agent.client.callTool({ name: tool, arguments: args })) as CallToolResult;
  expect(result.isError).toBeFalsy();
  const seen = stack.demo.received.slice(before).filter((call) => call.claims.act);
  expect(seen.length).toBeGreaterThan(0);
  return seen.at(-1)!.claims;
}

describe("7. Auth Provider instance failure", () => {
  it("serves the whole flow from both runtimes while both run", async () => {
    await callThroughExchange("demo__whoami");
    expect(stack.front!.answered.every((count) => count > 0)).toBe(true);
  });

  it("keeps exchanging tokens for tool calls through the surviving runtime once one is stopped", async () => {
    await stack.authInstances[0]!.dispose();
    const answeredBefore = [...stack.front!.answered];
    // notes has not been called yet, so its per-tool token cannot come from the session's cache.
    const claims = await callThroughExchange("notes__whoami");
    expect(claims).toMatchObject({
      iss: stack.info.auth,
      sub: "demo",
      aud: `http://localhost:${stack.ports.rest}`,
      act: { sub: agent.clientId },
    });
    expect(stack.front!.answered[0]).toBe(answeredBefore[0]);
    expect(stack.front!.answered[1]).toBeGreaterThan(answeredBefore[1]!);
  });

  it("refreshes the agent's token through the surviving runtime, and the session carries on with it", async () => {
    const before = agent.provider.tokens()!;
    // The access token is no longer accepted: the SDK gets a 401 and refreshes on its own.
    agent.provider.saveTokens({ ...before, access_token: "revoked-by-the-test" });
    const claims = await callThroughExchange("demo__echo", { text: "after the refresh" });
    const after = agent.provider.tokens()!;
    expect(after.refresh_token).toBeDefined();
    expect(after.refresh_token).not.toBe(before.refresh_token);
    expect(decodeJwt(after.access_token)).toMatchObject({
      sub: "demo",
      client_id: agent.clientId,
      aud: stack.info.mcp,
    });
    expect(claims).toMatchObject({ sub: "demo", act: { sub: agent.clientId } });
    expect(agent.traffic.filter((exchange) => exchange.url === `${stack.info.auth}/token`).at(-1)).toMatchObject({
      method: "POST",
      status: 200,
    });
  });
});
