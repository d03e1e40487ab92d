// How the gateway reaches an authorization server it trusts: through its service binding when
// one is configured, else over the network, and what its RFC 8414 metadata says.
import type { AuthorizationServerConfig } from "../config-schema.js";
import type { GatewayEnv } from "../env.js";

export interface ServerMetadata {
  jwks_uri: string;
  introspection_endpoint?: string;
}

const metadata = new Map<string, Promise<ServerMetadata>>();

export function fetcherFor(env: GatewayEnv, server: AuthorizationServerConfig): typeof fetch {
  const binding = server.binding ? (env as unknown as Record<string, Fetcher | undefined>)[server.binding] : undefined;
  if (server.binding && !binding) throw new Error(`the service binding ${server.binding} is not configured`);
  return binding ? (input, init) => binding.fetch(input as RequestInfo, init as RequestInit) : fetch;
}

/** The server's RFC 8414 metadata (cached per isolate; fetched again after a failure). */
export function serverMetadata(fetcher: typeof fetch, server: AuthorizationServerConfig): Promise<ServerMetadata> {
  const wellKnown =
    server.wellKnownEndpoint ?? `${server.issuer.replace(/\/$/, "")}/.well-known/oauth-authorization-server`;
  let pending = metadata.get(wellKnown);
  if (!pending) {
    pending = (async () => {
      const res = await fetcher(wellKnown, {
        headers: { Accept: "application/json" },
        signal: AbortSignal.timeout(5_000),
      });
      if (!res.ok) throw new Error(`authorization server metadata answered ${res.status}`);
      const body = (await res.json()) as { issuer?: unknown; jwks_uri?: unknown; introspection_endpoint?: unknown };
      // RFC 8414 §3.3: the metadata's issuer MUST equal the issuer it was fetched for.
      if (body.issuer !== server.issuer.replace(/\/$/, "") && body.issuer !== server.issuer)
        throw new Error("authorization server metadata names another issuer");
      if (typeof body.jwks_uri !== "string") throw new Error("authorization server metadata has no jwks_uri");
      return {
        jwks_uri: body.jwks_uri,
        ...(typeof body.introspection_endpoint === "string"
          ? { introspection_endpoint: body.introspection_endpoint }
          : {}),
      };
    })();
    metadata.set(wellKnown, pending);
    pending.catch(() => metadata.delete(wellKnown));
  }
  return pending;
}
