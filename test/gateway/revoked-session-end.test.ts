// How the front tells a session that a revoked token was presented on it
// (src/gateway/auth/token-introspection.ts endSessionOfInactiveToken): in the background, so the
// 401 never waits on the session object, even one that stalls or fails; never for an id the
// gateway could not have issued, nor for a token that has merely expired.
import type { Context } from "hono";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { GatewayApp } from "../../src/gateway/app-types.js";
import type { Principal } from "../../src/gateway/auth/principal.js";
import { endSessionOfInactiveToken } from "../../src/gateway/auth/token-introspection.js";

const SESSION_ID = "a".repeat(43);
const principal = (expiresInSeconds: number): Principal => ({
  issuer: "https://auth.example",
  sub: "alice",
  clientId: "agent",
  scopes: [],
  expiresAt: Math.floor(Date.now() / 1000) + expiresInSeconds,
  grant: "fam-1",
});

/** A front's context whose session object answers `endRevoked` with `answer`. */
function front(answer: () => Promise<boolean>) {
  const endRevoked = vi.fn(answer);
  const waitUntil = vi.fn();
  const c = {
    env: { MCP_SESSION: { idFromName: (name: string) => name, get: () => ({ endRevoked }) } },
    executionCtx: { waitUntil },
  } as unknown as Context<GatewayApp>;
  return { c, endRevoked, waitUntil };
}

afterEach(() => vi.restoreAllMocks());

describe("telling a session its token was revoked", () => {
  it("asks the session named by the request to end, for this principal and grant, in the background", () => {
    const { c, endRevoked, waitUntil } = front(() => Promise.resolve(true));
    endSessionOfInactiveToken(c, SESSION_ID, principal(60));
    expect(endRevoked).toHaveBeenCalledWith(expect.objectContaining({ sub: "alice", grant: "fam-1" }));
    expect(waitUntil).toHaveBeenCalledTimes(1);
  });

  it("returns at once when the session object stalls", () => {
    const { c, endRevoked } = front(() => new Promise<boolean>(() => undefined));
    expect(endSessionOfInactiveToken(c, SESSION_ID, principal(60))).toBeUndefined();
    expect(endRevoked).toHaveBeenCalledTimes(1);
  });

  it("logs a session object that fails, and throws nothing", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const { c, waitUntil } = front(() => Promise.reject(new Error("object unreachable")));
    endSessionOfInactiveToken(c, SESSION_ID, principal(60));
    await expect(waitUntil.mock.calls[0]![0]).resolves.toBe(false);
    expect(warn.mock.calls.flat().join("\n")).toMatch(/"event":"mcp\.session\.revoked_end_failed"/);
  });

  it("does nothing for a request without a session, an id the gateway could not have issued, or an expired token", () => {
    const { c, endRevoked } = front(() => Promise.resolve(true));
    endSessionOfInactiveToken(c, undefined, principal(60));
    endSessionOfInactiveToken(c, "../../other", principal(60));
    endSessionOfInactiveToken(c, SESSION_ID, principal(-1));
    expect(endRevoked).not.toHaveBeenCalled();
  });
});
