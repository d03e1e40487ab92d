// What the gateway needs from a source of tools. An MCP Proxy app (upstream MCP server) and an
// MCP Bridge app (OpenAPI document) both implement it; the session Durable Object merges their
// catalogs under namespaces and routes each call to its app.
import type {
  CallToolResult,
  GetPromptResult,
  Prompt,
  ReadResourceResult,
  Resource,
  ResourceTemplate,
  Tool,
} from "@modelcontextprotocol/sdk/types.js";
import type { ServerRequestRelay } from "./streamable-http-client.js";
import type { ListenerLimits, UpstreamListener } from "./upstream-listener.js";

/** A tool as the upstream names it (no namespace). */
export type UpstreamTool = Tool;

/**
 * Per-session state an app may keep (e.g. its upstream's own MCP session id). The session
 * Durable Object persists it, so it survives the loss of the process serving the session.
 */
export interface AppSessionState {
  get(): Record<string, unknown>;
  set(patch: Record<string, unknown>): Promise<void>;
}

export interface AppCallContext {
  /**
   * The bearer token to send upstream for this operation (an exchanged per-tool token), or
   * undefined when the app's outbound authorization is `none`. Never the agent's own token.
   */
  token: string | undefined;
  /** W3C trace context to propagate upstream. */
  traceparent?: string;
  /**
   * The gateway session this operation belongs to: an app instance serves every session of an
   * isolate, and concurrent operations of one session share what they set up upstream (its
   * initialization) by this id.
   */
  sessionId?: string;
  state: AppSessionState;
  /**
   * Aborted when the app's `timeout` passes, or when the agent cancels the request this operation
   * serves (then its reason is a RequestCancelled, upstream-error.ts).
   */
  signal: AbortSignal;
  /** The agent's `_meta` of this request (e.g. its progressToken), passed on upstream. */
  meta?: Record<string, unknown>;
  /** Where what the upstream says during this operation goes: back up to the session that made the call. */
  events?: AppEvents;
  /** The agent's client capabilities, declared upstream so it may ask for sampling or elicitation. */
  clientCapabilities?: Record<string, unknown>;
  /**
   * The era the agent speaks (MCP 2026-07-28 basic/versioning): `legacy` for a 2025-era session,
   * `modern` for a 2026-07-28 request. An MCP Proxy app on a dual-era upstream speaks the agent's
   * own era to it when it can (docs/apps.md); unset reads as modern.
   */
  agentEra?: AgentEra;
  /**
   * A 2026-07-28 agent's retry of an `input_required` answer (MCP 2026-07-28 basic/patterns/mrtr):
   * its `inputResponses` and the upstream's own `requestState`, unwrapped from the gateway's signed
   * state. Sent upstream with the retried request; only for a modern agent.
   */
  retry?: { inputResponses?: Record<string, unknown>; requestState?: string };
}

export type AgentEra = "legacy" | "modern";

/** The lists an upstream may say have changed (MCP notifications/{tools,prompts,resources}/list_changed). */
export type ListName = "tools" | "prompts" | "resources";

/**
 * What an upstream says that travels back up to the session, through the context of the call
 * that heard it (app instances are shared by every session of an isolate, so they keep no
 * listeners of their own).
 */
export interface AppEvents {
  /**
   * Notifications about this request for the agent (progress, log messages), relayed on the
   * agent's response stream (MCP transports: related notifications before the response).
   */
  related?(method: string, params: unknown): void;
  /** Requests an upstream sends during this request (sampling, elicitation, roots), relayed to the agent. */
  ask?: ServerRequestRelay;
  /** The upstream's list changed: the session's merged list is stale. */
  listChanged?(list: ListName): void;
  /** A subscribed resource changed (notifications/resources/updated). */
  resourceUpdated?(params: unknown): void;
}

/**
 * What an app's upstream listener (upstream-listener.ts) needs from whoever holds it: a call
 * context per stream it opens, the resource URIs wanted now (the upstream's own), and where the
 * upstream's notifications go.
 */
export interface ListenTarget {
  /**
   * A call context for opening one stream, with the app's token (exchanged anew when `fresh`: the
   * upstream refused the last one) and when that token expires; `release` once the stream is open.
   */
  context(fresh: boolean): Promise<{ ctx: AppCallContext; tokenExpiresAt?: number; release(): void }>;
  uris(): string[];
  deliver(method: string, params: Record<string, unknown>): void;
  /** The upstream has no stream to offer (405): the listener stopped. */
  onGone?(): void;
  limits?: Partial<ListenerLimits>;
}

export interface ToolCallOutcome {
  result: CallToolResult;
  /** HTTP status of the upstream's answer, for the audit event. */
  upstreamStatus?: number;
}

export interface App {
  readonly name: string;
  readonly type: "mcpProxy" | "mcpBridge";
  listTools(ctx: AppCallContext): Promise<UpstreamTool[]>;
  callTool(name: string, args: Record<string, unknown>, ctx: AppCallContext): Promise<ToolCallOutcome>;
  /** For apps where the gateway is the MCP server (Bridge): why `args` do not fit the tool's inputSchema, if they do not. */
  checkArguments?(name: string, args: Record<string, unknown>): Promise<string | undefined>;
  // Prompts and resources, for apps that have them (an MCP Proxy). Lists are complete (all
  // pages); names and URIs are the upstream's own.
  listPrompts?(ctx: AppCallContext): Promise<Prompt[]>;
  getPrompt?(name: string, args: Record<string, string>, ctx: AppCallContext): Promise<GetPromptResult>;
  listResources?(ctx: AppCallContext): Promise<Resource[]>;
  listResourceTemplates?(ctx: AppCallContext): Promise<ResourceTemplate[]>;
  readResource?(uri: string, ctx: AppCallContext): Promise<ReadResourceResult>;
  /** completion/complete with the reference already in the upstream's own names. */
  complete?(params: Record<string, unknown>, ctx: AppCallContext): Promise<Record<string, unknown>>;
  /** resources/subscribe or resources/unsubscribe for a URI this app listed. */
  subscription?(
    method: "resources/subscribe" | "resources/unsubscribe",
    uri: string,
    ctx: AppCallContext,
  ): Promise<void>;
  /** A listener for the changes the upstream announces on its own (not started). */
  listen?(target: ListenTarget): UpstreamListener;
  /** The agent ended its session: end whatever the app holds upstream for it. */
  close?(ctx: AppCallContext): Promise<void>;
  /** logging/setLevel, passed on to the upstream when it offers logging. */
  setLoggingLevel?(level: string, ctx: AppCallContext): Promise<void>;
}
