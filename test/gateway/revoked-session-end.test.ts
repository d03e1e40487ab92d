// How the front tells a session that a revoked token was presented on it
// (src/gateway/auth/revoked-session.ts): in the background, so the 401 never waits on the
// session object, even one that stalls or fails; never for an id the gateway could not have
// issued, nor for a token that has merely expired.
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Principal } from "../../src/gateway/auth/principal.js";
import { tellSessionRevoked } from "../../src/gateway/auth/revoked-session.js";

const SESSION_ID = "a".repeat(43);
const principal = (expiresInSeconds: number): Principal => ({
  issuer: "https://auth.example",
  sub: "alice",
  clientId: "agent",
  scopes: [],
  expiresAt: Math.floor(Date.now() / 1000) + expiresInSeconds,
  grant: "fam-1",
});

/** A session object answering `endRevoked` with `answer`, and the background it runs in. */
function session(answer: () => Promise<boolean>) {
  const endRevoked = vi.fn(answer);
  const background: Promise<unknown>[] = [];
  const inBackground = vi.fn((promise: Promise<unknown>) => void background.push(promise));
  return { endRevoked, inBackground, background };
}

afterEach(() => vi.restoreAllMocks());

describe("telling a session its token was revoked", () => {
  it("tells the session the request names, in the background", async () => {
    const { endRevoked, inBackground, background } = session(() => Promise.resolve(true));
    tellSessionRevoked(SESSION_ID, principal(60), endRevoked, inBackground);
    expect(endRevoked).toHaveBeenCalledWith(SESSION_ID);
    expect(inBackground).toHaveBeenCalledTimes(1);
    await expect(background[0]).resolves.toBe(true);
  });

  it("returns at once when the session object stalls", () => {
    const { endRevoked, inBackground } = session(() => new Promise<boolean>(() => undefined));
    expect(tellSessionRevoked(SESSION_ID, principal(60), endRevoked, inBackground)).toBeUndefined();
    expect(inBackground).toHaveBeenCalledTimes(1);
  });

  it("logs a session object that fails or cannot be reached, and throws nothing", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const failing = session(() => Promise.reject(new Error("object unreachable")));
    tellSessionRevoked(SESSION_ID, principal(60), failing.endRevoked, failing.inBackground);
    await expect(failing.background[0]).resolves.toBe(false);
    const throwing = session(() => {
      throw new Error("no such binding");
    });
    expect(() =>
      tellSessionRevoked(SESSION_ID, principal(60), throwing.endRevoked, throwing.inBackground),
    ).not.toThrow();
    await expect(throwing.background[0]).resolves.toBe(false);
    expect(warn.mock.calls.flat().join("\n")).toMatch(/"event":"mcp\.session\.revoked_end_failed"/);
  });

  it("does nothing for a request without a session, an id the gateway could not have issued, or an expired token", () => {
    const { endRevoked, inBackground } = session(() => Promise.resolve(true));
    tellSessionRevoked(undefined, principal(60), endRevoked, inBackground);
    tellSessionRevoked("../../other", principal(60), endRevoked, inBackground);
    tellSessionRevoked(SESSION_ID, principal(-1), endRevoked, inBackground);
    expect(endRevoked).not.toHaveBeenCalled();
    expect(inBackground).not.toHaveBeenCalled();
  });
});
