// Auth-tier configurations for tests, built as objects and passed as AUTH_CONFIG.
import { randomBytes } from "node:crypto";

export const GATEWAY_RESOURCE = "http://gateway.test/mcp";

/** PBKDF2 hash of "correct horse" (see scripts/hash-password.ts), for the built-in user "alice". */
export const ALICE = {
  username: "alice",
  password: "correct horse",
  config: {
    username: "alice",
    passwordHash: "pbkdf2-sha256$100000$1cpoYrhLrjWjAEKDmX05rg$tK8VBLPI_k81GhK943uETUWFmth5tPOZ1CeG_1kf-lA",
    claims: { name: "Alice Example", email: "alice@example.com", email_verified: true, groups: ["engineering"] },
  },
};

export interface TestClient {
  clientId: string;
  secretEnv: string;
  secret: string;
}

/**
 * A confidential static client, with its secret as a binding. It may request the test
 * provider's scopes (an empty list would allow none); `extra` overrides that.
 */
export function confidentialClient(clientId: string, extra: Record<string, unknown> = {}) {
  const secretEnv = `SECRET_${clientId.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
  const secret = randomBytes(24).toString("base64url");
  return {
    client: { clientId, secretEnv, secret } satisfies TestClient,
    app: {
      name: clientId,
      clientId,
      clientSecret: { env: secretEnv },
      tokenEndpointAuthMethod: "client_secret_basic",
      scopes: ["tools:read", "tools:write"],
      ...extra,
    },
    bindings: { [secretEnv]: secret },
  };
}

/** An oidcProvider document for the worker at `url`, with `overrides` merged on top (shallow). */
export function authConfig(url: string, overrides: Record<string, unknown> = {}): string {
  return JSON.stringify({
    oidcProvider: {
      discovery: { issuer: url },
      resources: [GATEWAY_RESOURCE],
      scopes: ["tools:read", "tools:write"],
      // As config/auth.dev.yaml: registered and metadata-document clients may read tools.
      registration: { defaultScopes: ["tools:read"] },
      ...overrides,
    },
  });
}
