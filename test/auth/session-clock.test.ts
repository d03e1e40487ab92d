// The two clocks of a login session (src/auth/ui/session-clock.ts): idle and absolute.
import { describe, expect, it } from "vitest";
import { sessionEnded, sessionEndsAt, timeLeftAfterUse } from "../../src/auth/ui/session-clock.js";

const HOUR = 3_600_000;
const SETTINGS = { lifetime: 8 * HOUR, idleTimeout: HOUR };
const SIGN_IN = Date.parse("2026-03-02T08:00:00Z");

describe("session clock", () => {
  it("ends a session left unused for its idle timeout", () => {
    const session = { createdAt: SIGN_IN, lastActiveAt: SIGN_IN + 2 * HOUR };
    expect(sessionEnded(session, SETTINGS, SIGN_IN + 3 * HOUR - 1)).toBe(false);
    expect(sessionEnded(session, SETTINGS, SIGN_IN + 3 * HOUR)).toBe(true);
  });

  it("ends a session at its lifetime however recently it was used", () => {
    const session = { createdAt: SIGN_IN, lastActiveAt: SIGN_IN + 8 * HOUR - 60_000 };
    expect(sessionEndsAt(session, SETTINGS)).toBe(SIGN_IN + 8 * HOUR);
    expect(sessionEnded(session, SETTINGS, SIGN_IN + 8 * HOUR)).toBe(true);
  });

  it("gives a use the whole idle timeout while the lifetime allows it", () => {
    expect(timeLeftAfterUse({ createdAt: SIGN_IN }, SETTINGS, SIGN_IN + 5 * HOUR)).toBe(HOUR);
  });

  it("never extends a session past its lifetime", () => {
    expect(timeLeftAfterUse({ createdAt: SIGN_IN }, SETTINGS, SIGN_IN + 7.5 * HOUR)).toBe(HOUR / 2);
    expect(timeLeftAfterUse({ createdAt: SIGN_IN }, SETTINGS, SIGN_IN + 9 * HOUR)).toBeLessThanOrEqual(0);
  });
});
