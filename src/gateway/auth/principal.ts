// Who calls the MCP endpoint, as the gateway tells callers apart: the issuer, the user (`sub`) and
// the agent (OAuth client) of the presented token (RFC 9068 §2.2). Sessions belong to one
// principal, and the per-principal limits (docs/configuration.md, mcpProvider.limits) count per
// principal, so one user's two agents, or two users of one agent, never share them. A session
// made with a token that names its grant (the auth tier's `fam`, docs/auth/grants-and-admin.md)
// belongs to that grant too: a token of another grant, the same person and agent authorizing
// again after a revocation, cannot resume it.

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
  /**
   * The grant (refresh-token family) the token came from, as its authorization server names it
   * (`fam`, an opaque reference); absent for tokens of no grant (machine agents) or other issuers.
   */
  grant?: string;
}

/**
 * A session (`owner`, the principal that created it) belongs to `caller` when it is the same
 * user, agent and issuer, and, when the session was made under a grant, the same grant.
 */
export function samePrincipal(owner: Principal, caller: Principal): boolean {
  if (owner.grant !== undefined && owner.grant !== caller.grant) return false;
  return owner.issuer === caller.issuer && owner.sub === caller.sub && owner.clientId === caller.clientId;
}

/**
 * The name of a principal's own Durable Object (durable-objects/principal-limits.ts): issuer,
 * user and agent, unambiguously joined. Scopes and expiry are not part of it, so a fresh token
 * of the same user and agent is the same principal.
 */
export function principalKey(principal: Pick<Principal, "issuer" | "sub" | "clientId">): string {
  return JSON.stringify([principal.issuer, principal.sub, principal.clientId]);
}
