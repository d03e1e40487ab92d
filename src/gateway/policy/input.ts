// The input document of every policy decision. It is an interface with people who write Rego,
// so it is stable and documented (docs/policy.md); add fields, never rename or remove them.
//
// tools/call and tools/list ask the same question with the same document. For tools/list the
// gateway asks once per tool, with `request.mcp.method` "tools/list" and `tool.arguments`
// absent: a policy that needs arguments to decide should allow the listing when some
// arguments would be allowed, and hide the tool only when no call could be.
//
// Prompts and resources reach upstreams with the same exchanged tokens, so the same policy
// decides them: `prompt` or `resource` stands where `tool` stands for tools, and `app` names the
// app whatever the request is for, so a policy about whole apps needs no case per kind.
import type { Principal } from "../auth/principal.js";

export interface PolicyInput {
  /** The agent: the OAuth client holding the token. */
  agent: { client_id: string; client_name?: string; auth_method?: string };
  /** The user the agent acts for, with the claims of USER_CLAIMS that the token carries. */
  user: { sub: string; claims: Record<string, unknown> };
  /** The app the request goes to, whichever of tool, prompt or resource it is about. */
  app: { name: string };
  /** For tools/call and tools/list. */
  tool?: {
    /** As agents see it: `<namespace>__<tool>`. */
    name: string;
    app: string;
    /** As the upstream MCP server or OpenAPI operation names it. */
    upstream_name: string;
    /** Absent when listing. */
    arguments?: Record<string, unknown>;
  };
  /** For prompts/get, prompts/list, and completion/complete of a prompt's argument. */
  prompt?: {
    /** As agents see it: `<namespace>__<prompt>`. */
    name: string;
    app: string;
    upstream_name: string;
    /** prompts/get only. */
    arguments?: Record<string, string>;
  };
  /**
   * For resources/read, resources/subscribe and resources/unsubscribe (`uri`), resources/list
   * (`uri` and `name`), resources/templates/list (`uri_template` and `name`), and
   * completion/complete of a template's argument (`uri`: the template).
   */
  resource?: { uri?: string; uri_template?: string; name?: string; app: string };
  request: {
    mcp: {
      method: string;
      /** The JSON-RPC params as the agent sent them. */
      params: Record<string, unknown>;
      /** Tools only: the call in Maverics' shape (`input.request.mcp.tool.params.name`). */
      tool?: { params: { name: string; arguments?: Record<string, unknown> } };
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
export const USER_CLAIMS = [
  "email",
  "email_verified",
  "name",
  "preferred_username",
  "groups",
  "roles",
  "acr",
  "amr",
  "auth_time",
] as const;

/** Credentials never reach a policy: policies are data, and their inputs end up in logs. */
const WITHHELD_HEADERS = new Set(["authorization", "proxy-authorization", "cookie"]);

function withoutCredentials(headers: {
  forEach(callback: (value: string, name: string) => void): void;
}): Record<string, string> {
  const kept: Record<string, string> = {};
  headers.forEach((value, name) => {
    const key = name.toLowerCase();
    if (!WITHHELD_HEADERS.has(key)) kept[key] = value;
  });
  return kept;
}

/** A record's entries in the shape withoutCredentials reads, without copying them into a Map first. */
function recordEntries(record: Record<string, string>): {
  forEach(callback: (value: string, name: string) => void): void;
} {
  return { forEach: (callback) => Object.keys(record).forEach((name) => callback(record[name]!, name)) };
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
  /** What the request is about: exactly one of tool, prompt and resource. `arguments` undefined when listing. */
  tool?: { name: string; app: string; upstreamName: string; arguments?: Record<string, unknown> | undefined };
  prompt?: { name: string; app: string; upstreamName: string; arguments?: Record<string, string> | undefined };
  resource?: { app: string; uri?: string | undefined; uriTemplate?: string | undefined; name?: string | undefined };
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

/** Keeps the keys whose value is defined: JSON has no undefined, and Rego tests keys for presence. */
function defined<T extends Record<string, unknown>>(object: T): T {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined)) as T;
}

export function buildPolicyInput(parts: PolicyInputParts): PolicyInput {
  const { principal, tool, prompt, resource, mcp } = parts;
  const app = tool?.app ?? prompt?.app ?? resource?.app;
  if (app === undefined || [tool, prompt, resource].filter(Boolean).length !== 1)
    throw new Error("a policy input is about exactly one tool, prompt or resource");
  const now = parts.now ?? Date.now();
  // MCP makes `arguments` optional on tools/call; a call without them is still a call, and
  // only listing leaves them absent, so policies can tell the two apart. Likewise prompts/get.
  const toolArgs = tool && (tool.arguments ?? (mcp.method === "tools/call" ? {} : undefined));
  const promptArgs = prompt && (prompt.arguments ?? (mcp.method === "prompts/get" ? {} : undefined));
  const agent: PolicyInput["agent"] = { client_id: principal.clientId };
  if (parts.agent?.clientName !== undefined) agent.client_name = parts.agent.clientName;
  if (parts.agent?.authMethod !== undefined) agent.auth_method = parts.agent.authMethod;
  return {
    agent,
    user: { sub: principal.sub, claims: selectUserClaims(parts.claims) },
    app: { name: app },
    ...(tool
      ? { tool: defined({ name: tool.name, app: tool.app, upstream_name: tool.upstreamName, arguments: toolArgs }) }
      : {}),
    ...(prompt
      ? {
          prompt: defined({
            name: prompt.name,
            app: prompt.app,
            upstream_name: prompt.upstreamName,
            arguments: promptArgs,
          }),
        }
      : {}),
    ...(resource
      ? {
          resource: defined({
            uri: resource.uri,
            uri_template: resource.uriTemplate,
            name: resource.name,
            app: resource.app,
          }),
        }
      : {}),
    request: {
      mcp: {
        method: mcp.method,
        params: asObject(mcp.params),
        ...(tool ? { tool: { params: defined({ name: tool.name, arguments: toolArgs }) } } : {}),
      },
      http: {
        method: parts.http.method,
        path: parts.http.path,
        headers: withoutCredentials(recordEntries(parts.http.headers)),
      },
    },
    session: { id: parts.session.id, created_at: new Date(parts.session.createdAt).toISOString() },
    token: { scopes: [...principal.scopes], issuer: principal.issuer, expires_at: principal.expiresAt },
    time: { now: new Date(now).toISOString(), unix: Math.floor(now / 1000) },
  };
}
