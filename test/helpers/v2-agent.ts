// An agent on the v2 MCP SDK (`@modelcontextprotocol/client`), whose user signs in through
// Chromium: the SDK's own OAuth flow (401, RFC 9728 and RFC 8414 discovery, the MCP 2026-07-28
// scope selection strategy and its `offline_access` augmentation, registration with
// `application_type`, PKCE, the RFC 9207 `iss` check, redemption, refresh) behind a provider that
// only keeps state in memory. On purpose the provider configures no scope: what the agent asks
// for is whatever the gateway advertises.
import {
  Client,
  resolveClientMetadata,
  StreamableHTTPClientTransport,
  UnauthorizedError,
  type OAuthClientMetadata,
  type OAuthClientProvider,
  type OAuthDiscoveryState,
  type StoredOAuthClientInformation,
  type StoredOAuthTokens,
} from "@modelcontextprotocol/client";
import type { Browser } from "playwright-core";
import { signInWithBrowser } from "../../scripts/agent/browser-login.js";
import { startAgentLoopback, type AgentLoopback } from "../../scripts/agent/loopback.js";
import { recordingFetch, type RecordedRequest } from "./e2e-clients.js";
import type { E2eStack } from "./e2e-stack.js";

export type V2Registration = "client ID metadata document" | "dynamic registration";

export class V2AgentOAuthProvider implements OAuthClientProvider {
  /** Where the SDK sent the user: the authorization request. */
  authorizationUrl: URL | undefined;
  private info: StoredOAuthClientInformation | undefined;
  private saved: StoredOAuthTokens | undefined;
  private verifier = "";
  private discovery: OAuthDiscoveryState | undefined;

  /**
   * With `clientIdMetadataDocument`, that URL is presented as the client_id: the SDK's own
   * `clientMetadataUrl` takes https URLs only, and a local agent serves its document over loopback.
   */
  constructor(
    private readonly options: { clientName: string; redirectUrl: string; clientIdMetadataDocument?: string },
  ) {
    if (options.clientIdMetadataDocument) this.info = { client_id: options.clientIdMetadataDocument };
  }

  get redirectUrl(): string {
    return this.options.redirectUrl;
  }
  /** No `scope`, and `refresh_token` registered as MCP 2026-07-28 ("Refresh Tokens") asks. */
  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: this.options.clientName,
      redirect_uris: [this.options.redirectUrl],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  /** The client ID metadata document, with the defaults the SDK would register (`application_type`). */
  metadataDocument(): Record<string, unknown> {
    return { client_id: this.options.clientIdMetadataDocument, ...resolveClientMetadata(this) };
  }
  clientInformation(): StoredOAuthClientInformation | undefined {
    return this.info;
  }
  saveClientInformation(info: StoredOAuthClientInformation): void {
    this.info = info;
  }
  tokens(): StoredOAuthTokens | undefined {
    return this.saved;
  }
  saveTokens(tokens: StoredOAuthTokens): void {
    this.saved = tokens;
  }
  saveCodeVerifier(verifier: string): void {
    this.verifier = verifier;
  }
  codeVerifier(): string {
    return this.verifier;
  }
  redirectToAuthorization(url: URL): void {
    this.authorizationUrl = url;
  }
  /** Kept beside the verifier, so the SDK can bind the callback to the server it discovered. */
  saveDiscoveryState(state: OAuthDiscoveryState): void {
    this.discovery = state;
  }
  discoveryState(): OAuthDiscoveryState | undefined {
    return this.discovery;
  }
}

export interface V2Agent {
  client: Client;
  transport: StreamableHTTPClientTransport;
  provider: V2AgentOAuthProvider;
  loopback: AgentLoopback;
  traffic: RecordedRequest[];
  /** The redirect URI the browser ended on (code, state, iss). */
  callback: URL;
  clientId: string;
  close(): Promise<void>;
}

/** The v2 client, negotiating the protocol era (2026-07-28 first, then the 2025 handshake). */
export function v2Client(): Client {
  return new Client({ name: "e2e-v2-agent", version: "1.0.0" }, { versionNegotiation: { mode: "auto" } });
}

/**
 * A v2 SDK agent from a bare 401 to a connected client. `beforeRedeem` sees the callback before
 * the SDK redeems its code (an attacker's chance to swap `iss`).
 */
export async function connectV2Agent(
  stack: E2eStack,
  browser: Browser,
  registration: V2Registration,
  beforeRedeem?: (transport: StreamableHTTPClientTransport, callback: URL) => Promise<void>,
): Promise<V2Agent> {
  const loopback = await startAgentLoopback(
    registration === "client ID metadata document" ? { port: stack.ports.agent } : {},
  );
  const provider = new V2AgentOAuthProvider({
    clientName: `E2E v2 agent (${registration})`,
    redirectUrl: loopback.callbackUrl,
    ...(registration === "client ID metadata document" ? { clientIdMetadataDocument: loopback.metadataUrl } : {}),
  });
  loopback.metadata = provider.metadataDocument();
  const { fetch, traffic } = recordingFetch(stack.info.auth);
  const endpoint = new URL(stack.info.mcp);

  const first = new StreamableHTTPClientTransport(endpoint, { authProvider: provider, fetch });
  const refused = await v2Client()
    .connect(first)
    .then(
      () => undefined,
      (err: unknown) => err,
    );
  if (!(refused instanceof UnauthorizedError) || !provider.authorizationUrl)
    throw new Error(`expected the first connection to need authorization, got ${String(refused)}`);
  const arrived = loopback.nextCallback();
  await signInWithBrowser(browser, provider.authorizationUrl, stack.info.user, loopback.callbackUrl);
  const callback = await arrived;
  await beforeRedeem?.(first, callback);
  await first.finishAuth(callback.searchParams);

  const transport = new StreamableHTTPClientTransport(endpoint, { authProvider: provider, fetch });
  const client = v2Client();
  await client.connect(transport);
  return {
    client,
    transport,
    provider,
    loopback,
    traffic,
    callback,
    clientId: provider.clientInformation()!.client_id,
    async close() {
      await client.close();
      await loopback.close();
    },
  };
}
