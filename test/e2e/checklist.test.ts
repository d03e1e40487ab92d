// Maverics' production verification checklist, automated. The stack is the one
// `npm run dev` runs (config/*.dev.yaml, demo upstreams, audit collector, Redis bridge, both tiers
// in workerd); the clients are ones nobody on this project wrote: the MCP SDK's Client, its
// Streamable HTTP transport and its OAuth client (discovery, registration, PKCE, redemption), and
// Chromium for the person who signs in. The agent's side (scripts/agent/) is what `npm run agent`
// runs. Steps run in order on one stack, as the checklist is worked through.
import { ClientCredentialsProvider } from "@modelcontextprotocol/sdk/client/auth-extensions.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { decodeJwt } from "jose";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "../helpers/browser.js";
import {
  auditEventsOf,
  connectInteractiveAgent,
  type InteractiveAgent,
  type Registration,
} from "../helpers/e2e-clients.js";
import { startE2eStack, type E2eStack } from "../helpers/e2e-stack.js";
import { signAccessToken } from "../helpers/tokens.js";

/** What the scopes policy (config/gateway.dev.yaml) shows a token with tools:read only. */
const READ_CATALOG = ["demo__echo", "demo__whoami", "notes__list_notes", "notes__whoami"];

let stack: E2eStack;
let browser: Browser;
const agents: InteractiveAgent[] = [];

beforeAll(async () => {
  [stack, browser] = await Promise.all([startE2eStack(), launchChromium()]);
});
afterAll(async () => {
  for (const agent of agents) await agent.close();
  await browser?.close();
  await stack?.dispose();
});

async function connectAgent(registration: Registration): Promise<InteractiveAgent> {
  const agent = await connectInteractiveAgent(stack, browser, registration);
  agents.push(agent);
  return agent;
}

const text = (result: unknown) => ((result as CallToolResult).content[0] as { text: string }).text;
const toolNames = async (client: Client) => (await client.listTools()).tools.map((tool) => tool.name).sort();

describe("1. health and discovery", () => {
  it("both tiers answer /status healthy", async () => {
    const [auth, gateway] = await Promise.all([
      fetch(`${stack.info.auth}/status`),
      fetch(`${stack.info.gateway}/status`),
    ]);
    expect([auth.status, gateway.status]).toEqual([200, 200]);
    expect(await auth.json()).toMatchObject({ status: "ok", tier: "auth", redis: "ok" });
    expect(await gateway.json()).toMatchObject({ status: "ok", tier: "gateway", auth: "ok" });
  });

  it("the gateway's protected resource metadata names the auth tier, whose metadata is reachable", async () => {
    const resource = (await (await fetch(`${stack.info.gateway}/.well-known/oauth-protected-resource`)).json()) as {
      resource: string;
      authorization_servers: string[];
    };
    expect(resource).toMatchObject({ resource: stack.info.mcp, authorization_servers: [stack.info.auth] });
    const metadata = await fetch(`${resource.authorization_servers[0]}/.well-known/oauth-authorization-server`);
    expect(metadata.status).toBe(200);
    expect(await metadata.json()).toMatchObject({
      issuer: stack.info.auth,
      token_endpoint: `${stack.info.auth}/token`,
      client_id_metadata_document_supported: true,
    });
  });
});

describe("2. an agent connects: 401, discovery, registration, browser login, tokens", () => {
  it("with a client ID metadata document: the URL is its client_id, no registration call", async () => {
    const agent = await connectAgent("client ID metadata document");
    expect(agent.clientId).toBe(agent.loopback.metadataUrl);
    const calls = agent.traffic.map(({ method, url, status }) => `${method} ${url} ${status}`);
    expect(calls[0]).toBe(`POST ${stack.info.mcp} 401`);
    expect(calls).toContain(`GET ${stack.info.gateway}/.well-known/oauth-protected-resource/mcp 200`);
    expect(calls).toContain(`GET ${stack.info.auth}/.well-known/oauth-authorization-server 200`);
    expect(calls).toContain(`POST ${stack.info.auth}/token 200`);
    expect(calls.some((call) => call.includes("/register"))).toBe(false);
    const claims = decodeJwt(agent.provider.tokens()!.access_token);
    expect(claims).toMatchObject({
      iss: stack.info.auth,
      sub: "demo",
      aud: stack.info.mcp,
      client_id: agent.clientId,
      scope: expect.stringContaining("tools:read"),
    });
    expect(agent.provider.tokens()!.refresh_token).toEqual(expect.any(String));
  });

  it("with dynamic client registration (RFC 7591)", async () => {
    const agent = await connectAgent("dynamic registration");
    expect(agent.traffic.map(({ method, url, status }) => `${method} ${url} ${status}`)).toContain(
      `POST ${stack.info.auth}/register 201`,
    );
    expect(agent.clientId).not.toBe(agent.loopback.metadataUrl);
    expect(decodeJwt(agent.provider.tokens()!.access_token)).toMatchObject({
      sub: "demo",
      aud: stack.info.mcp,
      client_id: agent.clientId,
    });
  });
});

describe("3-5. tools, token exchange, audit", () => {
  it("3. lists the whole catalog of both apps that its policy allows, and not the write tool it does not", async () => {
    for (const agent of agents) expect(await toolNames(agent.client)).toEqual(READ_CATALOG);
  });

  it("3. does not list the ops app at all: the app-groups policy keeps it to the sre group, and the user is in engineering", async () => {
    for (const agent of agents)
      expect((await toolNames(agent.client)).filter((name) => name.startsWith("ops__"))).toEqual([]);
    const before = stack.demo.received.length;
    const result = (await agents[0]!.client.callTool({ name: "ops__whoami" })) as CallToolResult;
    expect(result.isError).toBe(true);
    expect(text(result)).toBe("the ops app is not available to your groups");
    expect(
      stack.demo.received
        .slice(before)
        .filter(
          (call) => !call.call.startsWith("notifications/") && call.call !== "initialize" && call.call !== "tools/list",
        ),
    ).toEqual([]);
  });

  it("3. passes the upstream MCP server's tools through unchanged but for the namespace", async () => {
    // The upstream asked directly, with a token the auth tier's key signed for its audience.
    const token = await signAccessToken(stack.info.auth, {
      sub: "demo",
      client_id: "checklist",
      aud: `http://localhost:${stack.ports.mcp}`,
    });
    const direct = new Client({ name: "checklist", version: "1.0.0" });
    await direct.connect(
      new StreamableHTTPClientTransport(new URL(stack.demo.mcpUrl), {
        requestInit: { headers: { Authorization: `Bearer ${token}` } },
      }),
    );
    const upstreamTools = (await direct.listTools()).tools;
    await direct.close();
    const listed = (await agents[0]!.client.listTools()).tools.filter((tool) => tool.name.startsWith("demo__"));
    expect(listed).toEqual(upstreamTools.map((tool) => ({ ...tool, name: `demo__${tool.name}` })));
  });

  it("4. calls a tool of each app: the upstream gets a per-tool token exchanged for it, and the result comes back", async () => {
    const [agent] = agents;
    const { client, clientId, provider } = agent!;
    const agentJti = decodeJwt(provider.tokens()!.access_token).jti;
    for (const [tool, upstream, audience] of [
      ["demo__whoami", "mcp", `http://localhost:${stack.ports.mcp}`],
      ["notes__whoami", "rest", `http://localhost:${stack.ports.rest}`],
    ] as const) {
      const before = stack.demo.received.length;
      const result = (await client.callTool({ name: tool })) as CallToolResult;
      expect(result.isError).toBeFalsy();
      const seen = stack.demo.received
        .slice(before)
        .find(
          (call) => call.upstream === upstream && call.call !== "initialize" && !call.call.startsWith("notifications/"),
        );
      // Verified at the upstream (signature against the auth tier's JWKS, issuer, its own audience).
      expect(seen?.claims).toMatchObject({
        iss: stack.info.auth,
        sub: "demo",
        aud: audience,
        client_id: "gateway",
        act: { sub: clientId },
      });
      expect(seen!.claims.jti).not.toBe(agentJti);
      expect(seen!.claims.exp! - seen!.claims.iat!).toBe(5);
      // The tool answers with what its token said: the result made it back through the gateway.
      expect(JSON.parse(text(result))).toMatchObject({ user: "demo", audience, jti: seen!.claims.jti });
    }
  });

  it("4. a call the policy denies is a tool error naming the missing scope, and never reaches the upstream", async () => {
    const before = stack.demo.received.length;
    const result = (await agents[0]!.client.callTool({
      name: "notes__create_note",
      arguments: { text: "not allowed" },
    })) as CallToolResult;
    expect(result.isError).toBe(true);
    expect(text(result)).toContain("tools:write");
    expect(stack.demo.received.slice(before)).toEqual([]);
  });

  it("5. the audit log holds one event per call, with agent and user identity and the exchanged token's jti", async () => {
    const agent = agents[0]!;
    const all = await auditEventsOf(stack.demo, agent.transport.sessionId!, 4);
    // The first is step 3's call to the ops app, which its policy denied.
    expect(all[0]).toMatchObject({ tool: "ops__whoami", decision: "deny", outcome: "denied", policy: "app-groups" });
    const events = all.slice(1);
    const exchanged = stack.demo.received.filter(
      (call) => call.claims.act && (call.claims.act as { sub?: string }).sub === agent.clientId,
    );
    expect(events.map((e) => [e.tool, e.decision, e.outcome])).toEqual([
      ["demo__whoami", "allow", "success"],
      ["notes__whoami", "allow", "success"],
      ["notes__create_note", "deny", "denied"],
    ]);
    for (const event of events)
      expect(event).toMatchObject({ agent: agent.clientId, user: "demo", issuer: stack.info.auth });
    expect(events.slice(0, 2).map((e) => e.token_jti)).toEqual(
      expect.arrayContaining([expect.any(String), expect.any(String)]),
    );
    for (const jti of events.slice(0, 2).map((e) => e.token_jti))
      expect(exchanged.map((call) => call.claims.jti)).toContain(jti);
  });
});

describe("6. gateway instance failure", () => {
  it("the gateway's runtime is replaced while the agent holds its session; the next call succeeds on the same session", async () => {
    const agent = agents[0]!;
    const sessionId = agent.transport.sessionId!;
    await stack.replaceGateway();
    const result = (await agent.client.callTool({
      name: "demo__echo",
      arguments: { text: "still here" },
    })) as CallToolResult;
    expect(text(result)).toBe("still here");
    expect(agent.transport.sessionId).toBe(sessionId);
    const events = await auditEventsOf(stack.demo, sessionId, 5);
    expect(events.at(-1)).toMatchObject({
      tool: "demo__echo",
      decision: "allow",
      outcome: "success",
      session_id: sessionId,
    });
  });
});

describe("a machine agent (client_credentials, no browser)", () => {
  it("runs the same calls with the SDK's client-credentials provider, tools:write included", async () => {
    const { clientId, clientSecret } = stack.info.machineAgent;
    const provider = new ClientCredentialsProvider({
      clientId,
      clientSecret,
      scope: "tools:read tools:write",
      expectedIssuer: stack.info.auth,
    });
    const transport = new StreamableHTTPClientTransport(new URL(stack.info.mcp), { authProvider: provider });
    const client = new Client({ name: "e2e-machine-agent", version: "1.0.0" });
    await client.connect(transport);
    try {
      expect(await toolNames(client)).toEqual([...READ_CATALOG, "notes__create_note"].sort());
      const whoami = JSON.parse(text(await client.callTool({ name: "demo__whoami" }))) as {
        user: string;
        agent_chain: { sub: string };
      };
      expect(whoami).toMatchObject({ user: clientId, agent_chain: { sub: clientId } });
      const created = (await client.callTool({
        name: "notes__create_note",
        arguments: { body: { text: "from CI" } },
      })) as CallToolResult;
      expect(created.isError).toBeFalsy();
      expect(created.structuredContent).toMatchObject({ text: "from CI", author: clientId });
      const events = await auditEventsOf(stack.demo, transport.sessionId!, 2);
      expect(events.map((e) => [e.tool, e.agent, e.user, e.outcome])).toEqual([
        ["demo__whoami", clientId, clientId, "success"],
        ["notes__create_note", clientId, clientId, "success"],
      ]);
    } finally {
      await client.close();
    }
  });
});
