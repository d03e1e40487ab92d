// The production checklist's agent steps with the v2 MCP SDK (`@modelcontextprotocol/client`) on
// the stack `npm run dev` runs: the SDK's own OAuth flow, the person signing in through Chromium,
// and a client that configures no scope at all. It asks for what the gateway advertises (the 401's
// `scope`, MCP 2026-07-28 authorization "Scope Selection Strategy") plus `offline_access`, which
// the auth tier lists ("Refresh Tokens"), and must end up with a token that sees the tools.
import { IssuerMismatchError, type CallToolResult, type Client } from "@modelcontextprotocol/client";
import { decodeJwt } from "jose";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "../helpers/browser.js";
import { startE2eStack, type E2eStack } from "../helpers/e2e-stack.js";
import { connectV2Agent, type V2Agent } from "../helpers/v2-agent.js";

/**
 * The protocol revision the v2 client ends up on: the gateway speaks 2026-07-28 at /mcp, so the
 * client's `server/discover` settles it without the 2025 handshake (the v1 client's checklist,
 * checklist.test.ts, stays on 2025-11-25).
 */
const NEGOTIATED_ERA = "2026-07-28";

/** What the scopes policy (config/gateway.dev.yaml) shows a token with tools:read only. */
const READ_CATALOG = ["demo__echo", "demo__whoami", "notes__list_notes", "notes__whoami"];

let stack: E2eStack;
let browser: Browser;
const agents: V2Agent[] = [];

beforeAll(async () => {
  [stack, browser] = await Promise.all([startE2eStack(), launchChromium()]);
});
afterAll(async () => {
  for (const agent of agents) await agent.close();
  await browser?.close();
  await stack?.dispose();
});

const text = (result: unknown) => ((result as CallToolResult).content[0] as { text: string }).text;
const toolNames = async (client: Client) => (await client.listTools()).tools.map((tool) => tool.name).sort();
const calls = (agent: V2Agent) => agent.traffic.map(({ method, url, status }) => `${method} ${url} ${status}`);

describe("the v2 client connects with no scope configured: 401, discovery, registration, browser login, tokens", () => {
  it("with a client ID metadata document: asks for the challenge's scope and offline_access, checks iss, gets both tokens", async () => {
    const agent = await connectV2Agent(stack, browser, "client ID metadata document");
    agents.push(agent);
    expect(agent.clientId).toBe(agent.loopback.metadataUrl);
    expect(agent.traffic[0]).toMatchObject({ method: "POST", url: stack.info.mcp, status: 401 });
    expect(agent.traffic[0]!.challenge).toContain('scope="tools:read"');
    expect(calls(agent)).toContain(`GET ${stack.info.gateway}/.well-known/oauth-protected-resource/mcp 200`);
    expect(calls(agent)).toContain(`GET ${stack.info.auth}/.well-known/oauth-authorization-server 200`);
    expect(calls(agent).some((call) => call.includes("/register"))).toBe(false);

    const request = agent.provider.authorizationUrl!.searchParams;
    expect(request.get("scope")).toBe("tools:read offline_access");
    expect(request.get("prompt")).toBe("consent");
    expect(request.get("code_challenge_method")).toBe("S256");
    expect(request.get("resource")).toBe(stack.info.mcp);
    expect(agent.callback.searchParams.get("iss")).toBe(stack.info.auth);

    const tokens = agent.provider.tokens()!;
    expect(tokens.refresh_token).toEqual(expect.any(String));
    expect(decodeJwt(tokens.access_token)).toMatchObject({
      iss: stack.info.auth,
      sub: "demo",
      aud: stack.info.mcp,
      client_id: agent.clientId,
    });
    expect((decodeJwt(tokens.access_token).scope as string).split(" ")).toContain("tools:read");
  });

  it("with dynamic registration: registers as a native application that refreshes, and refuses a callback naming another issuer", async () => {
    let mixUp: unknown;
    const agent = await connectV2Agent(stack, browser, "dynamic registration", async (transport, callback) => {
      // RFC 9207 §2.4: a callback whose iss is not the issuer the client discovered is a mix-up.
      const forged = new URLSearchParams(callback.searchParams);
      forged.set("iss", "https://attacker.example");
      mixUp = await transport.finishAuth(forged).then(
        () => undefined,
        (err: unknown) => err,
      );
    });
    agents.push(agent);
    expect(mixUp).toBeInstanceOf(IssuerMismatchError);
    // The forged callback redeemed nothing: the one code redemption is the genuine one.
    expect(calls(agent).filter((call) => call.startsWith(`POST ${stack.info.auth}/token`))).toEqual([
      `POST ${stack.info.auth}/token 200`,
    ]);

    const registration = agent.traffic.find((exchange) => exchange.url === `${stack.info.auth}/register`)!;
    expect(registration.status).toBe(201);
    const metadata = JSON.parse(registration.body!) as Record<string, unknown>;
    expect(metadata).toMatchObject({
      application_type: "native",
      grant_types: expect.arrayContaining(["authorization_code", "refresh_token"]),
      redirect_uris: [agent.loopback.callbackUrl],
    });
    // The SDK registers the scope it is about to ask for: the challenge's, plus offline_access.
    expect(metadata.scope).toBe("tools:read offline_access");
    expect(agent.provider.authorizationUrl!.searchParams.get("scope")).toBe("tools:read offline_access");
    expect(agent.provider.tokens()!.refresh_token).toEqual(expect.any(String));
  });
});

describe("what the agents can do", () => {
  it(`negotiates protocol ${NEGOTIATED_ERA}`, () => {
    for (const agent of agents) expect(agent.client.getNegotiatedProtocolVersion()).toBe(NEGOTIATED_ERA);
  });

  it("lists the whole catalog its policy allows a tools:read token, and not the write tool", async () => {
    expect(agents).toHaveLength(2);
    for (const agent of agents) expect(await toolNames(agent.client)).toEqual(READ_CATALOG);
  });

  it("calls a tool of each app, as the signed-in user", async () => {
    for (const agent of agents) {
      const demo = JSON.parse(text(await agent.client.callTool({ name: "demo__whoami" }))) as { user: string };
      expect(demo.user).toBe("demo");
      const notes = (await agent.client.callTool({ name: "notes__whoami" })) as CallToolResult;
      expect(notes.isError).toBeFalsy();
      expect(text(notes)).toContain("demo");
    }
  });

  it("is refused the write tool with a tool error naming the scope it lacks", async () => {
    const result = (await agents[0]!.client.callTool({
      name: "notes__create_note",
      arguments: { body: { text: "not allowed" } },
    })) as CallToolResult;
    expect(result.isError).toBe(true);
    expect(text(result)).toContain("tools:write");
  });

  it("refreshes on its own when its access token is refused, and carries on with the new one", async () => {
    const agent = agents[1]!;
    const before = agent.provider.tokens()!;
    agent.provider.saveTokens({ ...before, access_token: "refused-by-the-gateway" });
    const result = (await agent.client.callTool({
      name: "demo__echo",
      arguments: { text: "after the refresh" },
    })) as CallToolResult;
    expect(text(result)).toBe("after the refresh");
    const after = agent.provider.tokens()!;
    expect(after.refresh_token).toEqual(expect.any(String));
    expect(after.refresh_token).not.toBe(before.refresh_token);
    expect(decodeJwt(after.access_token)).toMatchObject({
      sub: "demo",
      client_id: agent.clientId,
      aud: stack.info.mcp,
    });
    const refresh = agent.traffic.filter((exchange) => exchange.url === `${stack.info.auth}/token`).at(-1)!;
    expect(refresh.status).toBe(200);
    expect(new URLSearchParams(refresh.body).get("grant_type")).toBe("refresh_token");
  });
});
