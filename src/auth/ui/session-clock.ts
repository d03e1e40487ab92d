// When a login session ends (docs/auth/sign-in-sessions.md): two clocks, both from configuration.
// The absolute lifetime (`session.lifetime`) runs from the sign-in and nothing extends it; the idle
// clock (`session.idleTimeout`) restarts at every use. The session ends at whichever comes first,
// so activity can keep a session up to its lifetime and never beyond (OWASP Session Management
// Cheat Sheet, "Session Expiration": idle and absolute timeouts). Pure rules, no I/O.

export interface SessionClockSettings {
  /** Absolute lifetime, ms. */
  lifetime: number;
  /** Idle timeout, ms. */
  idleTimeout: number;
}

export interface SessionTimes {
  /** The sign-in, ms since the epoch. */
  createdAt: number;
  /** The last use, ms since the epoch. */
  lastActiveAt: number;
}

/** When the session ends if it is not used again: ms since the epoch. */
export function sessionEndsAt(session: SessionTimes, settings: SessionClockSettings): number {
  return Math.min(session.lastActiveAt + settings.idleTimeout, session.createdAt + settings.lifetime);
}

/** Whether the session has ended at `now`, by either clock. */
export function sessionEnded(session: SessionTimes, settings: SessionClockSettings, now: number): boolean {
  return sessionEndsAt(session, settings) <= now;
}

/**
 * How long the session lives after a use at `now`: the idle timeout, cut to what is left of the
 * lifetime. Zero or less means it has ended.
 */
export function timeLeftAfterUse(
  session: Pick<SessionTimes, "createdAt">,
  settings: SessionClockSettings,
  now: number,
): number {
  return sessionEndsAt({ createdAt: session.createdAt, lastActiveAt: now }, settings) - now;
}
