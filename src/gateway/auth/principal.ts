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
