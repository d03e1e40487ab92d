// What a sign-out request may do (src/auth/ui/logout-rules.ts; OpenID Connect RP-Initiated Logout 1.0 §2, §3).
import { describe, expect, it } from "vitest";
import type { Client } from "../../src/auth/clients/client.js";
import { needsConfirmation, postLogoutRedirect } from "../../src/auth/ui/logout-rules.js";

const SESSION = { sub: "alice", sid: "sid-1" };
const HINT = { sub: "alice", clientId: "app", sid: "sid-1" };
const AFTER = "https://app.example/signed-out";

function client(source: Client["source"], postLogoutRedirectUris = [AFTER]): Client {
  return {
    clientId: "app",
    name: "App",
    source,
    tokenEndpointAuthMethod: "none",
    redirectUris: ["https://app.example/cb"],
    postLogoutRedirectUris,
    grantTypes: ["authorization_code"],
    scopes: [],
    allowedAudiences: [],
    skipConsent: false,
  };
}

describe("confirmation", () => {
  it("is not asked for a hint from the person's own session", () => {
    expect(needsConfirmation(HINT, SESSION)).toBe(false);
  });

  it("is asked without a hint, or with one from another session or person", () => {
    expect(needsConfirmation(null, SESSION)).toBe(true);
    expect(needsConfirmation({ ...HINT, sid: "sid-2" }, SESSION)).toBe(true);
    expect(needsConfirmation({ ...HINT, sub: "mallory" }, SESSION)).toBe(true);
  });

  it("is not asked when there is no session to end", () => {
    expect(needsConfirmation(null, null)).toBe(false);
  });
});

describe("post-logout redirect", () => {
  it("goes to a registered URI, exactly, with the state", () => {
    expect(
      postLogoutRedirect({ hint: HINT, client: client("config"), postLogoutRedirectUri: AFTER, state: "s 1" }, SESSION),
    ).toBe(`${AFTER}?state=s+1`);
  });

  it("keeps the registered URI's own query", () => {
    const uri = "https://app.example/out?from=idp";
    expect(
      postLogoutRedirect(
        { hint: HINT, client: client("config", [uri]), postLogoutRedirectUri: uri, state: "x" },
        SESSION,
      ),
    ).toBe(`${uri}&state=x`);
  });

  it("is refused for any URI not registered exactly", () => {
    for (const uri of [
      `${AFTER}/`,
      `${AFTER}?x=1`,
      "https://evil.example/signed-out",
      "HTTPS://app.example/signed-out",
    ]) {
      expect(
        postLogoutRedirect({ hint: HINT, client: client("config"), postLogoutRedirectUri: uri }, SESSION),
      ).toBeNull();
    }
  });

  it("is refused on a loopback URI on another port (no RFC 8252 port leeway here)", () => {
    const registered = client("config", ["http://127.0.0.1:8080/out"]);
    expect(
      postLogoutRedirect(
        { hint: HINT, client: registered, postLogoutRedirectUri: "http://127.0.0.1:9090/out" },
        SESSION,
      ),
    ).toBeNull();
  });

  it("is refused without a valid hint, even to a registered URI", () => {
    expect(
      postLogoutRedirect({ hint: null, client: client("config"), postLogoutRedirectUri: AFTER }, SESSION),
    ).toBeNull();
  });

  it("is refused when the hint names another client", () => {
    expect(
      postLogoutRedirect(
        { hint: { ...HINT, clientId: "other" }, client: client("config"), postLogoutRedirectUri: AFTER },
        SESSION,
      ),
    ).toBeNull();
  });

  it("sends a self-registered client's person back only from the session its hint belongs to", () => {
    const registered = client("registration");
    expect(postLogoutRedirect({ hint: HINT, client: registered, postLogoutRedirectUri: AFTER }, SESSION)).toBe(AFTER);
    expect(postLogoutRedirect({ hint: HINT, client: registered, postLogoutRedirectUri: AFTER }, null)).toBeNull();
    expect(
      postLogoutRedirect(
        { hint: { ...HINT, sub: "mallory", sid: "m" }, client: registered, postLogoutRedirectUri: AFTER },
        SESSION,
      ),
    ).toBeNull();
  });

  it("sends a configured client's person back even when the session already ended", () => {
    expect(postLogoutRedirect({ hint: HINT, client: client("config"), postLogoutRedirectUri: AFTER }, null)).toBe(
      AFTER,
    );
  });
});
