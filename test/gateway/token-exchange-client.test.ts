// The gateway's RFC 8693 token exchange (outbound/token-exchange-client.ts), in-process against
// a stand-in identity provider: what it sends, and which error each answer becomes. Exchanges
// with the real auth tier are covered by tool-calls and the reliability specs.
import { describe, expect, it } from "vitest";
import { identityProviderSchema } from "../../src/gateway/apps-schema.js";
import { ExchangeError, exchangeToken, type BindingFetcher } from "../../src/gateway/outbound/token-exchange-client.js";

/** The client id and secret hold characters RFC 6749 §2.3.1 form-encodes before Basic. */
const CLIENT_ID = "gate way";
const SECRET = "p@ss:w+rd";

interface Seen {
  url: string;
  headers: Headers;
  form: URLSearchParams;
}

/** A stand-in identity provider: records each request and answers with `answer()`. */
function standIn(answer: () => Response | Promise<Response>): BindingFetcher & { seen: Seen[] } {
  const seen: Seen[] = [];
  return {
    seen,
    async fetch(input, init) {
      const request = new Request(input, init);
      seen.push({ url: request.url, headers: request.headers, form: new URLSearchParams(await request.text()) });
      return answer();
    },
  };
}

/** The id and secret a Basic header carries, decoded as the auth tier decodes them. */
function basicCredentials(headers: Headers): [string, string] {
  const decoded = atob(headers.get("Authorization")!.replace(/^Basic /, ""));
  const [id, secret] = decoded.split(":").map((part) => decodeURIComponent(part.replace(/\+/g, " ")));
  return [id!, secret!];
}

describe("token exchange (RFC 8693)", () => {
  const idp = identityProviderSchema.parse({
    tokenEndpoint: "http://auth.internal/token",
    clientId: CLIENT_ID,
    clientSecret: { env: "SECRET" },
  });
  const request = {
    subjectToken: "agent-token",
    audience: "https://api.example",
    scopes: ["read", "write"],
    ttlMs: 60_000,
    type: "delegation" as const,
    traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
  };
  const issued = () =>
    Response.json({
      access_token: "tool-token",
      token_type: "Bearer",
      issued_token_type: "urn:ietf:params:oauth:token-type:access_token",
      expires_in: 60,
    });

  it("authenticates with client_secret_basic and sends the exchange's parameters and the trace context", async () => {
    const server = standIn(issued);
    expect(await exchangeToken(idp, SECRET, request, server)).toMatchObject({ token: "tool-token" });
    const [sent] = server.seen;
    expect(sent!.url).toBe("http://auth.internal/token");
    expect(basicCredentials(sent!.headers)).toEqual([CLIENT_ID, SECRET]);
    expect(sent!.headers.get("traceparent")).toBe(request.traceparent);
    expect(Object.fromEntries(sent!.form)).toEqual({
      grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
      subject_token: "agent-token",
      subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
      requested_token_type: "urn:ietf:params:oauth:token-type:access_token",
      audience: "https://api.example",
      scope: "read write",
      expires_in: "60",
      exchange_type: "delegation",
    });
  });

  it("accepts a token of token_type N_A (RFC 8693 §2.2.1)", async () => {
    const server = standIn(() =>
      Response.json({
        access_token: "tool-token",
        token_type: "N_A",
        issued_token_type: "urn:ietf:params:oauth:token-type:access_token",
      }),
    );
    expect(await exchangeToken(idp, SECRET, request, server)).toMatchObject({ token: "tool-token" });
  });

  it.each([
    [
      "a 400 refusal",
      () => Response.json({ error: "invalid_target", error_description: "unknown audience" }, { status: 400 }),
      "invalid_target",
      "token exchange refused (invalid_target): unknown audience",
    ],
    [
      "a 401 with a Basic challenge",
      () =>
        Response.json(
          { error: "invalid_client", error_description: "unknown client" },
          { status: 401, headers: { "WWW-Authenticate": 'Basic realm="token"' } },
        ),
      "invalid_client",
      "token exchange refused (invalid_client): unknown client",
    ],
    [
      "a 503 while the store is away",
      () => Response.json({ error: "temporarily_unavailable" }, { status: 503, headers: { "Retry-After": "2" } }),
      "temporarily_unavailable",
      "token exchange refused (temporarily_unavailable): status 503",
    ],
    [
      "a 502 without JSON (a proxy in front of an identity provider that is away)",
      () => new Response("Bad Gateway", { status: 502 }),
      "temporarily_unavailable",
      "the identity provider could not be reached (HTTP 502)",
    ],
    [
      "a 500 without JSON",
      () => new Response("Internal Server Error", { status: 500 }),
      "server_error",
      "the identity provider answered 500 without JSON",
    ],
    [
      "a 200 without an access token",
      () => Response.json({ token_type: "Bearer" }),
      "server_error",
      /^the identity provider answered without a usable token/,
    ],
    [
      "a 200 that is not JSON",
      () => new Response("<html>", { headers: { "Content-Type": "text/html" } }),
      "server_error",
      /^the identity provider answered without a usable token/,
    ],
  ])("turns %s into an ExchangeError with its OAuth error code", async (_what, answer, error, message) => {
    const exchanging = exchangeToken(idp, SECRET, request, standIn(answer));
    await expect(exchanging).rejects.toBeInstanceOf(ExchangeError);
    await expect(exchanging).rejects.toMatchObject({ error, message });
  });

  it("is temporarily_unavailable when the identity provider cannot be reached", async () => {
    const away: BindingFetcher = { fetch: () => Promise.reject(new TypeError("fetch failed")) };
    await expect(exchangeToken(idp, SECRET, request, away)).rejects.toMatchObject({
      error: "temporarily_unavailable",
      message: "the identity provider could not be reached: TypeError",
    });
  });
});
