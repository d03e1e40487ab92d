// Peer worker for scenario 8 (docs/performance.md, Peers): Cloudflare's workers-oauth-provider as
// installed, serving authorization-code redemption, refresh and token exchange (RFC 8693) at its
// /token endpoint. Never deployed: the bench bundles it with wrangler and runs it in its own workerd.
//
// STORE=memory swaps its OAUTH_KV for a Map held by the isolate, so that what the bench measures is
// the provider's own CPU with no storage behind it; otherwise it uses Miniflare's local KV.
// /bench/* routes (the provider's defaultHandler) register the client and issue codes through the
// provider's own helpers, before the measured run: the bench does not time them.
import { OAuthProvider, type OAuthHelpers } from "@cloudflare/workers-oauth-provider";

interface Env {
  OAUTH_KV: KVNamespace;
  OAUTH_PROVIDER: OAuthHelpers;
  STORE?: string;
}

type GetType = "text" | "json" | "arrayBuffer" | "stream";

/** The parts of KVNamespace the provider calls, over a Map, with expiry checked on read. */
class MemoryKV {
  private readonly entries = new Map<string, { value: string; expires?: number; metadata?: unknown }>();

  private live(key: string) {
    const entry = this.entries.get(key);
    if (entry?.expires !== undefined && entry.expires <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  get(key: string, options?: GetType | { type?: GetType }): Promise<unknown> {
    const entry = this.live(key);
    const type = typeof options === "string" ? options : (options?.type ?? "text");
    if (!entry) return Promise.resolve(null);
    return Promise.resolve(type === "json" ? JSON.parse(entry.value) : entry.value);
  }

  async getWithMetadata(key: string, options?: GetType | { type?: GetType }) {
    return { value: await this.get(key, options), metadata: this.live(key)?.metadata ?? null };
  }

  put(key: string, value: string, options: { expirationTtl?: number; expiration?: number; metadata?: unknown } = {}) {
    const expires = options.expirationTtl
      ? Date.now() + options.expirationTtl * 1000
      : options.expiration
        ? options.expiration * 1000
        : undefined;
    this.entries.set(key, { value, ...(expires ? { expires } : {}), metadata: options.metadata });
    return Promise.resolve();
  }

  delete(key: string) {
    this.entries.delete(key);
    return Promise.resolve();
  }

  list(options: { prefix?: string; limit?: number } = {}) {
    const keys = [...this.entries.keys()]
      .filter((k) => this.live(k) && k.startsWith(options.prefix ?? ""))
      .slice(0, options.limit ?? 1000)
      .map((name) => ({ name, metadata: this.entries.get(name)?.metadata }));
    return Promise.resolve({ keys, list_complete: true, cacheStatus: null });
  }
}

const REDIRECT_URI = "http://127.0.0.1/cb";
const SCOPES = ["tools:read", "tools:write"];
const memory = new MemoryKV();

/** Client registration and code issuance for the bench, through the provider's helpers. */
async function benchRoutes(request: Request, env: Env): Promise<Response> {
  const url = new URL(request.url);
  if (request.method === "POST" && url.pathname === "/bench/client") {
    const client = await env.OAUTH_PROVIDER.createClient({
      redirectUris: [REDIRECT_URI],
      grantTypes: ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:token-exchange"],
      responseTypes: ["code"],
      tokenEndpointAuthMethod: "client_secret_basic",
      clientName: "bench",
    });
    return Response.json({ clientId: client.clientId, clientSecret: client.clientSecret, redirectUri: REDIRECT_URI });
  }
  if (request.method === "POST" && url.pathname === "/bench/codes") {
    const { clientId, n, codeChallenge } = await request.json<{ clientId: string; n: number; codeChallenge: string }>();
    const codes: string[] = [];
    for (let i = 0; i < n; i++) {
      const { redirectTo } = await env.OAUTH_PROVIDER.completeAuthorization({
        request: {
          responseType: "code",
          clientId,
          redirectUri: REDIRECT_URI,
          scope: SCOPES,
          state: "bench",
          codeChallenge,
          codeChallengeMethod: "S256",
        },
        userId: `bench-${crypto.randomUUID()}`,
        metadata: {},
        scope: SCOPES,
        props: { user: "bench" },
        revokeExistingGrants: false,
      });
      codes.push(new URL(redirectTo).searchParams.get("code")!);
    }
    return Response.json({ codes });
  }
  return new Response("not found", { status: 404 });
}

const provider = new OAuthProvider<Env>({
  apiRoute: "/api/",
  apiHandler: { fetch: () => Promise.resolve(new Response("ok")) },
  defaultHandler: { fetch: (request, env) => benchRoutes(request, env as Env) },
  authorizeEndpoint: "/authorize",
  tokenEndpoint: "/token",
  // The protected resource its tokens are for (RFC 9728); the bench calls only /token.
  resourceMetadata: { resource: "http://127.0.0.1/api" },
  scopesSupported: SCOPES,
  allowTokenExchangeGrant: true,
  accessTokenTTL: 3600,
});

export default {
  fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const bound = env.STORE === "memory" ? { ...env, OAUTH_KV: memory as unknown as KVNamespace } : env;
    return provider.fetch(request, bound, ctx);
  },
};
