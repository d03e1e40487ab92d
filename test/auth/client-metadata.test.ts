// Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document, MCP 2025-11-25):
// the auth worker fetches documents from a real HTTP server in this process. Whether a client_id
// resolved shows at the token endpoint: an unknown client fails client authentication (401
// invalid_client), a known one gets as far as the bogus code (400 invalid_grant).
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { decodeJwt, exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientIdUrlProblem } from "../../src/auth/clients/metadata-document.js";
import { ALICE, authConfig, GATEWAY_RESOURCE } from "../helpers/auth-config.js";
import { KNOWN_CLIENT, publicClientTokens, tokenEndpointAnswer, UNKNOWN_CLIENT } from "../helpers/client-probe.js";
import { CookieJar, hiddenField, postForm, step } from "../helpers/login-flow.js";
import { discover, type Params } from "../helpers/oauth-requests.js";
import { startAuthWorker, type RunningWorker } from "../helpers/workers.js";

const REDIRECT = "http://127.0.0.1:9/callback";
const MAX_BYTES = 5 * 1024;
const FETCH_TIMEOUT_MS = 300;

type Handler = (req: IncomingMessage, res: ServerResponse, url: string) => void;

/** Serves metadata documents, each at a fresh path (so no earlier run's cache can answer), and counts fetches. */
class DocumentServer {
  private readonly routes = new Map<string, Handler>();
  private readonly hits = new Map<string, number>();
  private server!: Server;
  base = "";

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const path = req.url ?? "";
      this.hits.set(path, (this.hits.get(path) ?? 0) + 1);
      const handler = this.routes.get(path);
      if (handler) handler(req, res, this.base + path);
      else res.writeHead(404).end();
    });
    this.server.listen(0, "127.0.0.1");
    await once(this.server, "listening");
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  /** A new document URL answered by `handler`. */
  serve(handler: Handler): string {
    const path = `/clients/${randomBytes(8).toString("hex")}/metadata.json`;
    this.routes.set(path, handler);
    return this.base + path;
  }

  /** A new document URL answering 200 application/json with `document(url)`. */
  serveJson(document: (url: string) => unknown, headers: Record<string, string> = {}): string {
    return this.serve((_req, res, url) => {
      res.writeHead(200, { "Content-Type": "application/json", ...headers }).end(JSON.stringify(document(url)));
    });
  }

  hitsFor(url: string): number {
    return this.hits.get(new URL(url).pathname) ?? 0;
  }
}

/** What a well-behaved MCP client publishes at its client_id URL. */
const mcpClientDocument = (url: string, extra: Record<string, unknown> = {}) => ({
  client_id: url,
  client_name: "Document Client",
  redirect_uris: [REDIRECT],
  grant_types: ["authorization_code", "refresh_token"],
  response_types: ["code"],
  token_endpoint_auth_method: "none",
  ...extra,
});

const probe = (worker: RunningWorker, clientId: string, extra: Params = {}) =>
  tokenEndpointAnswer(worker, clientId, REDIRECT, extra);

const documents = new DocumentServer();
let auth: RunningWorker;

beforeAll(async () => {
  await documents.start();
  auth = await startAuthWorker({
    config: (url) =>
      authConfig(url, {
        login: { users: [ALICE.config] },
        clientIdMetadataDocuments: {
          allowedLoopbackOrigins: [documents.base],
          fetchTimeout: `${FETCH_TIMEOUT_MS}ms`,
          maxBytes: MAX_BYTES,
        },
      }),
  });
});
afterAll(async () => {
  await auth.dispose();
  await documents.stop();
});

describe("client ID metadata documents", () => {
  it("resolves a client from a valid document", async () => {
    const url = documents.serveJson((u) => mcpClientDocument(u));
    expect(await probe(auth, url)).toEqual(KNOWN_CLIENT);
  });

  it("lets a document client complete the authorization code flow", async () => {
    const url = documents.serveJson((u) => mcpClientDocument(u));
    const as = await discover(auth);
    expect(as.client_id_metadata_document_supported).toBe(true);
    const tokens = await publicClientTokens(auth, as, url, REDIRECT, "openid tools:read");
    expect(decodeJwt(tokens.access_token)).toMatchObject({ client_id: url, aud: GATEWAY_RESOURCE });
  });

  it("names the document's host on the consent page, beside the name the document gives itself", async () => {
    const url = documents.serveJson((u) => mcpClientDocument(u, { client_name: "Totally Official Agent" }));
    const jar = new CookieJar();
    const params = {
      client_id: url,
      redirect_uri: REDIRECT,
      response_type: "code",
      scope: "tools:read",
      resource: GATEWAY_RESOURCE,
      code_challenge: "x".repeat(43),
      code_challenge_method: "S256",
    };
    const toLogin = await step(auth, jar, `/authorize?${new URLSearchParams(params)}`);
    const login = await step(auth, jar, toLogin.location!.pathname + toLogin.location!.search);
    const toConsent = await step(
      auth,
      jar,
      "/login",
      postForm({
        interaction: hiddenField(login.body, "interaction"),
        csrf: hiddenField(login.body, "csrf"),
        username: ALICE.username,
        password: ALICE.password,
      }),
    );
    const consent = await step(auth, jar, toConsent.location!.pathname + toConsent.location!.search);
    const host = new URL(url).host;
    expect(consent.body).toContain(`<h1>Allow Totally Official Agent from ${host} to act for you?</h1>`);
    expect(consent.body).toContain(`describes itself at <strong>${host}</strong>`);
  });

  it("caches a resolved document instead of fetching it again", async () => {
    const url = documents.serveJson((u) => mcpClientDocument(u));
    expect(await probe(auth, url)).toEqual(KNOWN_CLIENT);
    expect(await probe(auth, url)).toEqual(KNOWN_CLIENT);
    expect(documents.hitsFor(url)).toBe(1);
  });

  it("fetches again when the document says Cache-Control: no-store", async () => {
    const url = documents.serveJson((u) => mcpClientDocument(u), { "Cache-Control": "no-store" });
    expect(await probe(auth, url)).toEqual(KNOWN_CLIENT);
    expect(await probe(auth, url)).toEqual(KNOWN_CLIENT);
    expect(documents.hitsFor(url)).toBe(2);
  });

  it("accepts a private_key_jwt client with inline keys, which then authenticates with them", async () => {
    const { publicKey, privateKey } = await generateKeyPair("ES256");
    const jwk = await exportJWK(publicKey);
    const url = documents.serveJson((u) =>
      mcpClientDocument(u, { token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [jwk] } }),
    );
    const assertion = await new SignJWT({ jti: randomBytes(8).toString("hex") })
      .setProtectedHeader({ alg: "ES256" })
      .setIssuer(url)
      .setSubject(url)
      .setAudience(`${auth.url}/token`)
      .setIssuedAt()
      .setExpirationTime("1m")
      .sign(privateKey);
    const answer = await probe(auth, url, {
      client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
      client_assertion: assertion,
    });
    expect(answer).toEqual(KNOWN_CLIENT);
  });

  it("refuses a document whose client_id is not its own URL", async () => {
    const url = documents.serveJson((u) => mcpClientDocument(`${u}?impostor`));
    expect(await probe(auth, url)).toEqual(UNKNOWN_CLIENT);
    expect(documents.hitsFor(url)).toBe(1);
  });

  it("refuses a document larger than maxBytes, counting what streams in rather than Content-Length", async () => {
    const small = documents.serveJson((u) => mcpClientDocument(u, { padding: "x".repeat(MAX_BYTES - 1024) }));
    expect(await probe(auth, small)).toEqual(KNOWN_CLIENT);
    const large = documents.serve((_req, res, u) => {
      // Chunked, no Content-Length: only counting the bytes finds the size.
      const body = JSON.stringify(mcpClientDocument(u, { padding: "x".repeat(MAX_BYTES * 4) }));
      res.writeHead(200, { "Content-Type": "application/json" });
      for (let i = 0; i < body.length; i += 1024) res.write(body.slice(i, i + 1024));
      res.end();
    });
    expect(await probe(auth, large)).toEqual(UNKNOWN_CLIENT);
  });

  it("gives up on a server that never answers within fetchTimeout", async () => {
    const url = documents.serve(() => {
      // Never answers; the connection is closed when the server stops.
    });
    const started = performance.now();
    expect(await probe(auth, url)).toEqual(UNKNOWN_CLIENT);
    expect(performance.now() - started).toBeLessThan(FETCH_TIMEOUT_MS + 2_000);
  });

  it("gives up on a body that trickles in past fetchTimeout", async () => {
    const url = documents.serve((_req, res) => {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.write("{");
    });
    const started = performance.now();
    expect(await probe(auth, url)).toEqual(UNKNOWN_CLIENT);
    expect(performance.now() - started).toBeLessThan(FETCH_TIMEOUT_MS + 2_000);
  });

  it("does not follow a redirect", async () => {
    const target = documents.serveJson((u) => mcpClientDocument(u));
    const url = documents.serve((_req, res) => {
      res.writeHead(302, { Location: target }).end();
    });
    expect(await probe(auth, url)).toEqual(UNKNOWN_CLIENT);
    expect(documents.hitsFor(target)).toBe(0);
  });

  it.each([
    ["an HTML page", "text/html", "<html>hello</html>"],
    ["JSON served as text/plain", "text/plain", null],
    ["malformed JSON", "application/json", '{"client_id": '],
    ["a JSON array", "application/json", "[]"],
  ])("refuses %s", async (_name, type, body) => {
    const url = documents.serve((_req, res, u) => {
      res.writeHead(200, { "Content-Type": type }).end(body ?? JSON.stringify(mcpClientDocument(u)));
    });
    expect(await probe(auth, url)).toEqual(UNKNOWN_CLIENT);
  });

  it("accepts a structured JSON content type (application/<name>+json)", async () => {
    const url = documents.serve((_req, res, u) => {
      res
        .writeHead(200, { "Content-Type": "application/oauth-client+json; charset=utf-8" })
        .end(JSON.stringify(mcpClientDocument(u)));
    });
    expect(await probe(auth, url)).toEqual(KNOWN_CLIENT);
  });

  it("refuses a URL that answers 404", async () => {
    expect(await probe(auth, `${documents.base}/clients/nobody/metadata.json`)).toEqual(UNKNOWN_CLIENT);
  });

  it.each([
    ["a shared-secret authentication method", { token_endpoint_auth_method: "client_secret_basic" }],
    ["a client_secret", { client_secret: "s3cret" }],
    ["a client_secret_expires_at", { client_secret_expires_at: 0 }],
    ["a javascript: redirect URI", { redirect_uris: ["javascript:alert(1)"] }],
    ["a non-loopback http redirect URI", { redirect_uris: ["http://evil.example/cb"] }],
    ["no redirect URIs", { redirect_uris: undefined }],
    [
      "the token-exchange grant",
      { grant_types: ["authorization_code", "urn:ietf:params:oauth:grant-type:token-exchange"] },
    ],
    [
      "keys to fetch from a jwks_uri",
      { token_endpoint_auth_method: "private_key_jwt", jwks_uri: "https://client.example/jwks" },
    ],
  ])("refuses a document with %s", async (_name, extra) => {
    const url = documents.serveJson((u) => mcpClientDocument(u, extra));
    expect(await probe(auth, url)).toEqual(UNKNOWN_CLIENT);
    expect(documents.hitsFor(url)).toBe(1);
  });

  it("refuses a plain-http client_id on a non-loopback host without fetching it", async () => {
    expect(await probe(auth, "http://client.example/metadata.json")).toEqual(UNKNOWN_CLIENT);
  });
});

describe("client ID metadata documents, switched off or loopback not allowed", () => {
  let disabled: RunningWorker;
  let strict: RunningWorker;
  beforeAll(async () => {
    [disabled, strict] = await Promise.all([
      startAuthWorker({
        config: (url) =>
          authConfig(url, { clientIdMetadataDocuments: { enabled: false, allowedLoopbackOrigins: [documents.base] } }),
      }),
      startAuthWorker({ config: (url) => authConfig(url) }),
    ]);
  });
  afterAll(() => Promise.all([disabled.dispose(), strict.dispose()]));

  it("does not fetch documents when disabled, and discovery says so", async () => {
    const url = documents.serveJson((u) => mcpClientDocument(u));
    expect(await probe(disabled, url)).toEqual(UNKNOWN_CLIENT);
    expect(documents.hitsFor(url)).toBe(0);
    expect((await discover(disabled)).client_id_metadata_document_supported).toBe(false);
  });

  it("does not fetch a loopback client_id whose origin is not in allowedLoopbackOrigins", async () => {
    const url = documents.serveJson((u) => mcpClientDocument(u));
    expect(await probe(strict, url)).toEqual(UNKNOWN_CLIENT);
    expect(documents.hitsFor(url)).toBe(0);
  });
});

describe("client_id URLs", () => {
  it.each([
    "https://client.example/oauth/metadata.json",
    "https://client.example/metadata.json?version=2",
    "https://client.example:8443/metadata.json",
    "https://93.184.215.14/metadata.json",
  ])("accepts %s", (url) => {
    expect(clientIdUrlProblem(url, [])).toBeNull();
  });

  it.each([
    ["plain http", "http://client.example/metadata.json"],
    ["another scheme", "ftp://client.example/metadata.json"],
    ["no path", "https://client.example"],
    ["the root path", "https://client.example/"],
    ["a fragment", "https://client.example/metadata.json#top"],
    ["an empty fragment", "https://client.example/metadata.json#"],
    ["a username and password", "https://user:pw@client.example/metadata.json"],
    ["a username", "https://user@client.example/metadata.json"],
    ["an empty userinfo", "https://@client.example/metadata.json"],
    ["a .. segment", "https://client.example/a/../metadata.json"],
    ["a . segment", "https://client.example/./metadata.json"],
    ["an escaped .. segment", "https://client.example/a/%2E%2e/metadata.json"],
    ["an upper-case host (not canonical)", "https://CLIENT.example/metadata.json"],
    ["the default port spelled out (not canonical)", "https://client.example:443/metadata.json"],
    ["a tab the URL parser would drop", "https://client.exa\tmple/metadata.json"],
    ["a decimal IPv4 address", "https://2130706433/metadata.json"],
    ["a private IPv4 address", "https://10.1.2.3/metadata.json"],
    ["a 192.168 address", "https://192.168.1.1/metadata.json"],
    ["the cloud metadata address", "https://169.254.169.254/latest/meta-data"],
    ["a carrier-grade NAT address", "https://100.64.0.1/metadata.json"],
    ["0.0.0.0", "https://0.0.0.0/metadata.json"],
    ["127.0.0.1 when loopback is not allowed", "https://127.0.0.1/metadata.json"],
    ["another 127/8 address", "https://127.0.0.2/metadata.json"],
    ["an IPv6 literal", "https://[2001:4860:4860::8888]/metadata.json"],
    ["a unique-local IPv6 address", "https://[fd00::1]/metadata.json"],
    ["an IPv4-mapped IPv6 address", "https://[::ffff:10.0.0.1]/metadata.json"],
    ["localhost when loopback is not allowed", "https://localhost/metadata.json"],
    ["a single-label name", "https://metadata/metadata.json"],
    ["a .localhost name", "https://app.localhost/metadata.json"],
    ["a .local name", "https://printer.local/metadata.json"],
    ["a .internal name", "https://metadata.google.internal/computeMetadata/v1"],
    ["an over-long URL", `https://client.example/${"a".repeat(2100)}`],
    ["not a URL", "https://"],
  ])("refuses %s", (_name, url) => {
    expect(clientIdUrlProblem(url, [])).toEqual(expect.any(String));
  });

  it.each([
    "http://127.0.0.1:3000/metadata.json",
    "http://localhost:3000/metadata.json",
    "http://[::1]:3000/metadata.json",
  ])("accepts the loopback URL %s only when its exact origin is in allowedLoopbackOrigins", (url) => {
    expect(clientIdUrlProblem(url, [new URL(url).origin])).toBeNull();
    expect(clientIdUrlProblem(url, [])).toEqual(expect.any(String));
    expect(clientIdUrlProblem(url, [new URL(url).origin.replace("3000", "3001")])).toEqual(expect.any(String));
  });

  it("still refuses plain http on other hosts with allowedLoopbackOrigins", () => {
    expect(clientIdUrlProblem("http://client.example/metadata.json", ["http://127.0.0.1:3000"])).toEqual(
      expect.any(String),
    );
  });
});
