// An agent as the MCP SDK builds one: its Client, its Streamable HTTP transport and its OAuth
// client provider. From a bare 401 it discovers the auth tier through the gateway's resource
// metadata, registers itself (RFC 7591), sends the user through authorization code + PKCE
// (here the login and consent pages are driven over HTTP; test/auth/browser-login.test.ts
// drives them in Chromium), and connects with the token it receives.
import type { OAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from "@modelcontextprotocol/sdk/shared/auth.js";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALICE } from "../helpers/auth-config.js";
import { startStack, type Stack } from "../helpers/gateway-stack.js";
import { authorize } from "../helpers/login-flow.js";
import {
  startEverythingServer,
  startRecordingMcpServer,
  type EverythingServer,
  type RecordingMcpServer,
} from "../helpers/upstream-mcp.js";

const REDIRECT = "http://127.0.0.1:9/oauth/callback";

/** The SDK's OAuth client provider, with the user's browser played by the login-flow helper. */
class HeadlessAgent implements OAuthClientProvider {
  info: OAuthClientInformationMixed | undefined;
  saved: OAuthTokens | undefined;
  verifier = "";
  /** Where the authorization server finally sent the "browser". */
  callback: URL | undefined;

  constructor(private readonly stack: Stack) {}

  get redirectUrl() {
    return REDIRECT;
  }
  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: "SDK test agent",
      scope: "openid tools:read",
      redirect_uris: [REDIRECT],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  clientInformation() {
    return this.info;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.info = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens;
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
  async redirectToAuthorization(url: URL) {
    expect(url.origin).toBe(this.stack.auth.url);
    const { redirect } = await authorize(this.stack.auth, Object.fromEntries(url.searchParams), {
      username: ALICE.username,
      password: ALICE.password,
    });
    this.callback = redirect;
  }
}

describe("an MCP SDK agent with OAuth, from a bare 401 to a working session", () => {
  let stack: Stack;
  let upstream: RecordingMcpServer;
  let everything: EverythingServer;
  beforeAll(async () => {
    [upstream, everything] = await Promise.all([startRecordingMcpServer(), startEverythingServer()]);
    const exchange = (audience: string) => ({
      type: "tokenExchange",
      tokenExchange: { idp: "auth", audience, defaults: { ttl: "5s", scopes: [{ name: "tools:read" }] } },
    });
    stack = await startStack({
      selfResource: true,
      exchangeAudiences: ["https://recording.test", "https://everything.test"],
      apps: [
        {
          name: "recording",
          type: "mcpProxy",
          upstream: { stream: { url: upstream.url } },
          authorization: { outbound: exchange("https://recording.test") },
        },
        // An independent MCP server implementation behind the gateway.
        {
          name: "everything",
          type: "mcpProxy",
          upstream: { stream: { url: everything.url } },
          authorization: { outbound: exchange("https://everything.test") },
        },
      ],
    });
  });
  afterAll(async () => {
    await stack.dispose();
    await Promise.all([upstream.close(), everything.close()]);
  });

  it("discovers, registers, logs the user in, lists tools across two apps and calls them through token exchange", async () => {
    const agent = new HeadlessAgent(stack);
    const endpoint = new URL(`${stack.gateway.url}/mcp`);

    const first = new StreamableHTTPClientTransport(endpoint, { authProvider: agent });
    await expect(new Client({ name: "sdk-agent", version: "1.0.0" }).connect(first)).rejects.toBeInstanceOf(
      UnauthorizedError,
    );
    expect(agent.info?.client_id).toEqual(expect.any(String));
    const code = agent.callback?.searchParams.get("code");
    expect(agent.callback?.searchParams.get("iss")).toBe(stack.auth.url);
    await first.finishAuth(code!);

    const claims = decodeJwt(agent.saved!.access_token);
    expect(claims).toMatchObject({
      sub: "alice",
      aud: stack.resource,
      client_id: agent.info!.client_id,
      iss: stack.auth.url,
    });

    const transport = new StreamableHTTPClientTransport(endpoint, { authProvider: agent });
    const client = new Client({ name: "sdk-agent", version: "1.0.0" });
    await client.connect(transport);
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(["recording__echo", "everything__echo"]));

    const echoed = await client.callTool({ name: "everything__echo", arguments: { message: "through the gateway" } });
    expect(echoed.content).toEqual([{ type: "text", text: "Echo: through the gateway" }]);
    await client.callTool({ name: "recording__echo", arguments: { text: "who am I?" } });
    const reached = upstream.requests.filter((r) => r.rpcMethod === "tools/call").at(-1)!;
    const exchanged = decodeJwt(reached.authorization!.replace(/^Bearer /, ""));
    // The user logged in through the browser flow; the agent (its registered client) acts for them.
    expect(exchanged).toMatchObject({
      sub: "alice",
      aud: "https://recording.test",
      act: { sub: agent.info!.client_id, client_id: agent.info!.client_id },
    });
    expect(reached.authorization).not.toContain(agent.saved!.access_token);

    await transport.terminateSession();
    await client.close();
  });
});
