// MCP Streamable HTTP, "Session Management": the session ID SHOULD be globally unique and
// cryptographically secure, and MUST only contain visible ASCII characters (0x21 to 0x7E).
import { randomToken } from "../../core/encoding.js";

const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

/** 256 random bits, base64url: unguessable, and safe in a header and a Durable Object name. */
export function newSessionId(): string {
  return randomToken(32);
}

/** Only ids this gateway could have issued are routed to a Durable Object. */
export function isWellFormedSessionId(value: string): boolean {
  return SESSION_ID.test(value);
}
