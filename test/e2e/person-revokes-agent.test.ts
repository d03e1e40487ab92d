// The person takes an agent's access away, end to end (docs/auth/connected-agents.md,
// docs/auth/grants-and-admin.md "At the gateway"): the MCP SDK agent (v1 Client, Streamable HTTP
// transport and OAuth client, scripts/agent/) is signed in through Chromium and works; the person,
// in the same Chromium sign-in, opens Connected agents and revokes its grant; the gateway, which
// introspects agents' tokens (config/gateway.dev.yaml), then refuses the agent with 401, its SDK
// finds its refresh token revoked too and asks for a new authorization, and the old MCP session
// is gone for good; the person allows again (signed in already: the consent page only), and the
// agent works again in a new session. The stack is the one `npm run dev` runs.
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startAgentLoopback, type AgentLoopback } from "../../scripts/agent/loopback.js";
import { AgentOAuthProvider } from "../../scripts/agent/oauth-provider.js";
import { launchChromium } from "../helpers/browser.js";
import { recordingFetch } from "../helpers/e2e-clients.js";
import { startE2eStack, type E2eStack } from "../helpers/e2e-stack.js";

let stack: E2eStack;
let browser: Browser;
/** The person's one browser: their sign-in serves the authorizations and the Connected agents page alike. */
let person: BrowserContext;
let loopback: AgentLoopback;

beforeAll(async () => {
  [stack, browser] = await Promise.all([startE2eStack(), launchChromium()]);
  person = await browser.newContext();
  loopback = await startAgentLoopback();
});
afterAll(async () => {
  await loopback?.close();
  await person?.close();
  await browser?.close();
  await stack?.dispose();
});

/** The person answers an authorization request in their browser: signs in if asked, then allows. Whether they were asked to sign in. */
async function allowInBrowser(authorizationUrl: URL): Promise<boolean> {
  const page = await person.newPage();
  try {
    await page.goto(authorizationUrl.href);
    const signIn = new URL(page.url()).pathname === "/login";
    if (signIn) {
      await page.getByLabel("Username").fill(stack.info.user.username);
      await page.getByLabel("Password").fill(stack.info.user.password);
      await page.getByRole("button", { name: "Sign in" }).click();
    }
    await page.getByRole("button", { name: "Allow" }).click();
    await page.waitForURL((url) => url.href.startsWith(loopback.callbackUrl));
    return signIn;
  } finally {
    await page.close();
  }
}

/** The SDK's first attempt needs authorization; the person allows; the SDK redeems the code. */
async function authorize(provider: AgentOAuthProvider, transport: StreamableHTTPClientTransport): Promise<boolean> {
  const callback = loopback.nextCallback();
  const signedIn = await allowInBrowser(provider.authorizationUrl!);
  await transport.finishAuth((await callback).searchParams.get("code")!);
  return signedIn;
}

/** A connected SDK client on a fresh transport, with the provider's tokens. */
async function connect(provider: AgentOAuthProvider, fetch: typeof globalThis.fetch) {
  const transport = new StreamableHTTPClientTransport(new URL(stack.info.mcp), { authProvider: provider, fetch });
  const client = new Client({ name: "e2e-agent", version: "1.0.0" });
  await client.connect(transport);
  return { client, transport };
}

/** A raw MCP request on `sessionId` with `token`: the HTTP status the gateway answers. */
async function statusOnSession(token: string, sessionId: string): Promise<number> {
  const res = await fetch(stack.info.mcp, {
    method: "POST",
    headers: {
      Authorization: `Bearer ${token}`,
      "Content-Type": "application/json",
      Accept: "application/json, text/event-stream",
      "Mcp-Session-Id": sessionId,
      "MCP-Protocol-Version": "2025-11-25",
    },
    body: JSON.stringify({ jsonrpc: "2.0", id: 99, method: "tools/list" }),
  });
  await res.body?.cancel();
  return res.status;
}

async function revokeOnConnectedAgents(page: Page, clientId: string): Promise<void> {
  await page.goto(`${stack.info.auth}/account/agents`);
  // Signed in already: the page itself, not the login page.
  expect(new URL(page.url()).pathname).toBe("/account/agents");
  const card = page.locator("section.grant", { hasText: clientId });
  await expect.poll(() => card.count()).toBe(1);
  await card.getByRole("button", { name: "Revoke" }).click();
  await page.waitForURL((url) => url.search === "?revoked=1");
  expect(await page.locator("section.grant", { hasText: clientId }).count()).toBe(0);
}

describe("the person revokes an SDK agent on Connected agents", () => {
  it("the agent works until then, gets 401 and must authorize again, and then works in a new session", async () => {
    const provider = new AgentOAuthProvider({
      clientName: "E2E agent (revoked by its person)",
      redirectUrl: loopback.callbackUrl,
      scope: "openid tools:read",
    });
    const { fetch, traffic } = recordingFetch();

    // Signed in through Chromium, as in the checklist: a bare 401, discovery, registration, sign-in, consent.
    const first = new StreamableHTTPClientTransport(new URL(stack.info.mcp), { authProvider: provider, fetch });
    const refused = await new Client({ name: "e2e-agent", version: "1.0.0" }).connect(first).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(UnauthorizedError);
    expect(await authorize(provider, first)).toBe(true);
    const clientId = provider.clientInformation()!.client_id;
    const { client, transport } = await connect(provider, fetch);
    expect((await client.listTools()).tools.map((tool) => tool.name)).toContain("demo__echo");
    const oldSession = transport.sessionId!;
    const oldToken = provider.tokens()!.access_token;

    // The person, in the same browser and sign-in, revokes the agent's grant.
    const page = await person.newPage();
    await revokeOnConnectedAgents(page, clientId);
    await page.close();

    // The gateway learns it within its introspection interval; the agent's SDK then finds its
    // refresh token revoked too, and can only ask for a new authorization.
    provider.authorizationUrl = undefined;
    const failure = await vi.waitFor(
      async () => {
        const outcome = await client.listTools().then(
          () => null,
          (err: unknown) => err,
        );
        if (outcome === null) throw new Error("the agent still works");
        return outcome;
      },
      { timeout: 20_000, interval: 200 },
    );
    expect(failure).toBeInstanceOf(UnauthorizedError);
    const mcpStatuses = traffic.filter((t) => t.url === stack.info.mcp).map((t) => t.status);
    expect(mcpStatuses).toContain(401);
    expect(traffic.filter((t) => t.url === `${stack.info.auth}/token`).at(-1)!.status).toBe(400);
    expect(provider.authorizationUrl).toBeInstanceOf(URL);
    expect(await statusOnSession(oldToken, oldSession)).toBe(401);
    await client.close().catch(() => undefined);

    // The person allows again (the consent page only: they are still signed in).
    expect(await authorize(provider, transport)).toBe(false);
    const newToken = provider.tokens()!.access_token;
    expect(newToken).not.toBe(oldToken);
    // The old session cannot be resumed by the new grant's token: it is gone.
    expect(await statusOnSession(newToken, oldSession)).toBe(404);
    const again = await connect(provider, fetch);
    expect(again.transport.sessionId).not.toBe(oldSession);
    expect((await again.client.listTools()).tools.map((tool) => tool.name)).toContain("demo__echo");
    await again.client.close();
  });
});
