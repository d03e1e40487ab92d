// Both tiers side by side, the way agents meet them: an auth worker with two machine agents,
// and a gateway that trusts it through the AUTH binding. Agents get real tokens from the auth
// tier (client credentials) for the gateway's resource.
import { ALICE, authConfig, confidentialClient, GATEWAY_RESOURCE } from "./auth-config.js";
import { freePort, startAuthWorker, startGatewayWorker, type RunningWorker } from "./workers.js";

export interface Stack {
  auth: RunningWorker;
  gateway: RunningWorker;
  /** The gateway's resource identifier (the audience of agents' tokens). */
  resource: string;
  /** A fresh access token for one of the stack's agents ("agent-a" or "agent-b"); scope default "tools:read tools:write". */
  token(agent?: "agent-a" | "agent-b", audience?: string, scope?: string): Promise<string>;
  /** The gateway as seen by an agent: every request carries the agent's token. */
  as(token: string): RunningWorker;
  /** The agent revokes its own token at the auth tier (RFC 7009). */
  revoke(token: string, agent?: "agent-a" | "agent-b"): Promise<void>;
  dispose(): Promise<void>;
}

export interface StackOptions {
  stream?: Record<string, unknown>;
  persistDir?: string;
  /** The gateway's apps (top-level `apps` of its configuration). */
  apps?: unknown[];
  /** Audiences the gateway may exchange agents' tokens for (its upstreams). */
  exchangeAudiences?: string[];
  /**
   * Make the gateway's resource its real URL (http://127.0.0.1:<port>/mcp) instead of
   * GATEWAY_RESOURCE: clients such as the MCP SDK check that the resource metadata names the
   * server they connected to (RFC 9728 §3.3).
   */
  selfResource?: boolean;
  /** mcpProvider.audit (e.g. an HTTP sink started by the test). */
  audit?: Record<string, unknown>;
  /** mcpProvider.authorization.oauth.requiredScopes. */
  requiredScopes?: string[];
  /** mcpProvider.authorization.oauth.scopesSupported (absent: derived from the apps). */
  scopesSupported?: string[];
  /**
   * mcpProvider.authorization besides `oauth` (policies, defaultDecision). Default
   * `{defaultDecision: "allow"}`: suites about other things run without policies; the policy
   * suites say what they configure.
   */
  authorization?: Record<string, unknown>;
  /** `observability` of both tiers' configurations (e.g. an OTLP receiver started by the test). */
  observability?: Record<string, unknown>;
  /** Added to the auth tier's `tokenValidation` in the gateway's configuration (e.g. introspection). */
  tokenValidation?: Record<string, unknown>;
  /** mcpProvider.limits. */
  limits?: Record<string, unknown>;
  /** Added to the auth tier's `oidcProvider` (e.g. `admin`), and the secrets it names. */
  authProvider?: { config?: Record<string, unknown>; bindings?: Record<string, string> };
  /** The gateway runs without its PRINCIPAL_LIMITS binding (the principal's object cannot be asked). */
  withoutPrincipalLimits?: boolean;
}

export const GATEWAY_CLIENT = confidentialClient("gateway", {
  grantTypes: ["urn:ietf:params:oauth:grant-type:token-exchange"],
  introspection: true,
});

export function gatewayConfig(
  issuer: string,
  options: Pick<
    StackOptions,
    | "stream"
    | "apps"
    | "audit"
    | "requiredScopes"
    | "scopesSupported"
    | "authorization"
    | "observability"
    | "tokenValidation"
    | "limits"
  > & { resource?: string } = {},
): string {
  const resource = options.resource ?? GATEWAY_RESOURCE;
  return JSON.stringify({
    mcpProvider: {
      resource,
      authorization: {
        oauth: {
          servers: [
            { issuer, binding: "AUTH", tokenValidation: { expectedAudiences: [resource], ...options.tokenValidation } },
          ],
          ...(options.requiredScopes ? { requiredScopes: options.requiredScopes } : {}),
          ...(options.scopesSupported ? { scopesSupported: options.scopesSupported } : {}),
        },
        ...(options.authorization ?? { defaultDecision: "allow" }),
      },
      identityProviders: {
        auth: {
          tokenEndpoint: `${issuer}/token`,
          binding: "AUTH",
          clientId: GATEWAY_CLIENT.client.clientId,
          clientSecret: { env: GATEWAY_CLIENT.client.secretEnv },
        },
      },
      transports: { stream: options.stream ?? {} },
      ...(options.audit ? { audit: options.audit } : {}),
      ...(options.observability ? { observability: options.observability } : {}),
      ...(options.limits ? { limits: options.limits } : {}),
    },
    apps: options.apps ?? [],
  });
}

export function withToken(worker: RunningWorker, token: string): RunningWorker {
  return {
    ...worker,
    fetch: (path, init = {}) =>
      worker.fetch(path, {
        ...init,
        headers: { Authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) },
      }),
  };
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const gatewayPort = options.selfResource ? await freePort() : undefined;
  const resource = gatewayPort ? `http://127.0.0.1:${gatewayPort}/mcp` : GATEWAY_RESOURCE;
  const gatewayClient = { ...GATEWAY_CLIENT.app, allowedAudiences: options.exchangeAudiences ?? [] };
  const agents = {
    "agent-a": confidentialClient("agent-a", { grantTypes: ["client_credentials"] }),
    "agent-b": confidentialClient("agent-b", { grantTypes: ["client_credentials"] }),
  };
  const auth = await startAuthWorker({
    config: (url) =>
      authConfig(url, {
        resources: [resource],
        apps: [gatewayClient, ...Object.values(agents).map((a) => a.app)],
        login: { users: [ALICE.config] },
        ...(options.observability ? { observability: options.observability } : {}),
        ...options.authProvider?.config,
      }),
    bindings: Object.assign(
      {},
      GATEWAY_CLIENT.bindings,
      ...Object.values(agents).map((a) => a.bindings),
      options.authProvider?.bindings,
    ),
  });
  const gateway = await startGatewayWorker({
    auth,
    config: gatewayConfig(auth.url, { ...options, resource }),
    ...(gatewayPort ? { port: gatewayPort } : {}),
    bindings: GATEWAY_CLIENT.bindings,
    ...(options.persistDir ? { persistDir: options.persistDir } : {}),
    ...(options.withoutPrincipalLimits ? { withoutPrincipalLimits: true } : {}),
  });
  return {
    auth,
    gateway,
    resource,
    async token(agent = "agent-a", audience = resource, scope = "tools:read tools:write") {
      const { clientId, secret } = agents[agent].client;
      const res = await auth.fetch("/token", {
        method: "POST",
        headers: {
          "Content-Type": "application/x-www-form-urlencoded",
          Authorization: `Basic ${btoa(`${clientId}:${secret}`)}`,
        },
        body: new URLSearchParams({ grant_type: "client_credentials", resource: audience, scope }),
      });
      const body = (await res.json()) as { access_token?: string };
      if (!res.ok || !body.access_token)
        throw new Error(`client_credentials failed: ${res.status} ${JSON.stringify(body)}`);
      return body.access_token;
    },
    as: (token) => withToken(gateway, token),
    async revoke(token, agent = "agent-a") {
      const { clientId, secret } = agents[agent].client;
      const res = await auth.fetch("/revoke", {
        method: "POST",
        headers: {
          "Content-Type": "application/x-www-form-urlencoded",
          Authorization: `Basic ${btoa(`${clientId}:${secret}`)}`,
        },
        body: new URLSearchParams({ token, token_type_hint: "access_token" }),
      });
      if (!res.ok) throw new Error(`revocation failed: ${res.status} ${await res.text()}`);
    },
    async dispose() {
      await gateway.dispose();
      await auth.dispose();
    },
  };
}

/** An MCP Proxy app in front of `url` whose calls carry a token exchanged for `audience` (the usual shape of a spec's app). */
export function exchangingProxyApp(name: string, url: string, audience: string) {
  return {
    name,
    type: "mcpProxy",
    upstream: { stream: { url } },
    authorization: { outbound: { type: "tokenExchange", tokenExchange: { idp: "auth", audience } } },
  };
}
