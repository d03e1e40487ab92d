// Who calls the MCP endpoint, as the gateway tells callers apart: the issuer, the user (`sub`) and
// the agent (OAuth client) of the presented token (RFC 9068 §2.2). Sessions belong to one
// principal, and the per-principal limits (docs/configuration.md, mcpProvider.limits) count per
// principal, so one user's two agents, or two users of one agent, never share them.

/** Who is calling: the user a token was issued for and the agent (OAuth client) holding it. */
export interface Principal {
  issuer: string;
  /** The user (`sub`); for machine agents, the client itself. */
  sub: string;
  /** The agent: `client_id` (RFC 9068), or `azp`/`cid` from other issuers. */
  clientId: string;
  scopes: string[];
  /** Unix seconds when the presented token expires. */
  expiresAt: number;
}

/** A session belongs to the principal that created it: same user, same agent, same issuer. */
export function samePrincipal(a: Principal, b: Principal): boolean {
  return a.issuer === b.issuer && a.sub === b.sub && a.clientId === b.clientId;
}

/**
 * The name of a principal's own Durable Object (durable-objects/principal-limits.ts): issuer,
 * user and agent, unambiguously joined. Scopes and expiry are not part of it, so a fresh token
 * of the same user and agent is the same principal.
 */
export function principalKey(principal: Pick<Principal, "issuer" | "sub" | "clientId">): string {
  return JSON.stringify([principal.issuer, principal.sub, principal.clientId]);
}
