// The shared encoding helpers: base64url without padding (RFC 4648 §5), as PKCE challenges,
// password hashes and audit batch keys are written.
import { describe, expect, it } from "vitest";
import {
  randomToken,
  sha256Base64Url,
  timingSafeEqualSameLength,
  timingSafeEqualStrings,
} from "../../src/core/encoding.js";

describe("encoding", () => {
  it("writes SHA-256 as unpadded base64url (RFC 7636 Appendix B's S256 challenge)", async () => {
    expect(await sha256Base64Url("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")).toBe(
      "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    );
  });

  it("makes random tokens of 256 bits in 43 base64url characters, each new", () => {
    const tokens = new Set(Array.from({ length: 100 }, () => randomToken()));
    expect(tokens.size).toBe(100);
    for (const token of tokens) expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(randomToken(16)).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it("compares strings for equality only", async () => {
    expect(await timingSafeEqualStrings("secret", "secret")).toBe(true);
    expect(await timingSafeEqualStrings("secret", "secreT")).toBe(false);
    expect(await timingSafeEqualStrings("secret", "secret-longer")).toBe(false);
  });

  it("compares digests of one length without hashing, and calls strings of other lengths unequal", async () => {
    const digest = await sha256Base64Url("a verifier");
    expect(timingSafeEqualSameLength(digest, await sha256Base64Url("a verifier"))).toBe(true);
    expect(timingSafeEqualSameLength(digest, await sha256Base64Url("another verifier"))).toBe(false);
    expect(timingSafeEqualSameLength(digest, `${digest.slice(0, -1)}${digest.endsWith("A") ? "B" : "A"}`)).toBe(false);
    expect(timingSafeEqualSameLength(digest, digest.slice(0, -1))).toBe(false);
    expect(timingSafeEqualSameLength("", "")).toBe(true);
  });
});
