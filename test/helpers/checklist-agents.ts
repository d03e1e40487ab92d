// The production checklist's agents behind one small interface, so the same steps run with both
// MCP SDK clients on the stack `npm run dev` runs: the v2 client (`@modelcontextprotocol/client`,
// its own OAuth flow, negotiating MCP 2026-07-28, no session) and the v1 client
// (`@modelcontextprotocol/sdk`, scripts/agent/'s OAuth provider, MCP 2025-11-25 in a session).
// Each driver connects an agent from a bare 401 (discovery, a client ID metadata document or
// dynamic registration, the person signing in through Chromium), and reports what the checklist
// observes: the HTTP exchanges, the tokens, the negotiated revision and the agent's audit events.
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { Browser } from "playwright-core";
import {
  auditEventsOf,
  auditEventsWhere,
  connectInteractiveAgent,
  type RecordedRequest,
  type Registration,
} from "./e2e-clients.js";
import type { E2eStack } from "./e2e-stack.js";
import { connectV2Agent } from "./v2-agent.js";

export type { Registration };

export const MODERN_ERA = "2026-07-28";
export const LEGACY_ERA = "2025-11-25";

interface Tokens {
  access_token: string;
  refresh_token?: string;
}

/** One connected agent, as the checklist sees it whichever client it is. */
export interface ChecklistAgent {
  clientId: string;
  /** The URL of the agent's client ID metadata document (served on its loopback). */
  metadataUrl: string;
  callbackUrl: string;
  /** Every HTTP exchange the SDK made, MCP and OAuth alike. */
  traffic: RecordedRequest[];
  /** Where the SDK sent the person: the authorization request. */
  authorizationUrl: URL;
  /** The redirect the browser ended on (code, state, iss); only where the driver sees it. */
  callback?: URL;
  /** What the SDK did with a callback whose `iss` was forged before redemption (RFC 9207 §2.4), when the driver tried. */
  mixUp?: unknown;
  tokens(): Tokens;
  saveTokens(tokens: Tokens): void;
  negotiatedVersion(): string | undefined;
  /** The MCP session the agent holds (2025-11-25); none in 2026-07-28. */
  sessionId(): string | undefined;
  listTools(): Promise<{ name: string }[]>;
  callTool(name: string, args?: Record<string, unknown>): Promise<CallToolResult>;
  /** This agent's audit events (of its era) once `count` have arrived. */
  auditEvents(count: number): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

export interface ChecklistDriver {
  /** Which SDK client, for test names. */
  client: string;
  /** The revision it must end up on. */
  era: typeof MODERN_ERA | typeof LEGACY_ERA;
  connect(stack: E2eStack, browser: Browser, registration: Registration): Promise<ChecklistAgent>;
}

/**
 * The v2 client with no scope configured. With dynamic registration it is also handed a callback
 * whose `iss` names another issuer before it redeems the genuine one (a mix-up attempt).
 */
export const V2_CLIENT: ChecklistDriver = {
  client: "v2 SDK client",
  era: MODERN_ERA,
  async connect(stack, browser, registration) {
    let mixUp: unknown;
    const agent = await connectV2Agent(
      stack,
      browser,
      registration,
      registration === "dynamic registration"
        ? async (transport, callback) => {
            const forged = new URLSearchParams(callback.searchParams);
            forged.set("iss", "https://attacker.example");
            mixUp = await transport.finishAuth(forged).then(
              () => undefined,
              (err: unknown) => err,
            );
          }
        : undefined,
    );
    const { client, provider } = agent;
    return {
      clientId: agent.clientId,
      metadataUrl: agent.loopback.metadataUrl,
      callbackUrl: agent.loopback.callbackUrl,
      traffic: agent.traffic,
      authorizationUrl: provider.authorizationUrl!,
      callback: agent.callback,
      ...(registration === "dynamic registration" ? { mixUp } : {}),
      tokens: () => provider.tokens()!,
      saveTokens: (tokens) => provider.saveTokens({ token_type: "Bearer", ...provider.tokens(), ...tokens }),
      negotiatedVersion: () => client.getNegotiatedProtocolVersion(),
      sessionId: () => agent.transport.sessionId,
      listTools: async () => (await client.listTools()).tools,
      callTool: async (name, args) =>
        (await client.callTool({ name, ...(args ? { arguments: args } : {}) })) as CallToolResult,
      // No session: the agent's 2026-07-28 calls are the ones naming it and that revision.
      auditEvents: (count) =>
        auditEventsWhere(
          stack.demo,
          (event) => event.agent === agent.clientId && event.protocol_version === MODERN_ERA,
          count,
        ),
      close: () => agent.close(),
    };
  },
};

/** The v1 client with scripts/agent/'s OAuth provider, asking for `openid tools:read`. */
export const V1_CLIENT: ChecklistDriver = {
  client: "v1 SDK client",
  era: LEGACY_ERA,
  async connect(stack, browser, registration) {
    const agent = await connectInteractiveAgent(stack, browser, registration);
    const { client, provider, transport } = agent;
    return {
      clientId: agent.clientId,
      metadataUrl: agent.loopback.metadataUrl,
      callbackUrl: agent.loopback.callbackUrl,
      traffic: agent.traffic,
      authorizationUrl: provider.authorizationUrl!,
      tokens: () => provider.tokens()!,
      saveTokens: (tokens) => provider.saveTokens({ token_type: "Bearer", ...provider.tokens(), ...tokens }),
      negotiatedVersion: () => transport.protocolVersion,
      sessionId: () => transport.sessionId,
      listTools: async () => (await client.listTools()).tools,
      callTool: async (name, args) =>
        (await client.callTool({ name, ...(args ? { arguments: args } : {}) })) as CallToolResult,
      auditEvents: (count) => auditEventsOf(stack.demo, transport.sessionId!, count),
      close: () => agent.close(),
    };
  },
};
