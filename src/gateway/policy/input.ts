// The input document of every policy decision. It is an interface with people who write Rego,
// so it is stable and documented (README "Policy"); add fields, never rename or remove them.
//
// tools/call and tools/list ask the same question with the same document. For tools/list the
// gateway asks once per tool, with `request.mcp.method` "tools/list" and `tool.arguments`
// absent: a policy that needs arguments to decide should allow the listing when some
// arguments would be allowed, and hide the tool only when no call could be.
import type { Principal } from "../auth/principal.js";

export interface PolicyInput {
  /** The agent: the OAuth client holding the token. */
  agent: { client_id: string; client_name?: string; auth_method?: string };
  /** The user the agent acts for, with the claims of USER_CLAIMS that the token carries. */
  user: { sub: string; claims: Record<string, unknown> };
  tool: {
    /** As agents see it: `<namespace>__<tool>`. */
    name: string;
    app: string;
    /** As the upstream MCP server or OpenAPI operation names it. */
    upstream_name: string;
    /** Absent when listing. */
    arguments?: Record<string, unknown>;
  };
  request: {
    mcp: {
      method: string;
      /** The JSON-RPC params as the agent sent them. */
      params: Record<string, unknown>;
      /** The tool call in the reference product's shape (`input.request.mcp.tool.params.name`). */
      tool: { params: { name: string; arguments?: Record<string, unknown> } };
    };
    http: HttpSnapshot;
  };
  session: { id: string; created_at: string };
  token: { scopes: string[]; issuer: string; expires_at: number };
  time: { now: string; unix: number };
}

/** The HTTP request that carried the MCP message, without credentials. */
export interface HttpSnapshot {
  method: string;
  path: string;
  /** Lower-case names; repeated headers joined with ", " as Fetch does. */
  headers: Record<string, string>;
}

/**
 * Claims of the user's token that reach policies. A subset, because tokens may carry personal
 * data that policies do not need, and the input document is logged when policies print it.
 */
export const USER_CLAIMS = ["email", "email_verified", "name", "preferred_username", "groups", "roles", "acr", "amr", "auth_time"] as const;

/** Credentials never reach a policy: policies are data, and their inputs end up in logs. */
const WITHHELD_HEADERS = new Set(["authorization", "proxy-authorization", "cookie"]);

function withoutCredentials(headers: { forEach(callback: (value: string, name: string) => void): void }): Record<string, string> {
  const kept: Record<string, string> = {};
  headers.forEach((value, name) => {
    const key = name.toLowerCase();
    if (!WITHHELD_HEADERS.has(key)) kept[key] = value;
  });
  return kept;
}

/** What the gateway's front passes to the session's Durable Object about the HTTP request. */
export function snapshotHttpRequest(request: Request): HttpSnapshot {
  return { method: request.method, path: new URL(request.url).pathname, headers: withoutCredentials(request.headers) };
}

export interface PolicyInputParts {
  principal: Principal;
  /** What the gateway knows about the agent beyond its client id, if anything. */
  agent?: { clientName?: string; authMethod?: string };
  /** The user's token claims; only USER_CLAIMS are kept. */
  claims?: Record<string, unknown>;
  /** `createdAt` in milliseconds since the epoch. */
  session: { id: string; createdAt: number };
  /** `arguments` undefined when listing. */
  tool: { name: string; app: string; upstreamName: string; arguments?: Record<string, unknown> | undefined };
  mcp: { method: string; params?: unknown };
  http: HttpSnapshot;
  /** Milliseconds since the epoch; default now. */
  now?: number;
}

export function selectUserClaims(claims: Record<string, unknown> | undefined): Record<string, unknown> {
  const selected: Record<string, unknown> = {};
  for (const name of USER_CLAIMS) if (claims?.[name] !== undefined) selected[name] = claims[name];
  return selected;
}

function asObject(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

export function buildPolicyInput(parts: PolicyInputParts): PolicyInput {
  const { principal, tool, mcp } = parts;
  const now = parts.now ?? Date.now();
  // MCP makes `arguments` optional on tools/call; a call without them is still a call, and
  // only listing leaves them absent, so policies can tell the two apart.
  const args = tool.arguments ?? (mcp.method === "tools/call" ? {} : undefined);
  const agent: PolicyInput["agent"] = { client_id: principal.clientId };
  if (parts.agent?.clientName !== undefined) agent.client_name = parts.agent.clientName;
  if (parts.agent?.authMethod !== undefined) agent.auth_method = parts.agent.authMethod;
  return {
    agent,
    user: { sub: principal.sub, claims: selectUserClaims(parts.claims) },
    tool: { name: tool.name, app: tool.app, upstream_name: tool.upstreamName, ...(args ? { arguments: args } : {}) },
    request: {
      mcp: { method: mcp.method, params: asObject(mcp.params), tool: { params: { name: tool.name, ...(args ? { arguments: args } : {}) } } },
      http: { method: parts.http.method, path: parts.http.path, headers: withoutCredentials(new Map(Object.entries(parts.http.headers))) },
    },
    session: { id: parts.session.id, created_at: new Date(parts.session.createdAt).toISOString() },
    token: { scopes: [...principal.scopes], issuer: principal.issuer, expires_at: principal.expiresAt },
    time: { now: new Date(now).toISOString(), unix: Math.floor(now / 1000) },
  };
}
