// Attack: anyone registers a confidential client (RFC 7591) or publishes a client ID metadata
// document with private_key_jwt, asks the token endpoint for client_credentials, and holds a
// token for the gateway with every provider scope and no user behind it. Machine tokens are the
// operator's to grant: only configured clients get them, unless
// `oidcProvider.registration.machineClients` says otherwise, and then only its scopes and resources.
import { randomBytes } from "node:crypto";
import { decodeJwt, exportJWK, generateKeyPair, SignJWT, type CryptoKey } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Client } from "../../src/auth/clients/client.js";
import { authConfig, GATEWAY_RESOURCE } from "../helpers/auth-config.js";
import { startDocumentServer, type DocumentServer } from "../helpers/metadata-documents.js";
import { basic, oauthError, postForm } from "../helpers/oauth-requests.js";
import { sharedStore } from "../helpers/tokens.js";
import { startAuthWorker, type RunningWorker } from "../helpers/workers.js";

const REDIRECT = "http://127.0.0.1:9/callback";
const OTHER_API = "https://other.test/api";
const ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

function register(worker: RunningWorker, metadata: Record<string, unknown>): Promise<Response> {
  return worker.fetch("/register", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(metadata),
  });
}

function clientCredentials(
  worker: RunningWorker,
  clientId: string,
  secret: string,
  params: Record<string, string> = {},
): Promise<Response> {
  return postForm(
    worker,
    "/token",
    { grant_type: "client_credentials", resource: GATEWAY_RESOURCE, ...params },
    undefined,
    { Authorization: basic(clientId, secret) },
  );
}

async function clientAssertion(clientId: string, audience: string, key: CryptoKey): Promise<string> {
  return new SignJWT({ jti: randomBytes(8).toString("hex") })
    .setProtectedHeader({ alg: "ES256" })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(audience)
    .setIssuedAt()
    .setExpirationTime("1m")
    .sign(key);
}

describe("with registered machine clients off (the default)", () => {
  let auth: RunningWorker;
  let documents: DocumentServer;

  beforeAll(async () => {
    documents = await startDocumentServer();
    auth = await startAuthWorker({
      config: (url) =>
        authConfig(url, {
          rateLimits: { registration: { limit: 1000 } },
          clientIdMetadataDocuments: { allowedLoopbackOrigins: [documents.base] },
        }),
    });
  });
  afterAll(async () => {
    await auth.dispose();
    await documents.close();
  });

  it("refuses to register a client for the client_credentials grant (invalid_client_metadata)", async () => {
    for (const grants of [["client_credentials"], ["authorization_code", "client_credentials"]]) {
      const res = await register(auth, {
        token_endpoint_auth_method: "client_secret_basic",
        grant_types: grants,
        redirect_uris: [REDIRECT],
      });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({
        error: "invalid_client_metadata",
        error_description: expect.stringContaining("client_credentials"),
      });
    }
  });

  it("gives a registered confidential client no machine token at /token (unauthorized_client)", async () => {
    const res = await register(auth, {
      token_endpoint_auth_method: "client_secret_basic",
      grant_types: ["authorization_code"],
      redirect_uris: [REDIRECT],
    });
    expect(res.status).toBe(201);
    const registered = (await res.json()) as { client_id: string; client_secret: string };
    const answer = await clientCredentials(auth, registered.client_id, registered.client_secret, {
      scope: "tools:read tools:write",
    });
    expect(await oauthError(answer)).toMatchObject({ status: 400, error: "unauthorized_client" });
  });

  it("gives no machine token to a registration stored with client_credentials before the upgrade", async () => {
    // A record as /register used to write it: confidential, client_credentials, empty scope list.
    const clientId = randomBytes(16).toString("base64url");
    const secret = randomBytes(24).toString("base64url");
    const { createHash } = await import("node:crypto");
    const legacy: Client = {
      clientId,
      name: clientId,
      source: "registration",
      tokenEndpointAuthMethod: "client_secret_basic",
      secretHash: createHash("sha256").update(secret).digest("base64url"),
      redirectUris: [],
      grantTypes: ["client_credentials"],
      scopes: [],
      allowedAudiences: [],
      skipConsent: false,
    };
    await sharedStore().saveClient(clientId, legacy, 60_000);
    const answer = await clientCredentials(auth, clientId, secret, { scope: "tools:write" });
    expect(await oauthError(answer)).toMatchObject({ status: 400, error: "unauthorized_client" });
  });

  it("gives a metadata-document private_key_jwt client no machine token", async () => {
    const { publicKey, privateKey } = await generateKeyPair("ES256");
    const path = `/clients/${randomBytes(8).toString("hex")}/metadata.json`;
    const clientId = documents.base + path;
    documents.publish(path, {
      client_id: clientId,
      client_name: "Machine by document",
      redirect_uris: [REDIRECT],
      grant_types: ["authorization_code", "client_credentials"],
      token_endpoint_auth_method: "private_key_jwt",
      jwks: { keys: [await exportJWK(publicKey)] },
    });
    const res = await postForm(auth, "/token", {
      grant_type: "client_credentials",
      resource: GATEWAY_RESOURCE,
      scope: "tools:read tools:write",
      client_assertion_type: ASSERTION_TYPE,
      client_assertion: await clientAssertion(clientId, `${auth.url}/token`, privateKey),
    });
    const body = (await res.json()) as Record<string, unknown>;
    expect(body.access_token).toBeUndefined();
    expect({ status: res.status, error: body.error }).toEqual({ status: 400, error: "unauthorized_client" });
  });
});

describe("with registered machine clients switched on", () => {
  let auth: RunningWorker;

  beforeAll(async () => {
    auth = await startAuthWorker({
      config: (url) =>
        authConfig(url, {
          resources: [GATEWAY_RESOURCE, OTHER_API],
          rateLimits: { registration: { limit: 1000 } },
          registration: { machineClients: { enabled: true, scopes: ["tools:read"], resources: [GATEWAY_RESOURCE] } },
        }),
    });
  });
  afterAll(() => auth.dispose());

  async function machineClient(metadata: Record<string, unknown> = {}) {
    const res = await register(auth, {
      token_endpoint_auth_method: "client_secret_basic",
      grant_types: ["client_credentials"],
      ...metadata,
    });
    expect(res.status).toBe(201);
    return (await res.json()) as { client_id: string; client_secret: string; scope?: string };
  }

  it("registers a machine client with the switch's scopes, capping what it asked for", async () => {
    expect((await machineClient()).scope).toBe("tools:read");
    expect((await machineClient({ scope: "tools:read tools:write" })).scope).toBe("tools:read");
  });

  it("issues exactly the switch's scopes for the switch's resources", async () => {
    const registered = await machineClient();
    const ok = await clientCredentials(auth, registered.client_id, registered.client_secret, { scope: "tools:read" });
    expect(ok.status).toBe(200);
    const { access_token } = (await ok.json()) as { access_token: string };
    expect(decodeJwt(access_token)).toMatchObject({
      sub: registered.client_id,
      aud: GATEWAY_RESOURCE,
      scope: "tools:read",
    });

    const write = await clientCredentials(auth, registered.client_id, registered.client_secret, {
      scope: "tools:write",
    });
    expect(await oauthError(write)).toMatchObject({ status: 400, error: "invalid_scope" });
    const elsewhere = await clientCredentials(auth, registered.client_id, registered.client_secret, {
      scope: "tools:read",
      resource: OTHER_API,
    });
    expect(await oauthError(elsewhere)).toMatchObject({ status: 400, error: "invalid_target" });
  });

  it("still refuses client_credentials to a public client", async () => {
    const res = await register(auth, { token_endpoint_auth_method: "none", grant_types: ["client_credentials"] });
    expect(await oauthError(res)).toMatchObject({ status: 400, error: "invalid_client_metadata" });
  });
});
