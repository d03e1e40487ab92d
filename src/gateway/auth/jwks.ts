// Signing keys of the authorization servers, fetched through the service binding or over the
// network and cached per isolate. jose's remote key set refetches on an unknown `kid` (key
// rotation), at most once per cooldown period, so a flood of forged kids cannot hammer the IdP.
import { createRemoteJWKSet, customFetch, type JWTVerifyGetKey } from "jose";
import type { AuthorizationServerConfig } from "../config-schema.js";
import type { GatewayEnv } from "../env.js";
import { fetcherFor, serverMetadata } from "./authorization-server.js";

const keySets = new Map<string, JWTVerifyGetKey>();

export async function keySetFor(env: GatewayEnv, server: AuthorizationServerConfig): Promise<JWTVerifyGetKey> {
  const cacheKey = `${server.issuer}\0${server.binding ?? ""}`;
  const existing = keySets.get(cacheKey);
  if (existing) return existing;
  const fetcher = fetcherFor(env, server);
  const keys = createRemoteJWKSet(new URL((await serverMetadata(fetcher, server)).jwks_uri), {
    [customFetch]: fetcher,
    timeoutDuration: 5_000,
    cooldownDuration: 30_000,
    cacheMaxAge: 10 * 60_000,
  });
  keySets.set(cacheKey, keys);
  return keys;
}
