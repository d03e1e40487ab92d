// What a remembered consent answers (src/auth/grants/remembered-consent.ts): the same client and
// redirect URI asking for no more scopes or resources; never a self-registered client.
import { describe, expect, it } from "vitest";
import { consentCovers, mayRemember } from "../../src/auth/grants/remembered-consent.js";

const CONSENT = {
  clientId: "https://agent.example/client.json",
  redirectUri: "https://agent.example/callback",
  scope: "openid tools:read tools:write",
  resource: ["https://gateway.example/mcp"],
};

describe("what a remembered consent covers", () => {
  it("answers the same request, or one asking for fewer scopes", () => {
    expect(consentCovers(CONSENT, CONSENT)).toBe(true);
    expect(consentCovers(CONSENT, { ...CONSENT, scope: "tools:read" })).toBe(true);
  });

  it("asks again for a scope not consented to", () => {
    expect(consentCovers(CONSENT, { ...CONSENT, scope: "openid tools:read admin" })).toBe(false);
  });

  it("asks again for another resource, or for tokens usable at any resource", () => {
    expect(consentCovers(CONSENT, { ...CONSENT, resource: ["https://other.example/mcp"] })).toBe(false);
    expect(consentCovers(CONSENT, { ...CONSENT, resource: [] })).toBe(false);
    expect(consentCovers({ ...CONSENT, resource: [] }, CONSENT)).toBe(true);
  });

  it("asks again for another client, or another redirect URI of the same client", () => {
    expect(consentCovers(CONSENT, { ...CONSENT, clientId: "https://evil.example/client.json" })).toBe(false);
    expect(consentCovers(CONSENT, { ...CONSENT, redirectUri: "https://agent.example/other" })).toBe(false);
  });
});

describe("which clients may be remembered", () => {
  it("configured and metadata-document clients, while remembering is on", () => {
    expect(mayRemember({ source: "config", skipConsent: false }, 1000)).toBe(true);
    expect(mayRemember({ source: "metadata-document", skipConsent: false }, 1000)).toBe(true);
    expect(mayRemember({ source: "metadata-document", skipConsent: false }, 0)).toBe(false);
  });

  it("never a self-registered client, nor one that skips consent anyway", () => {
    expect(mayRemember({ source: "registration", skipConsent: false }, 1000)).toBe(false);
    expect(mayRemember({ source: "config", skipConsent: true }, 1000)).toBe(false);
  });
});
