// What the stateless front tells a session's Durable Object about the HTTP request that carried
// its messages. Credentials travel only as `subjectToken` (for token exchange); the HTTP snapshot
// and the claims are what policies see, so neither carries a credential.
import type { Context } from "hono";
import { currentTraceparent } from "../../core/telemetry/spans.js";
import type { GatewayApp } from "../app-types.js";
import type { Authenticated } from "../auth/bearer.js";
import type { CallerRequest } from "../object-rpc.js";
import { selectUserClaims, snapshotHttpRequest } from "../policy/input.js";

export type { CallerRequest };

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
