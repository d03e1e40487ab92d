// Maverics' production verification checklist, automated, run twice on one stack and one
// Chromium: with the v2 MCP SDK client negotiating MCP 2026-07-28 (no session; the principal's
// context object holds what a session would), and with the v1 client on 2025-11-25 (a session).
// The stack is the one `npm run dev` runs (config/*.dev.yaml, demo upstreams, audit collector,
// Redis bridge, both tiers in workerd); the clients are ones nobody on this project wrote: the MCP
// SDKs' clients, transports and OAuth flows, and Chromium for the person who signs in. Each step
// asserts the same things of both clients (test/helpers/checklist-agents.ts), plus what only one
// era has. Then a machine agent, and agents and upstreams of both eras through one gateway, each
// with a round trip of input across the eras (MCP 2026-07-28 basic/patterns/mrtr;
// docs/mcp-endpoint.md and docs/apps.md). Steps run in order, as the checklist is worked through.
import {
  Client as ModernClient,
  IssuerMismatchError,
  StreamableHTTPClientTransport as ModernTransport,
} from "@modelcontextprotocol/client";
import { ClientCredentialsProvider } from "@modelcontextprotocol/sdk/client/auth-extensions.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  type CallToolResult,
} from "@modelcontextprotocol/sdk/types.js";
import { decodeJwt } from "jose";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { launchChromium } from "../helpers/browser.js";
import {
  LEGACY_ERA,
  MODERN_ERA,
  V1_CLIENT,
  V2_CLIENT,
  type ChecklistAgent,
  type ChecklistDriver,
} from "../helpers/checklist-agents.js";
import { auditEventsOf } from "../helpers/e2e-clients.js";
import { startE2eStack, type E2eStack } from "../helpers/e2e-stack.js";
import { startStack, type Stack } from "../helpers/gateway-stack.js";
import { startModernMcpServer, type ModernMcpServer } from "../helpers/modern-upstream-mcp.js";
import { signAccessToken } from "../helpers/tokens.js";
import { startRecordingMcpServer, type RecordingMcpServer } from "../helpers/upstream-mcp.js";

/** What the scopes policy (config/gateway.dev.yaml) shows a token with tools:read only. */
const READ_CATALOG = ["demo__echo", "demo__whoami", "notes__list_notes", "notes__whoami"];

let stack: E2eStack;
let browser: Browser;

beforeAll(async () => {
  [stack, browser] = await Promise.all([startE2eStack(), launchChromium()]);
});
afterAll(async () => {
  await browser?.close();
  await stack?.dispose();
});

const text = (result: unknown) => ((result as CallToolResult).content[0] as { text: string }).text;
const toolNames = async (agent: { listTools(): Promise<{ name: string }[]> }) =>
  (await agent.listTools()).map((tool) => tool.name).sort();
const calls = (agent: ChecklistAgent) => agent.traffic.map(({ method, url, status }) => `${method} ${url} ${status}`);
/** What an upstream heard besides the session's own bookkeeping. */
const upstreamCalls = (from: number) =>
  stack.demo.received
    .slice(from)
    .filter(
      (call) => !call.call.startsWith("notifications/") && call.call !== "initialize" && call.call !== "tools/list",
    );

describe("1. health and discovery", () => {
  it("both tiers answer /status healthy", async () => {
    // The gateway gives the auth tier's /status one second; a just-started stack on a loaded
    // machine may take longer at first, so the condition is waited for, with a deadline.
    await vi.waitFor(
      async () => {
        const [auth, gateway] = await Promise.all([
          fetch(`${stack.info.auth}/status`),
          fetch(`${stack.info.gateway}/status`),
        ]);
        expect([auth.status, gateway.status]).toEqual([200, 200]);
        expect(await auth.json()).toMatchObject({ status: "ok", tier: "auth", redis: "ok" });
        expect(await gateway.json()).toMatchObject({ status: "ok", tier: "gateway", auth: "ok" });
      },
      { timeout: 15_000, interval: 500 },
    );
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

/**
 * What only one era's client does when it connects. The v2 client configures no scope: it asks
 * for the 401's `scope` (MCP 2026-07-28 authorization, "Scope Selection Strategy") plus
 * `offline_access`, which the auth tier lists ("Refresh Tokens"); the v1 client asks for the
 * scopes scripts/agent/ configures.
 */
const ERA_CHECKS: Record<
  ChecklistDriver["era"],
  { metadataDocument(agent: ChecklistAgent): void; registration(agent: ChecklistAgent): void }
> = {
  [MODERN_ERA]: {
    metadataDocument(agent) {
      expect(agent.traffic[0]!.challenge).toContain('scope="tools:read"');
      const request = agent.authorizationUrl.searchParams;
      expect(request.get("scope")).toBe("tools:read offline_access");
      expect(request.get("prompt")).toBe("consent");
      expect(request.get("code_challenge_method")).toBe("S256");
      expect(request.get("resource")).toBe(stack.info.mcp);
      expect(agent.callback!.searchParams.get("iss")).toBe(stack.info.auth);
    },
    registration(agent) {
      // RFC 9207 §2.4: a callback whose iss is not the issuer the client discovered is a mix-up.
      expect(agent.mixUp).toBeInstanceOf(IssuerMismatchError);
      // The forged callback redeemed nothing: the one code redemption is the genuine one.
      expect(calls(agent).filter((call) => call.startsWith(`POST ${stack.info.auth}/token`))).toEqual([
        `POST ${stack.info.auth}/token 200`,
      ]);
      const registration = agent.traffic.find((exchange) => exchange.url === `${stack.info.auth}/register`)!;
      const metadata = JSON.parse(registration.body!) as Record<string, unknown>;
      expect(metadata).toMatchObject({
        application_type: "native",
        grant_types: expect.arrayContaining(["authorization_code", "refresh_token"]),
        redirect_uris: [agent.callbackUrl],
      });
      // The SDK registers the scope it is about to ask for: the challenge's, plus offline_access.
      expect(metadata.scope).toBe("tools:read offline_access");
      expect(agent.authorizationUrl.searchParams.get("scope")).toBe("tools:read offline_access");
    },
  },
  [LEGACY_ERA]: {
    metadataDocument(agent) {
      expect(agent.authorizationUrl.searchParams.get("scope")?.split(" ")).toContain("tools:read");
    },
    registration(agent) {
      const registration = agent.traffic.find((exchange) => exchange.url === `${stack.info.auth}/register`)!;
      expect(JSON.parse(registration.body!)).toMatchObject({ redirect_uris: [agent.callbackUrl] });
    },
  },
};

describe.each([V2_CLIENT, V1_CLIENT])("the checklist with the $client, on MCP $era", (driver) => {
  const agents: ChecklistAgent[] = [];
  // The metadata document's agent serves it on the stack's one agent origin: closed before the next client.
  afterAll(async () => {
    for (const agent of agents) await agent.close();
  });

  describe("2. an agent connects: 401, discovery, registration, browser login, tokens", () => {
    it("with a client ID metadata document: the URL is its client_id, no registration call", async () => {
      const agent = await driver.connect(stack, browser, "client ID metadata document");
      agents.push(agent);
      expect(agent.clientId).toBe(agent.metadataUrl);
      expect(agent.traffic[0]).toMatchObject({ method: "POST", url: stack.info.mcp, status: 401 });
      expect(calls(agent)).toContain(`GET ${stack.info.gateway}/.well-known/oauth-protected-resource/mcp 200`);
      expect(calls(agent)).toContain(`GET ${stack.info.auth}/.well-known/oauth-authorization-server 200`);
      expect(calls(agent)).toContain(`POST ${stack.info.auth}/token 200`);
      expect(calls(agent).some((call) => call.includes("/register"))).toBe(false);
      const tokens = agent.tokens();
      expect(decodeJwt(tokens.access_token)).toMatchObject({
        iss: stack.info.auth,
        sub: "demo",
        aud: stack.info.mcp,
        client_id: agent.clientId,
        scope: expect.stringContaining("tools:read"),
      });
      expect((decodeJwt(tokens.access_token).scope as string).split(" ")).toContain("tools:read");
      expect(tokens.refresh_token).toEqual(expect.any(String));
      ERA_CHECKS[driver.era].metadataDocument(agent);
    });

    it("with dynamic client registration (RFC 7591)", async () => {
      const agent = await driver.connect(stack, browser, "dynamic registration");
      agents.push(agent);
      expect(calls(agent)).toContain(`POST ${stack.info.auth}/register 201`);
      expect(agent.clientId).not.toBe(agent.metadataUrl);
      expect(decodeJwt(agent.tokens().access_token)).toMatchObject({
        sub: "demo",
        aud: stack.info.mcp,
        client_id: agent.clientId,
      });
      expect(agent.tokens().refresh_token).toEqual(expect.any(String));
      ERA_CHECKS[driver.era].registration(agent);
    });

    it(`both negotiate protocol ${driver.era}`, () => {
      expect(agents).toHaveLength(2);
      for (const agent of agents) expect(agent.negotiatedVersion()).toBe(driver.era);
    });
  });

  describe("3-5. tools, token exchange, audit", () => {
    it("3. lists the whole catalog of both apps that its policy allows, and not the write tool it does not", async () => {
      for (const agent of agents) expect(await toolNames(agent)).toEqual(READ_CATALOG);
    });

    it("3. does not list the ops app at all: the app-groups policy keeps it to the sre group, and the user is in engineering", async () => {
      for (const agent of agents)
        expect((await toolNames(agent)).filter((name) => name.startsWith("ops__"))).toEqual([]);
      const before = stack.demo.received.length;
      const result = await agents[0]!.callTool("ops__whoami");
      expect(result.isError).toBe(true);
      expect(text(result)).toBe("the ops app is not available to your groups");
      expect(upstreamCalls(before)).toEqual([]);
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
      const listed = (await agents[0]!.listTools()).filter((tool) => tool.name.startsWith("demo__"));
      // The 2026-07-28 Tool has no `execution` (that revision has no tasks): the v2 client reads none.
      const expected = upstreamTools.map(({ execution, ...tool }) =>
        driver.era === MODERN_ERA ? tool : { ...tool, ...(execution ? { execution } : {}) },
      );
      expect(listed).toEqual(expected.map((tool) => ({ ...tool, name: `demo__${tool.name}` })));
    });

    it("4. calls a tool of each app as the signed-in user: the upstream gets a per-tool token exchanged for it, and the result comes back", async () => {
      for (const agent of agents) {
        const agentJti = decodeJwt(agent.tokens().access_token).jti;
        for (const [tool, upstream, audience] of [
          ["demo__whoami", "mcp", `http://localhost:${stack.ports.mcp}`],
          ["notes__whoami", "rest", `http://localhost:${stack.ports.rest}`],
        ] as const) {
          const before = stack.demo.received.length;
          const result = await agent.callTool(tool);
          expect(result.isError).toBeFalsy();
          expect(text(result)).toContain("demo");
          const seen = upstreamCalls(before).find((call) => call.upstream === upstream);
          // Verified at the upstream (signature against the auth tier's JWKS, issuer, its own audience).
          expect(seen?.claims).toMatchObject({
            iss: stack.info.auth,
            sub: "demo",
            aud: audience,
            client_id: "gateway",
            act: { sub: agent.clientId },
          });
          expect(seen!.claims.jti).not.toBe(agentJti);
          expect(seen!.claims.exp! - seen!.claims.iat!).toBe(5);
          // The tool answers with what its token said: the result made it back through the gateway.
          expect(JSON.parse(text(result))).toMatchObject({ user: "demo", audience, jti: seen!.claims.jti });
        }
      }
    });

    it("4. a call the policy denies is a tool error naming the missing scope, and never reaches the upstream", async () => {
      const before = stack.demo.received.length;
      const result = await agents[0]!.callTool("notes__create_note", { body: { text: "not allowed" } });
      expect(result.isError).toBe(true);
      expect(text(result)).toContain("tools:write");
      expect(stack.demo.received.slice(before)).toEqual([]);
    });

    it("5. the audit log holds one event per call, with agent and user identity and the exchanged token's jti", async () => {
      const agent = agents[0]!;
      const all = await agent.auditEvents(4);
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
      // A session-based call names its session; a 2026-07-28 one its revision, and its principal's context.
      if (driver.era === MODERN_ERA) {
        expect(agent.sessionId()).toBeUndefined();
        for (const event of all)
          expect(event).toMatchObject({ protocol_version: MODERN_ERA, session_id: expect.stringMatching(/^ctx-/) });
        expect(new Set(all.map((e) => e.session_id)).size).toBe(1);
      } else for (const event of all) expect(event).toMatchObject({ session_id: agent.sessionId() });
    });
  });

  it("refreshes on its own when its access token is refused, and carries on with the new one", async () => {
    const agent = agents[1]!;
    const before = agent.tokens();
    agent.saveTokens({ ...before, access_token: "refused-by-the-gateway" });
    const result = await agent.callTool("demo__echo", { text: "after the refresh" });
    expect(text(result)).toBe("after the refresh");
    const after = agent.tokens();
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

  describe("6. gateway instance failure", () => {
    it(
      driver.era === MODERN_ERA
        ? "the gateway's runtime is replaced between two calls; the next call succeeds through the same principal context"
        : "the gateway's runtime is replaced while the agent holds its session; the next call succeeds on the same session",
      async () => {
        const agent = agents[0]!;
        const sessionId = agent.sessionId();
        const [contextOrSession] = new Set((await agent.auditEvents(4)).map((e) => e.session_id));
        await stack.replaceGateway();
        const result = await agent.callTool("demo__echo", { text: "still here" });
        expect(text(result)).toBe("still here");
        expect(agent.sessionId()).toBe(sessionId);
        const events = await agent.auditEvents(5);
        expect(events.at(-1)).toMatchObject({
          tool: "demo__echo",
          decision: "allow",
          outcome: "success",
          session_id: contextOrSession,
        });
      },
    );
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
      expect(await toolNames({ listTools: async () => (await client.listTools()).tools })).toEqual(
        [...READ_CATALOG, "notes__create_note"].sort(),
      );
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

describe("across the eras: each era's agent on the other era's upstream, with input asked for during a call", () => {
  let modernUpstream: ModernMcpServer;
  let legacyUpstream: RecordingMcpServer;
  let eras: Stack;
  let token: string;

  beforeAll(async () => {
    [modernUpstream, legacyUpstream] = await Promise.all([startModernMcpServer(), startRecordingMcpServer()]);
    eras = await startStack({
      apps: [
        { name: "modern", type: "mcpProxy", upstream: { stream: { url: modernUpstream.url } }, timeout: "5s" },
        { name: "legacy", type: "mcpProxy", upstream: { stream: { url: legacyUpstream.url } }, timeout: "5s" },
      ],
    });
    token = await eras.token("agent-a");
  }, 120_000);
  afterAll(async () => {
    await eras?.dispose();
    await Promise.all([modernUpstream?.close(), legacyUpstream?.close()]);
  });

  const url = () => new URL(`${eras.as(token).url}/mcp`);
  const auth = () => ({ requestInit: { headers: { Authorization: `Bearer ${token}` } } });

  it("a 2026-07-28 agent answers a 2025-era upstream's elicitation as an input_required round trip and gets the call's result", async () => {
    const client = new ModernClient(
      { name: "modern-agent", version: "1.0.0" },
      { capabilities: { elicitation: {} }, versionNegotiation: { mode: { pin: MODERN_ERA } } },
    );
    const asked: unknown[] = [];
    client.setRequestHandler("elicitation/create", (request) => {
      asked.push(request.params);
      return { action: "accept", content: { name: "Ada" } };
    });
    await client.connect(new ModernTransport(url(), auth()));
    try {
      expect(client.getNegotiatedProtocolVersion()).toBe(MODERN_ERA);
      const result = await client.callTool({ name: "legacy__ask_client", arguments: { question: "Your name?" } });
      expect(text(result)).toBe('accept: {"name":"Ada"}');
      expect(asked).toEqual([expect.objectContaining({ message: "Your name?" })]);
      // The upstream heard a 2025 session: initialize, then its own elicitation answered on it.
      expect(legacyUpstream.requests.map((r) => r.rpcMethod)).toContain("initialize");
    } finally {
      await client.close();
    }
  });

  it("a 2026-07-28 agent answers sampling on a 2026-07-28 upstream too", async () => {
    const client = new ModernClient(
      { name: "modern-agent", version: "1.0.0" },
      { capabilities: { sampling: {} }, versionNegotiation: { mode: { pin: MODERN_ERA } } },
    );
    client.setRequestHandler("sampling/createMessage", () => ({
      role: "assistant",
      content: { type: "text", text: "4" },
      model: "test-model",
    }));
    await client.connect(new ModernTransport(url(), auth()));
    try {
      expect(text(await client.callTool({ name: "modern__sample", arguments: {} }))).toContain('"4"');
    } finally {
      await client.close();
    }
  });

  it("a 2025-11-25 agent answers a 2026-07-28 upstream's input_required as elicitation and sampling requests on its own stream", async () => {
    const client = new Client(
      { name: "legacy-agent", version: "1.0.0" },
      { capabilities: { elicitation: {}, sampling: {} } },
    );
    client.setRequestHandler(ElicitRequestSchema, async () => ({ action: "accept", content: { name: "Grace" } }));
    client.setRequestHandler(CreateMessageRequestSchema, async () => ({
      role: "assistant",
      content: { type: "text", text: "four" },
      model: "test-model",
    }));
    const transport = new StreamableHTTPClientTransport(url(), auth());
    await client.connect(transport);
    try {
      expect(client.getServerVersion()?.name).toBe("ai-identity-gateway");
      expect(transport.protocolVersion).toBe(LEGACY_ERA);
      expect(text(await client.callTool({ name: "modern__ask_name", arguments: {} }))).toBe('accept: {"name":"Grace"}');
      expect(text(await client.callTool({ name: "modern__sample", arguments: {} }))).toContain('"four"');
    } finally {
      await client.close();
    }
  });
});
