// The agent's side of the MCP SDK's OAuth client (OAuthClientProvider): where it keeps its
// registration, PKCE verifier and tokens (in memory), and how it identifies itself. The flow
// itself — 401, RFC 9728 discovery, RFC 8414 metadata, registration, PKCE, code redemption,
// refresh — is the SDK's own.
import type { OAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js";
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from "@modelcontextprotocol/sdk/shared/auth.js";

export interface AgentOAuthOptions {
  clientName: string;
  redirectUrl: string;
  /** Space-separated scopes to ask for. */
  scope: string;
  /**
   * Identify with a client ID metadata document at this URL instead of registering (RFC 7591).
   * The SDK's own `clientMetadataUrl` takes https URLs only, as the CIMD draft requires; a local
   * agent serves its document over loopback http (which the dev auth tier accepts from the one
   * origin it lists, `clientIdMetadataDocuments.allowedLoopbackOrigins`), so the URL is presented
   * as the client_id directly.
   */
  clientIdMetadataDocument?: string;
}

export class AgentOAuthProvider implements OAuthClientProvider {
  /** Where the SDK sent the user: the authorization request (the agent opens it in a browser). */
  authorizationUrl: URL | undefined;
  private info: OAuthClientInformationMixed | undefined;
  private saved: OAuthTokens | undefined;
  private verifier = "";

  constructor(private readonly options: AgentOAuthOptions) {
    if (options.clientIdMetadataDocument) this.info = { client_id: options.clientIdMetadataDocument };
  }

  get redirectUrl(): string {
    return this.options.redirectUrl;
  }
  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: this.options.clientName,
      redirect_uris: [this.options.redirectUrl],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
      scope: this.options.scope,
    };
  }
  /** The client ID metadata document to serve at options.clientIdMetadataDocument. */
  metadataDocument(): Record<string, unknown> {
    return { client_id: this.options.clientIdMetadataDocument, ...this.clientMetadata };
  }
  clientInformation(): OAuthClientInformationMixed | undefined {
    return this.info;
  }
  saveClientInformation(info: OAuthClientInformationMixed): void {
    this.info = info;
  }
  tokens(): OAuthTokens | undefined {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens): void {
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
  /**
   * What the SDK asks to forget when the authorization server refuses it: after `invalid_grant`
   * (its grant was revoked, docs/auth/connected-agents.md) the tokens, so that it asks for a new
   * authorization instead of presenting the dead refresh token again; after `invalid_client` the
   * registration too (a document URL client_id is its identity, and stays).
   */
  invalidateCredentials(scope: "all" | "client" | "tokens" | "verifier" | "discovery"): void {
    if (scope === "all" || scope === "tokens") this.saved = undefined;
    if (scope === "all" || scope === "verifier") this.verifier = "";
    if ((scope === "all" || scope === "client") && !this.options.clientIdMetadataDocument) this.info = undefined;
  }
}
