// The end-to-end suites' agents and what they observe: an MCP SDK agent whose user signs in
// through Chromium (scripts/agent/, what `npm run agent` runs), the HTTP exchanges the SDK makes,
// and the audit events the gateway delivers to the demo collector.
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Browser } from "playwright-core";
import { vi } from "vitest";
import { signInWithBrowser } from "../../scripts/agent/browser-login.js";
import { startAgentLoopback, type AgentLoopback } from "../../scripts/agent/loopback.js";
import { AgentOAuthProvider } from "../../scripts/agent/oauth-provider.js";
import type { DemoUpstreams } from "../../scripts/demo-upstreams.js";
import type { DevStackInfo } from "../../scripts/dev-stack.js";
import type { E2eStack } from "./e2e-stack.js";

/** An access token of the dev stack's machine agent (client_credentials), as the README's curl gets it. */
export async function machineToken(info: DevStackInfo, scope = "tools:read tools:write"): Promise<string> {
  const { clientId, clientSecret } = info.machineAgent;
  const res = await fetch(`${info.auth}/token`, {
    method: "POST",
    headers: { Authorization: `Basic ${btoa(`${clientId}:${clientSecret}`)}` },
    body: new URLSearchParams({ grant_type: "client_credentials", resource: info.mcp, scope }),
  });
  const body = (await res.json()) as { access_token?: string };
  if (!res.ok || !body.access_token)
    throw new Error(`client_credentials failed: ${res.status} ${JSON.stringify(body)}`);
  return body.access_token;
}

/** A bare MCP `initialize` at the dev stack's gateway with `token`: the status and body it answers. */
export async function initializeAt(
  info: DevStackInfo,
  token: string,
  clientName: string,
  timeoutMs = 20_000,
): Promise<{ status: number; body: string }> {
  const res = await fetch(info.mcp, {
    method: "POST",
    headers: {
      Authorization: `Bearer ${token}`,
      "Content-Type": "application/json",
      Accept: "application/json, text/event-stream",
    },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: clientName, version: "1.0.0" } },
    }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { status: res.status, body: await res.text() };
}

export interface RecordedRequest {
  method: string;
  url: string;
  status: number;
  /** The request body, for the auth tier's endpoints (registration, token). */
  body?: string;
  /** The `WWW-Authenticate` challenge of a 401 or 403. */
  challenge?: string;
}

/**
 * A fetch for an SDK's transport (MCP and OAuth requests alike) that records each exchange, and
 * the bodies of requests to `authOrigin` when given.
 */
export function recordingFetch(authOrigin?: string): { fetch: typeof fetch; traffic: RecordedRequest[] } {
  const traffic: RecordedRequest[] = [];
  const recording: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    const body =
      authOrigin !== undefined && request.url.startsWith(authOrigin) && request.body
        ? await request.clone().text()
        : undefined;
    const res = await fetch(request);
    const challenge = res.headers.get("WWW-Authenticate") ?? undefined;
    traffic.push({
      method: request.method,
      url: request.url,
      status: res.status,
      ...(body !== undefined ? { body } : {}),
      ...(challenge ? { challenge } : {}),
    });
    return res;
  };
  return { fetch: recording, traffic };
}

export interface InteractiveAgent {
  client: Client;
  transport: StreamableHTTPClientTransport;
  provider: AgentOAuthProvider;
  loopback: AgentLoopback;
  /** Every HTTP exchange the SDK made, MCP and OAuth alike. */
  traffic: RecordedRequest[];
  clientId: string;
  close(): Promise<void>;
}

export type Registration = "client ID metadata document" | "dynamic registration";

/**
 * An SDK agent from a bare 401 to a connected client: the SDK discovers the auth tier and
 * registers (or presents its metadata document URL), the demo user signs in and consents in
 * Chromium, and the SDK redeems the code (PKCE) before connecting again with the token.
 */
export async function connectInteractiveAgent(
  stack: E2eStack,
  browser: Browser,
  registration: Registration,
  scope = "openid tools:read",
): Promise<InteractiveAgent> {
  // The dev auth tier fetches loopback metadata documents from the stack's agent origin only.
  const loopback = await startAgentLoopback(
    registration === "client ID metadata document" ? { port: stack.ports.agent } : {},
  );
  const provider = new AgentOAuthProvider({
    clientName: `E2E agent (${registration})`,
    redirectUrl: loopback.callbackUrl,
    scope,
    ...(registration === "client ID metadata document" ? { clientIdMetadataDocument: loopback.metadataUrl } : {}),
  });
  loopback.metadata = provider.metadataDocument();
  const { fetch, traffic } = recordingFetch(stack.info.auth);
  const endpoint = new URL(stack.info.mcp);

  const first = new StreamableHTTPClientTransport(endpoint, { authProvider: provider, fetch });
  const refused = await new Client({ name: "e2e-agent", version: "1.0.0" }).connect(first).then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(refused instanceof UnauthorizedError))
    throw new Error(`expected the first connection to need authorization, got ${String(refused)}`);
  const callback = loopback.nextCallback();
  await signInWithBrowser(browser, provider.authorizationUrl!, stack.info.user, loopback.callbackUrl);
  await first.finishAuth((await callback).searchParams.get("code")!);

  const transport = new StreamableHTTPClientTransport(endpoint, { authProvider: provider, fetch });
  const client = new Client({ name: "e2e-agent", version: "1.0.0" });
  await client.connect(transport);
  return {
    client,
    transport,
    provider,
    loopback,
    traffic,
    clientId: provider.clientInformation()!.client_id,
    async close() {
      await client.close();
      await loopback.close();
    },
  };
}

/**
 * The session's audit events once `count` have arrived (the gateway batches them to the sink
 * off the response path, every mcpProvider.audit.sink.flushInterval).
 */
export async function auditEventsOf(
  demo: DemoUpstreams,
  sessionId: string,
  count: number,
): Promise<Record<string, unknown>[]> {
  return vi.waitFor(
    () => {
      const events = demo.auditEvents.filter((event) => event.session_id === sessionId);
      if (events.length < count) throw new Error(`${events.length} of ${count} audit events so far`);
      return events;
    },
    { timeout: 10_000, interval: 50 },
  );
}

/** The audit events that `matches`, once `count` have arrived (as auditEventsOf, for agents without a session). */
export async function auditEventsWhere(
  demo: DemoUpstreams,
  matches: (event: Record<string, unknown>) => boolean,
  count: number,
): Promise<Record<string, unknown>[]> {
  return vi.waitFor(
    () => {
      const events = demo.auditEvents.filter(matches);
      if (events.length < count) throw new Error(`${events.length} of ${count} audit events so far`);
      return events;
    },
    { timeout: 10_000, interval: 50 },
  );
}
