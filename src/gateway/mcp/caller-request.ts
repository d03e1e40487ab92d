// What the stateless front tells a session's Durable Object about the HTTP request that carried
// its messages. Credentials travel only as `subjectToken` (for token exchange); the HTTP snapshot
// and the claims are what policies see, so neither carries a credential.
import type { Context } from "hono";
import { currentTraceparent } from "../../core/telemetry/spans.js";
import type { GatewayApp } from "../app-types.js";
import type { Authenticated } from "../auth/bearer.js";
import { selectUserClaims, snapshotHttpRequest, type HttpSnapshot } from "../policy/input.js";

export interface CallerRequest {
  /** The agent's verified bearer token: the subject of token exchanges, never sent upstream. */
  subjectToken: string;
  /** W3C trace context of the agent's request, when it sent one. */
  traceparent?: string;
  /** Method, path and headers without Authorization or Cookie. */
  http: HttpSnapshot;
  /** The token's claims that policies may read (USER_CLAIMS). */
  claims: Record<string, unknown>;
}

export function callerRequest(c: Context<GatewayApp>, caller: Authenticated): CallerRequest {
  // The front's own server span (a child of the agent's traceparent), so the session's spans nest under it.
  const traceparent = currentTraceparent() ?? c.req.header("traceparent");
  return {
    subjectToken: caller.token,
    ...(traceparent ? { traceparent } : {}),
    http: snapshotHttpRequest(c.req.raw),
    claims: selectUserClaims(caller.claims),
  };
}
