// Telling an MCP session that a revoked token of its own was presented on it
// (docs/auth/grants-and-admin.md, "At the gateway"): the session object then ends itself if it is
// that token's principal's and grant's (McpSession.endRevoked). In the background and best
// effort, so the agent's 401 never waits on the object: one that stalls or fails is logged, and is
// told again at the next refused request; meanwhile it is refused to this token and to any other
// grant's. Only for an id this gateway could have issued, and only for a token unexpired by the
// gateway's own clock: an "inactive" answer within the clock skew after `exp` is no revocation.
import { log } from "../../core/log.js";
import { isWellFormedSessionId } from "../mcp/session-id.js";
import type { Principal } from "./principal.js";

export function tellSessionRevoked(
  sessionId: string | undefined,
  principal: Principal,
  endRevoked: (sessionId: string) => Promise<boolean>,
  inBackground: (promise: Promise<unknown>) => void,
): void {
  if (!sessionId || !isWellFormedSessionId(sessionId) || principal.expiresAt * 1000 <= Date.now()) return;
  let ending: Promise<boolean>;
  try {
    ending = endRevoked(sessionId);
  } catch (err) {
    ending = Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
  inBackground(
    ending.catch((err: unknown) => {
      log("warn", "mcp.session.revoked_end_failed", {
        session_id: sessionId,
        error: err instanceof Error ? err.message : "error",
      });
      return false;
    }),
  );
}
