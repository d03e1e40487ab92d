// npm run agent: a scripted agent walks through the whole flow against the stack `npm run dev`
// runs, and prints each step — health, discovery from a bare 401, registration, the user's login
// in a browser, the policy at work, per-tool token exchange seen from the upstreams, and the
// audit trail — then does the same calls as a machine agent (client_credentials, no browser),
// which at last revokes its token and watches the gateway refuse it.
// The MCP parts are the MCP SDK's own Client, Streamable HTTP transport and OAuth client.
//
//   npm run agent                          client ID metadata document; Chromium signs in as demo/demo
//   npm run agent -- --registration dcr    dynamic client registration (RFC 7591) instead
//   npm run agent -- --browser manual      print the login URL and wait for you to sign in yourself
//
// It reads where the stack is from DEV_STACK_FILE (written by `npm run dev`).
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { ClientCredentialsProvider } from "@modelcontextprotocol/sdk/client/auth-extensions.js";
import {
  discoverAuthorizationServerMetadata,
  discoverOAuthProtectedResourceMetadata,
  UnauthorizedError,
} from "@modelcontextprotocol/sdk/client/auth.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { decodeJwt } from "jose";
import { CHROMIUM, launchChromium } from "../test/helpers/browser.js";
import { signInWithBrowser } from "./agent/browser-login.js";
import { startAgentLoopback } from "./agent/loopback.js";
import { AgentOAuthProvider } from "./agent/oauth-provider.js";
import { DEV_STACK_FILE, readDevStackInfo, type DevStackInfo } from "./dev-stack.js";

const { values: options } = parseArgs({
  options: {
    registration: { type: "string", default: "cimd" },
    browser: { type: "string", default: existsSync(CHROMIUM) ? "chromium" : "manual" },
  },
});
if (!["cimd", "dcr"].includes(options.registration) || !["chromium", "manual"].includes(options.browser)) {
  process.stderr.write("usage: npm run agent [-- --registration cimd|dcr] [-- --browser chromium|manual]\n");
  process.exit(2);
}

let stepNumber = 0;
const step = (title: string) => process.stdout.write(`\n${++stepNumber}. ${title}\n`);
const say = (line: string) => process.stdout.write(`   ${line}\n`);
const text = (result: unknown) => ((result as CallToolResult).content[0] as { text?: string } | undefined)?.text ?? "";
const cleanup: (() => Promise<unknown>)[] = [];

async function health(info: DevStackInfo): Promise<void> {
  step("Health: both tiers answer /status");
  for (const url of [info.auth, info.gateway]) {
    const res = await fetch(`${url}/status`).catch(() => {
      throw new Error(`${url} does not answer: is \`npm run dev\` still running?`);
    });
    say(`${url}/status → ${res.status} ${await res.text()}`);
    if (!res.ok) throw new Error(`${url} is not healthy`);
  }
}

async function discovery(info: DevStackInfo): Promise<void> {
  step("Discovery: the gateway refuses a request without a token and names its authorization server");
  const res = await fetch(info.mcp, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
  });
  say(`POST ${info.mcp} → ${res.status}, WWW-Authenticate: ${res.headers.get("WWW-Authenticate")}`);
  const resource = await discoverOAuthProtectedResourceMetadata(info.mcp);
  say(
    `protected resource metadata (RFC 9728): resource ${resource.resource}, authorization_servers ${JSON.stringify(resource.authorization_servers)}`,
  );
  const metadata = await discoverAuthorizationServerMetadata(resource.authorization_servers![0]!);
  say(`authorization server metadata (RFC 8414): issuer ${metadata?.issuer}`);
  say(`  token_endpoint ${metadata?.token_endpoint}, registration_endpoint ${metadata?.registration_endpoint}`);
  say(
    `  client_id_metadata_document_supported ${String((metadata as Record<string, unknown> | undefined)?.client_id_metadata_document_supported)}`,
  );
}

/** Registration, login and tokens, then a connected client: the SDK's OAuth flow end to end. */
async function signIn(
  info: DevStackInfo,
): Promise<{ client: Client; transport: StreamableHTTPClientTransport; clientId: string }> {
  const cimd = options.registration === "cimd";
  step(
    `Registration and login: ${cimd ? "a client ID metadata document" : "dynamic client registration (RFC 7591)"}, authorization code + PKCE`,
  );
  // A metadata document is fetched only from the origin the dev auth tier lists (info.agentOrigin).
  const loopback = await startAgentLoopback(cimd ? { port: Number(new URL(info.agentOrigin).port) } : {}).catch(
    (err: Error) => {
      throw new Error(
        `cannot listen on ${info.agentOrigin} for the metadata document (${err.message}): is another \`npm run agent\` running?`,
      );
    },
  );
  cleanup.push(() => loopback.close());
  const provider = new AgentOAuthProvider({
    clientName: "Demo agent (npm run agent)",
    redirectUrl: loopback.callbackUrl,
    scope: "openid tools:read",
    ...(cimd ? { clientIdMetadataDocument: loopback.metadataUrl } : {}),
  });
  loopback.metadata = provider.metadataDocument();
  const first = new StreamableHTTPClientTransport(new URL(info.mcp), { authProvider: provider });
  const refused = await new Client({ name: "demo-agent", version: "1.0.0" }).connect(first).then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(refused instanceof UnauthorizedError))
    throw new Error(`expected the gateway to ask for authorization, got ${String(refused)}`);
  const clientId = provider.clientInformation()!.client_id;
  say(
    cimd
      ? `client_id is the agent's metadata document URL: ${clientId}`
      : `registered at the auth tier: client_id ${clientId}`,
  );
  say(`authorization request: ${provider.authorizationUrl}`);
  const callback = loopback.nextCallback();
  if (options.browser === "chromium") {
    say(
      `Chromium (${CHROMIUM}) signs in as ${info.user.username} / ${info.user.password} and allows on the consent page`,
    );
    const browser = await launchChromium();
    try {
      await signInWithBrowser(browser, provider.authorizationUrl!, info.user, loopback.callbackUrl);
    } finally {
      await browser.close();
    }
  } else {
    say(
      `open that URL in your browser and sign in as ${info.user.username} / ${info.user.password}; waiting for the redirect...`,
    );
  }
  const redirect = await callback;
  say(`the browser came back to ${loopback.callbackUrl} with a code (iss ${redirect.searchParams.get("iss")})`);
  await first.finishAuth(redirect.searchParams.get("code")!);
  const tokens = provider.tokens()!;
  const claims = decodeJwt(tokens.access_token);
  say(
    `tokens: access token for sub ${claims.sub}, client_id ${claims.client_id}, aud ${String(claims.aud)}, scope "${claims.scope}", ${tokens.expires_in} s; refresh token ${tokens.refresh_token ? "yes" : "no"}`,
  );

  const transport = new StreamableHTTPClientTransport(new URL(info.mcp), { authProvider: provider });
  const client = new Client({ name: "demo-agent", version: "1.0.0" });
  await client.connect(transport);
  cleanup.push(() => client.close());
  say(`connected: MCP session ${transport.sessionId}`);
  return { client, transport, clientId };
}

async function useTools(client: Client): Promise<void> {
  step("Tools: the catalog this token may use (the scopes policy hides tools needing tools:write)");
  const { tools } = await client.listTools();
  for (const tool of tools) say(`${tool.name}  ${tool.description ?? ""}`);

  step(
    "Tool calls: the gateway exchanges the agent's token for a per-tool token (RFC 8693); each upstream says what it got",
  );
  for (const name of ["demo__whoami", "notes__whoami"]) {
    const seen = JSON.parse(text(await client.callTool({ name }))) as Record<string, unknown>;
    say(
      `${name}: user ${String(seen.user)}, acting agent ${JSON.stringify(seen.agent_chain)}, audience ${String(seen.audience)}, scope "${String(seen.scope ?? "")}", lifetime ${String(seen.lifetime_seconds)} s, jti ${String(seen.jti)}`,
    );
  }
  const denied = (await client.callTool({
    name: "notes__create_note",
    arguments: { body: { text: "hello" } },
  })) as CallToolResult;
  say(`notes__create_note: ${denied.isError ? "denied by policy" : "allowed"}: ${text(denied)}`);
}

async function audit(info: DevStackInfo, sessionId: string, count: number): Promise<void> {
  step(`Audit: the gateway's events for session ${sessionId.slice(0, 12)}… (from the demo audit collector)`);
  const deadline = Date.now() + 10_000;
  let events: Record<string, unknown>[] = [];
  // The gateway ships audit events in batches, off the response path.
  while (events.length < count && Date.now() < deadline) {
    const res = await fetch(`${info.auditEvents}?session_id=${encodeURIComponent(sessionId)}`, {
      headers: { Authorization: `Bearer ${info.auditToken}` },
    });
    events = ((await res.json()) as { events: Record<string, unknown>[] }).events;
    if (events.length < count) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  for (const e of events) {
    say(
      `${String(e.tool ?? e.prompt ?? e.resource)}: ${String(e.decision)}/${String(e.outcome)} agent=${String(e.agent)} user=${String(e.user)}${e.token_jti ? ` token_jti=${String(e.token_jti)}` : ""}${e.reason ? ` reason="${String(e.reason)}"` : ""}`,
    );
  }
  if (events.length < count) throw new Error(`expected ${count} audit events, the collector has ${events.length}`);
}

async function machineAgent(info: DevStackInfo): Promise<void> {
  step(`Machine agent: ${info.machineAgent.clientId}, client_credentials with tools:read tools:write, no browser`);
  const { clientId, clientSecret } = info.machineAgent;
  const provider = new ClientCredentialsProvider({
    clientId,
    clientSecret,
    scope: "tools:read tools:write",
    expectedIssuer: info.auth,
  });
  const transport = new StreamableHTTPClientTransport(new URL(info.mcp), { authProvider: provider });
  const client = new Client({ name: "demo-machine-agent", version: "1.0.0" });
  await client.connect(transport);
  cleanup.push(() => client.close());
  say(`tools: ${(await client.listTools()).tools.map((tool) => tool.name).join(", ")}`);
  const created = (await client.callTool({
    name: "notes__create_note",
    arguments: { body: { text: "written by the machine agent" } },
  })) as CallToolResult;
  say(`notes__create_note: ${created.isError ? "failed" : "created"}: ${text(created)}`);
  await audit(info, transport.sessionId!, 1);
  await revocation(info, (await provider.tokens())!.access_token, transport.sessionId!);
}

/**
 * The machine agent revokes its access token (RFC 7009) and keeps presenting it: the gateway asks
 * the auth tier whether a token is still active at most every 5 s (tokenValidation.introspection
 * in config/gateway.dev.yaml), so within that the token gets 401 on the very session it opened.
 * Plain fetch, because the SDK's client would fetch itself a new token on the 401.
 */
async function revocation(info: DevStackInfo, token: string, sessionId: string): Promise<void> {
  step("Revocation: the machine agent revokes its token, and the gateway refuses it on the next check");
  const { clientId, clientSecret } = info.machineAgent;
  const revoked = await fetch(`${info.auth}/revoke`, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-www-form-urlencoded",
      Authorization: `Basic ${btoa(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`)}`,
    },
    body: new URLSearchParams({ token, token_type_hint: "access_token" }),
  });
  say(`POST ${info.auth}/revoke → ${revoked.status}`);
  const started = Date.now();
  for (;;) {
    const res = await fetch(info.mcp, {
      method: "POST",
      headers: {
        Authorization: `Bearer ${token}`,
        "Content-Type": "application/json",
        Accept: "application/json, text/event-stream",
        "Mcp-Session-Id": sessionId,
        "MCP-Protocol-Version": "2025-11-25",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
    });
    await res.body?.cancel();
    if (res.status === 401) {
      say(
        `refused ${((Date.now() - started) / 1000).toFixed(1)} s after revocation: ${res.status}, WWW-Authenticate: ${res.headers.get("WWW-Authenticate")}`,
      );
      return;
    }
    if (Date.now() - started > 10_000)
      throw new Error(`the gateway still answers ${res.status} to a token revoked 10 s ago`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function main(): Promise<void> {
  const info = readDevStackInfo();
  if (!info) throw new Error(`no running stack found (${DEV_STACK_FILE}): start it with \`npm run dev\` first`);
  process.stdout.write(`Agent demo against ${info.mcp}\n`);
  await health(info);
  await discovery(info);
  const { client, transport } = await signIn(info);
  await useTools(client);
  await audit(info, transport.sessionId!, 3);
  await machineAgent(info);
  process.stdout.write("\nDone: discovery, login, policy, token exchange, audit and revocation, end to end.\n");
}

try {
  await main();
} catch (err) {
  process.stderr.write(`\nagent failed: ${(err as Error).message}\n`);
  process.exitCode = 1;
} finally {
  for (const close of cleanup.reverse()) await close().catch(() => undefined);
}
