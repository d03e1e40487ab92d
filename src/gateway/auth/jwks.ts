// Signing keys of the authorization servers, fetched through the service binding or over the
// network and cached per isolate. jose's remote key set refetches on an unknown `kid` (key
// rotation), at most once per cooldown period, so a flood of forged kids cannot hammer the IdP.
import { createRemoteJWKSet, customFetch, type JWTVerifyGetKey } from "jose";
import type { GatewayEnv } from "../config.js";
import type { AuthorizationServerConfig } from "../config-schema.js";

const keySets = new Map<string, JWTVerifyGetKey>();
const metadata = new Map<string, Promise<string>>();

function fetcherFor(env: GatewayEnv, server: AuthorizationServerConfig): typeof fetch {
  const binding = server.binding ? (env as unknown as Record<string, Fetcher | undefined>)[server.binding] : undefined;
  if (server.binding && !binding) throw new Error(`the service binding ${server.binding} is not configured`);
  return binding ? (input, init) => binding.fetch(input as RequestInfo, init as RequestInit) : fetch;
}

/** The `jwks_uri` from the server's RFC 8414 metadata (cached; retried after a failure). */
async function jwksUri(fetcher: typeof fetch, server: AuthorizationServerConfig): Promise<string> {
  const wellKnown = server.wellKnownEndpoint ?? `${server.issuer.replace(/\/$/, "")}/.well-known/oauth-authorization-server`;
  let pending = metadata.get(wellKnown);
  if (!pending) {
    pending = (async () => {
      const res = await fetcher(wellKnown, { headers: { Accept: "application/json" }, signal: AbortSignal.timeout(5_000) });
      if (!res.ok) throw new Error(`authorization server metadata answered ${res.status}`);
      const body = (await res.json()) as { issuer?: unknown; jwks_uri?: unknown };
      // RFC 8414 §3.3: the metadata's issuer MUST equal the issuer it was fetched for.
      if (body.issuer !== server.issuer.replace(/\/$/, "") && body.issuer !== server.issuer) throw new Error("authorization server metadata names another issuer");
      if (typeof body.jwks_uri !== "string") throw new Error("authorization server metadata has no jwks_uri");
      return body.jwks_uri;
    })();
    metadata.set(wellKnown, pending);
    pending.catch(() => metadata.delete(wellKnown));
  }
  return pending;
}

export async function keySetFor(env: GatewayEnv, server: AuthorizationServerConfig): Promise<JWTVerifyGetKey> {
  const cacheKey = `${server.issuer}\0${server.binding ?? ""}`;
  const existing = keySets.get(cacheKey);
  if (existing) return existing;
  const fetcher = fetcherFor(env, server);
  const keys = createRemoteJWKSet(new URL(await jwksUri(fetcher, server)), {
    [customFetch]: fetcher,
    timeoutDuration: 5_000,
    cooldownDuration: 30_000,
    cacheMaxAge: 10 * 60_000,
  });
  keySets.set(cacheKey, keys);
  return keys;
}
