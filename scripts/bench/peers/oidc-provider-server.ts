// Peer process for scenario 8 (docs/performance.md, Peers): panva's oidc-provider, as installed,
// issuing JWT access tokens (ES256, like the auth tier) to one confidential client through the
// client_credentials grant, for one resource (RFC 8707). Started by the bench as its own Node
// process, so that its CPU is read apart from the load generator's; it prints
// "listening <issuer> <client id> <client secret>" once it answers.
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer, type RequestListener } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair } from "jose";
import Provider from "oidc-provider";

const PEER_RESOURCE = "http://gateway.test/mcp";
const PEER_SCOPE = "tools:read tools:write";

let handle: RequestListener | undefined;
const server = createServer((req, res) => handle!(req, res)).listen(0, "127.0.0.1");
server.keepAliveTimeout = 60_000;
await once(server, "listening");
const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const clientId = "bench-agent";
const clientSecret = randomBytes(24).toString("base64url");
const { privateKey } = await generateKeyPair("ES256", { extractable: true });
const jwk = { ...(await exportJWK(privateKey)), alg: "ES256", use: "sig", kid: "bench-es256" };

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      grant_types: ["client_credentials"],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: "client_secret_basic",
      // Its only key is ES256 (the auth tier's algorithm); oidc-provider's default is RS256.
      id_token_signed_response_alg: "ES256",
      scope: PEER_SCOPE,
    },
  ],
  jwks: { keys: [jwk] },
  scopes: PEER_SCOPE.split(" "),
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => PEER_RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: PEER_SCOPE,
        audience: PEER_RESOURCE,
        accessTokenTTL: 3600,
        accessTokenFormat: "jwt",
        jwt: { sign: { alg: "ES256" } },
      }),
    },
  },
});
handle = provider.callback();
console.log(`listening ${issuer} ${clientId} ${clientSecret}`);
