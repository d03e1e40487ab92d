// One call that reaches an upstream, as a pipeline (docs/apps.md, docs/policy.md):
//   admit → resolve → decide → check arguments → outbound token → forward → settle.
// tools/call, prompts/get, resources/read and resource subscriptions all take it; what differs
// by kind (how a name is resolved, what the policy is shown, what is sent upstream) is in the
// KINDS table. Each step returns a value or throws a CallRefused/CallFailed (call-outcomes.ts);
// `settle` alone turns the end into the audit event, the metric, the span status and the reply.
//
// The pipeline's collaborators (apps, policies, outbound tokens, budgets, the audit) come in
// `PipelineDeps`, so the rules here run in-process with stand-ins (test/gateway/pipeline.test.ts).
import { ErrorCode, type CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { GatewayErrorCode } from "../../core/errors.js";
import { log } from "../../core/log.js";
import { secondsSince, telemetryMetrics } from "../../core/telemetry/metrics.js";
import { inSpan, markSpanError, SpanKind } from "../../core/telemetry/spans.js";
import type { App, AppCallContext } from "../apps/app.js";
import { candidateApp } from "../apps/catalog.js";
import {
  UpstreamCancelled,
  UpstreamError,
  UpstreamJsonRpcError,
  UpstreamProtocolError,
} from "../apps/upstream-error.js";
import type { AppConfig } from "../apps-schema.js";
import type { ToolCallAdmission } from "../call-budget.js";
import { recordCallLatency } from "../outbound/call-latency.js";
import type { OutboundToken } from "../outbound/outbound-token.js";
import { ExchangeError } from "../outbound/token-exchange-client.js";
import { DENIED_MESSAGE, type PolicyDecision } from "../policy/decision.js";
import { CallFailed, CallRefused, CallStop } from "./call-outcomes.js";
import type { Call, CallResults, PolicyTarget, PromptCall, ResourceCall, SettleDeps, ToolCall } from "./call.js";
import { settle, type Reply, type Trail } from "./settle.js";

export type { Call, PolicyTarget };

export interface PipelineDeps extends SettleDeps {
  apps: AppConfig[];
  instance(app: AppConfig): App;
  /** Whether `app` lists `upstreamName` among its tools (listing it when the session does not know yet). */
  listsTool(app: AppConfig, upstreamName: string): Promise<boolean>;
  /** The app that listed a resource URI, by name. */
  resourceOwner(uri: string): string | undefined;
  /** The policies' decision about one tool, prompt or resource of `app`. */
  decide(app: AppConfig, target: PolicyTarget, mcp: { method: string; params: unknown }): Promise<PolicyDecision>;
  /** The token to send upstream; `fresh` after the upstream refused the last one. */
  token(app: AppConfig, upstreamTool: string | undefined, options?: { fresh?: boolean }): Promise<OutboundToken>;
  /** The app's call context for one operation. */
  context(app: AppConfig, token: string | undefined, meta?: Record<string, unknown>): AppCallContext;
  /** The operation of a context from `context` has settled: its timeout timer may go. */
  release?(ctx: AppCallContext): void;
  /** Takes one tool call from the budgets that apply, when there are any. */
  admitToolCall?: () => Promise<ToolCallAdmission>;
}

/** The app a call goes to, and the name the upstream knows the target by. */
interface Route {
  app: AppConfig;
  upstreamName: string;
}

/** What differs between kinds of call; everything else is the pipeline's. */
interface Kind<C extends Call> {
  /** The app behind the call's name or URI; throws CallRefused when there is none. */
  resolve(deps: PipelineDeps, call: C): Promise<Route>;
  /** What the policy is asked about. */
  target(call: C, route: Route): PolicyTarget;
  /** The policy input's request.mcp.params. */
  params(call: C): unknown;
  /** The upstream operation. */
  forward(
    instance: App,
    call: C,
    route: Route,
    ctx: AppCallContext,
  ): Promise<{ value: CallResults[C["method"]]; upstreamStatus?: number }>;
}

/** What a denied agent reads on a prompt or resource when the policy gave no message. */
export const CONTENT_DENIED_MESSAGE = "The gateway's policy does not allow this request.";

/** What the agent reads, and the audit event says, when a tool call budget refuses a call. */
const BUDGET_REFUSALS: Record<
  Extract<ToolCallAdmission, { admitted: false }>["budget"],
  { reason: string; message: (seconds: number) => string }
> = {
  toolCallsPerSession: {
    reason: "the session's tool call budget is spent (mcpProvider.limits.toolCallsPerSession)",
    message: (s) => `Too many tool calls in this session: try again in ${s} s.`,
  },
  toolCallsPerPrincipal: {
    reason: "the principal's tool call budget is spent (mcpProvider.limits.toolCallsPerPrincipal)",
    message: (s) => `Too many tool calls by this agent: try again in ${s} s.`,
  },
  unavailable: {
    reason: "the principal's tool call budget could not be checked (mcpProvider.limits.toolCallsPerPrincipal); refused",
    message: (s) => `The gateway could not check this agent's tool call budget: try again in ${s} s.`,
  },
};

const TOOL: Kind<ToolCall> = {
  async resolve(deps, call) {
    const candidate = candidateApp(deps.apps, call.name);
    let listed = false;
    if (candidate) {
      try {
        listed = await deps.listsTool(candidate.app, candidate.upstreamName);
      } catch (err) {
        // The app could not even list its tools (upstream down, exchange refused).
        if (!(err instanceof UpstreamError || err instanceof ExchangeError)) throw err;
        if (err instanceof UpstreamCancelled) throw cancelled(err);
        const outcome = err instanceof ExchangeError ? "exchange_error" : "upstream_error";
        throw new CallFailed(outcome, err.message, `The tool ${call.name} is unavailable: ${err.message}`, {
          app: candidate.app.name,
        });
      }
    }
    // MCP server/tools: an unknown tool is a JSON-RPC error (-32602), not a tool result.
    if (!candidate || !listed)
      throw new CallRefused("unknown_tool", "no app lists this tool", `Unknown tool: ${call.name}`, {
        code: ErrorCode.InvalidParams,
      });
    return candidate;
  },
  target: (call, route) => ({
    tool: { name: call.name, app: route.app.name, upstreamName: route.upstreamName, arguments: call.args },
  }),
  params: (call) => call.params ?? { name: call.name, arguments: call.args },
  async forward(instance, call, route, ctx) {
    const { result, upstreamStatus } = await instance.callTool(route.upstreamName, call.args, ctx);
    return { value: result, ...(upstreamStatus === undefined ? {} : { upstreamStatus }) };
  },
};

const PROMPT: Kind<PromptCall> = {
  async resolve(deps, call) {
    const candidate = candidateApp(deps.apps, call.name);
    if (!candidate || !deps.instance(candidate.app).getPrompt) {
      throw new CallRefused("unknown_prompt", "no app offers this prompt", `Unknown prompt: ${call.name}`, {
        code: ErrorCode.InvalidParams,
        ...(candidate ? { app: candidate.app.name } : {}),
      });
    }
    return candidate;
  },
  target: (call, route) => ({
    prompt: { name: call.name, app: route.app.name, upstreamName: route.upstreamName, arguments: call.args },
  }),
  params: (call) => call.params,
  forward: async (instance, call, route, ctx) => ({
    value: await instance.getPrompt!(route.upstreamName, call.args, ctx),
  }),
};

const RESOURCE: Kind<ResourceCall> = {
  /** The app that listed the URI; a URI nobody listed (one built from a template) goes to the only app able to serve it. */
  async resolve(deps, call) {
    const able = (app: AppConfig) =>
      (call.method === "resources/read" ? deps.instance(app).readResource : deps.instance(app).subscription) !==
      undefined;
    const candidates = deps.apps.filter(able);
    const owner = deps.resourceOwner(call.uri);
    const app = owner ? candidates.find((a) => a.name === owner) : candidates.length === 1 ? candidates[0] : undefined;
    if (!app)
      throw new CallRefused("unknown_resource", "no app serves this resource", `Unknown resource: ${call.uri}`, {
        code: ErrorCode.InvalidParams,
      });
    return { app, upstreamName: call.uri };
  },
  target: (call, route) => ({ resource: { uri: call.uri, app: route.app.name } }),
  params: (call) => ({ uri: call.uri }),
  async forward(instance, call, _route, ctx) {
    if (call.method === "resources/read") return { value: await instance.readResource!(call.uri, ctx) };
    await instance.subscription!(call.method, call.uri, ctx);
    return { value: {} };
  },
};

const KINDS: {
  [M in Call["method"]]: Kind<
    M extends ToolCall["method"] ? ToolCall : M extends PromptCall["method"] ? PromptCall : ResourceCall
  >;
} = {
  "tools/call": TOOL,
  "prompts/get": PROMPT,
  "resources/read": RESOURCE,
  "resources/subscribe": RESOURCE,
  "resources/unsubscribe": RESOURCE,
};

/** Runs one call through every step and settles it: exactly one audit event, whatever happens. */
export async function runCall<C extends Call>(deps: PipelineDeps, call: C): Promise<Reply<C>> {
  const kind = KINDS[call.method] as unknown as Kind<C>;
  const trail: Trail = { started: Date.now() };
  try {
    await admit(deps, call);
    const route = await kind.resolve(deps, call);
    trail.app = route.app.name;
    const decision = await decide(deps, kind, call, route);
    if (decision.policy) trail.policy = decision.policy;
    if (decision.reason) trail.reason = decision.reason;
    await checkArguments(deps, call, route);
    const answer = await forwardWithToken(deps, kind, call, route, (token) => (trail.token = token));
    if (answer.upstreamStatus !== undefined) trail.upstreamStatus = answer.upstreamStatus;
    return settle(deps, call, trail, { value: answer.value });
  } catch (err) {
    if (err instanceof CallStop) return settle(deps, call, trail, { stop: err });
    settle(deps, call, trail, { unexpected: err });
    throw err;
  }
}

/** admit: tool calls take one from the call budgets that apply (mcpProvider.limits). */
async function admit(deps: PipelineDeps, call: Call): Promise<void> {
  if (call.method !== "tools/call" || !deps.admitToolCall) return;
  const admission = await deps.admitToolCall();
  if (admission.admitted) return;
  const seconds = Math.max(1, Math.ceil(admission.retryAfterMs / 1000));
  const refusal = BUDGET_REFUSALS[admission.budget];
  const app = candidateApp(deps.apps, call.name)?.app.name;
  throw new CallRefused("rate_limited", refusal.reason, refusal.message(seconds), app ? { app } : {});
}

/** decide: the policies, before any token is minted or any byte goes upstream, so a deny costs nothing. */
async function decide<C extends Call>(
  deps: PipelineDeps,
  kind: Kind<C>,
  call: C,
  route: Route,
): Promise<PolicyDecision> {
  const started = Date.now();
  const tool = call.method === "tools/call" ? { "gen_ai.tool.name": call.name } : {};
  const decision = await inSpan(
    "policy.evaluate",
    { attributes: { "gateway.app": route.app.name, ...tool } },
    async (span) => {
      const decided = await deps.decide(route.app, kind.target(call, route), {
        method: call.method,
        params: kind.params(call),
      });
      const result = decided.allowed ? "allow" : "deny";
      const policy = decided.policy ? { "gateway.policy": decided.policy } : {};
      span.setAttributes({ "gateway.decision": result, ...policy });
      telemetryMetrics().policyDuration.record(secondsSince(started), { "gateway.decision": result, ...policy });
      return decided;
    },
  );
  if (decision.allowed) return decision;
  const tools = call.method === "tools/call";
  const message = decision.externalMessage ?? (tools ? DENIED_MESSAGE : CONTENT_DENIED_MESSAGE);
  throw new CallRefused("denied", decision.reason ?? decision.externalMessage, message, {
    ...(decision.policy ? { policy: decision.policy } : {}),
    ...(tools ? {} : { code: GatewayErrorCode.PolicyDenied }),
  });
}

/** check arguments: apps where the gateway is the MCP server (Bridge) check them against the tool's inputSchema; the API would only refuse them. */
async function checkArguments(deps: PipelineDeps, call: Call, route: Route): Promise<void> {
  const check = deps.instance(route.app).checkArguments;
  if (call.method !== "tools/call" || !check) return;
  let problems: string | undefined;
  try {
    problems = await check.call(deps.instance(route.app), route.upstreamName, call.args);
  } catch (err) {
    if (!(err instanceof UpstreamError)) throw err;
    throw new CallFailed("upstream_error", err.message, `The ${route.app.name} app is unavailable: ${err.message}`);
  }
  if (problems !== undefined)
    throw new CallFailed("invalid_arguments", problems, `Invalid arguments for ${call.name}: ${problems}`);
}

/**
 * outbound token, then forward. RFC 6750 §3.1: a 401 is the upstream refusing the token itself
 * (expired in flight, a clock ahead of the identity provider's, a rotated key) before acting on
 * the request, so the call is sent once more with a newly exchanged token; a second 401 is final
 * (docs/reliability/outbound-tokens.md).
 */
async function forwardWithToken<C extends Call>(
  deps: PipelineDeps,
  kind: Kind<C>,
  call: C,
  route: Route,
  used: (token: OutboundToken) => void,
): Promise<{ value: CallResults[C["method"]]; upstreamStatus?: number }> {
  const tool = call.method === "tools/call" ? route.upstreamName : undefined;
  let outbound = await outboundToken(deps, call, route, tool);
  used(outbound);
  let attempt = await forward(deps, kind, call, route, outbound.token);
  if (outbound.token !== undefined && attempt.upstreamStatus === 401) {
    log("warn", "outbound.token_refused", {
      app: route.app.name,
      session_id: deps.session.id,
      ...(tool ? { tool } : { method: call.method }),
      token_cached: outbound.cached === true,
    });
    outbound = await outboundToken(deps, call, route, tool, true);
    used(outbound);
    attempt = await forward(deps, kind, call, route, outbound.token);
  }
  if ("failure" in attempt) throw attempt.failure;
  return attempt;
}

/** outbound token: the app's token for this call (none for `outbound: none`). */
async function outboundToken(
  deps: PipelineDeps,
  call: Call,
  route: Route,
  tool: string | undefined,
  fresh = false,
): Promise<OutboundToken> {
  try {
    return await deps.token(route.app, tool, fresh ? { fresh } : {});
  } catch (err) {
    if (!(err instanceof ExchangeError)) throw err;
    if (call.method === "tools/call")
      throw new CallFailed("exchange_error", err.error, `Authorization for ${call.name} failed: ${err.message}`);
    throw new CallFailed("exchange_error", err.error, err.message, { code: ErrorCode.InternalError });
  }
}

type Attempt<C extends Call> =
  { value: CallResults[C["method"]]; upstreamStatus?: number } | { failure: CallFailed; upstreamStatus?: number };

/** forward: the upstream operation in its own client span (its traceparent goes upstream); an upstream's failure comes back as a value, so its status can be read before giving up. */
function forward<C extends Call>(
  deps: PipelineDeps,
  kind: Kind<C>,
  call: C,
  route: Route,
  token: string | undefined,
): Promise<Attempt<C>> {
  const { app } = route;
  const started = Date.now();
  const attributes = { "gateway.app": app.name, "gateway.app.type": app.type };
  const tool = call.method === "tools/call" ? { "gen_ai.tool.name": route.upstreamName } : {};
  const meta = call.method !== "resources/read" && "params" in call ? metaOf(call.params) : undefined;
  return inSpan(
    `upstream ${app.name}`,
    { kind: SpanKind.CLIENT, attributes: { ...attributes, ...tool } },
    async (span): Promise<Attempt<C>> => {
      let outcome = "error";
      const ctx = deps.context(app, token, meta);
      try {
        const answer = await kind.forward(deps.instance(app), call, route, ctx);
        outcome = call.method === "tools/call" && (answer.value as CallToolResult).isError ? "tool_error" : "success";
        if (answer.upstreamStatus !== undefined) span.setAttribute("http.response.status_code", answer.upstreamStatus);
        recordCallLatency(app.name, Date.now() - started);
        return answer;
      } catch (err) {
        if (!(err instanceof UpstreamError)) throw err;
        // An answer, even an error, tells how long the upstream takes; a timeout does not.
        if (err.upstreamStatus !== undefined) recordCallLatency(app.name, Date.now() - started);
        return {
          failure: upstreamFailure(call, app, err),
          ...(err.upstreamStatus === undefined ? {} : { upstreamStatus: err.upstreamStatus }),
        };
      } finally {
        deps.release?.(ctx);
        if (outcome === "error") markSpanError(span, "upstream_error");
        telemetryMetrics().upstreamDuration.record(secondsSince(started), {
          ...attributes,
          "gateway.outcome": outcome,
        });
      }
    },
  );
}

function upstreamFailure(call: Call, app: AppConfig, err: UpstreamError): CallFailed {
  const status = err.upstreamStatus === undefined ? {} : { upstreamStatus: err.upstreamStatus };
  if (err instanceof UpstreamCancelled) return cancelled(err);
  if (err instanceof UpstreamProtocolError)
    return new CallFailed("upstream_error", err.message, err.message, {
      ...status,
      code: err.code,
      protocolError: { code: err.code, data: err.data },
    });
  if (call.method === "tools/call")
    return new CallFailed("upstream_error", err.message, `The ${app.name} app is unavailable: ${err.message}`, status);
  // An upstream's own JSON-RPC error (an unknown prompt, a resource it does not have) keeps its code.
  const code = err instanceof UpstreamJsonRpcError ? err.code : ErrorCode.InternalError;
  return new CallFailed("upstream_error", err.message, err.message, { ...status, code });
}

/** The agent's `_meta` (its progressToken and the like), passed on upstream with the call. */
function metaOf(params: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  const meta = params?._meta;
  return typeof meta === "object" && meta !== null ? (meta as Record<string, unknown>) : undefined;
}

/**
 * The agent cancelled the request while its call was upstream (docs/mcp-endpoint.md,
 * "Cancellation"): the upstream was told, and the audit event says so. Nobody reads the reply.
 */
function cancelled(err: UpstreamCancelled): CallFailed {
  return new CallFailed("cancelled", err.message, "Cancelled: the agent cancelled this request");
}
