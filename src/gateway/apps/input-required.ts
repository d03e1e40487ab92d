// Multi round-trip requests from a modern upstream, bridged to an agent of any era (MCP
// 2026-07-28 basic/patterns/mrtr). The upstream answers `tools/call`, `prompts/get` or
// `resources/read` with an `input_required` result; each of its input requests (elicitation,
// sampling, roots) goes to the agent through the call's relay, as the server-to-client request a
// 2025-era agent knows, and the agent's answers go back upstream as `inputResponses` on a retry of
// the original request, with the upstream's `requestState` echoed exactly as it came.
//
// Bounded every way: at most MAX_REQUESTS requests per operation (an upstream that asks forever
// ends with an error), only the capabilities the agent declared are asked of it (otherwise the
// spec's MissingRequiredClientCapability error, -32021), and the relay ends when the operation's
// signal aborts (the app's timeout), so an agent that never answers ends the call, never hangs it.
import { z } from "zod";
import { MISSING_REQUIRED_CLIENT_CAPABILITY } from "./modern-protocol.js";
import type { RpcOutcome, ServerRequestRelay } from "./streamable-http-client.js";
import { UpstreamError, UpstreamJsonRpcError, UpstreamProtocolError } from "./upstream-error.js";

/** Requests one operation may send upstream: the first and its retries. Documented in docs/apps.md. */
export const MAX_REQUESTS = 8;

/** The requests that may answer `input_required` (mrtr, "Supported Requests"). */
export const INPUT_METHODS: ReadonlySet<string> = new Set(["tools/call", "prompts/get", "resources/read"]);

const inputRequiredResult = z
  .object({
    resultType: z.literal("input_required"),
    inputRequests: z
      .record(
        z.string(),
        z.object({ method: z.string(), params: z.record(z.string(), z.unknown()).optional() }).loose(),
      )
      .optional(),
    requestState: z.string().optional(),
  })
  .loose();

export interface Retry {
  inputResponses?: Record<string, unknown>;
  requestState?: string;
}

export interface InputBridge {
  app: string;
  method: string;
  /** Sends the request (with the retry's fields when given) and returns the upstream's answer. */
  send(retry: Retry | undefined): Promise<RpcOutcome>;
  /** The relay to the agent; absent when the agent reads no event stream for this request. */
  ask: ServerRequestRelay | undefined;
  /** The capabilities the agent declared (at initialize, or on its request). */
  capabilities: Record<string, unknown>;
  signal: AbortSignal;
  timeoutMs: number;
}

/**
 * Runs the request to its final answer (a result that needs no more input, or a JSON-RPC error),
 * relaying each round of input requests to the agent.
 */
export async function completeWithInput(bridge: InputBridge): Promise<RpcOutcome> {
  let retry: Retry | undefined;
  for (let request = 1; ; request++) {
    const outcome = await bridge.send(retry);
    if ("error" in outcome || outcome.result.resultType !== "input_required") return outcome;
    const { result, status } = outcome;
    const parsed = inputRequiredResult.safeParse(result);
    if (!parsed.success || (parsed.data.inputRequests === undefined && parsed.data.requestState === undefined))
      throw new UpstreamError(
        bridge.app,
        `upstream answered ${bridge.method} with an input_required result of the wrong shape`,
      );
    if (request >= MAX_REQUESTS)
      throw new UpstreamError(
        bridge.app,
        `upstream still asked for input after ${MAX_REQUESTS} requests of ${bridge.method}; the gateway gave up`,
      );
    const { inputRequests = {}, requestState } = parsed.data;
    const responses: Record<string, unknown> = {};
    // One at a time: a person answers one question after another.
    for (const [key, input] of Object.entries(inputRequests))
      responses[key] = await relay(bridge, input.method, input.params ?? {}, status);
    retry = {
      ...(Object.keys(inputRequests).length ? { inputResponses: responses } : {}),
      // mrtr, "Client Requirements": echoed exactly, and only when the upstream sent one.
      ...(requestState !== undefined ? { requestState } : {}),
    };
  }
}

/**
 * An upstream's `input_required` result as a 2026-07-28 agent gets it: of the right shape, with
 * only input requests the agent declared (else -32021 with `data.requiredCapabilities`), reduced to
 * `resultType`, `inputRequests` and `requestState`.
 */
export function checkInputRequired(
  app: string,
  method: string,
  result: Record<string, unknown>,
  declared: Record<string, unknown>,
  status: number,
): Record<string, unknown> {
  const parsed = inputRequiredResult.safeParse(result);
  if (!parsed.success || (parsed.data.inputRequests === undefined && parsed.data.requestState === undefined))
    throw new UpstreamError(app, `upstream answered ${method} with an input_required result of the wrong shape`);
  const { inputRequests, requestState } = parsed.data;
  for (const input of Object.values(inputRequests ?? {})) {
    const required = missingCapability(input.method, input.params ?? {}, declared);
    if (required === "unknown")
      throw new UpstreamError(app, `upstream asked the agent for ${input.method}, which is not an input request`);
    if (required)
      throw new UpstreamProtocolError(
        app,
        MISSING_REQUIRED_CLIENT_CAPABILITY,
        `Missing required client capability: ${method} needs ${input.method}, which the agent did not declare`,
        { requiredCapabilities: required },
        status,
      );
  }
  return {
    resultType: "input_required",
    ...(inputRequests ? { inputRequests } : {}),
    ...(requestState !== undefined ? { requestState } : {}),
  };
}

async function relay(
  bridge: InputBridge,
  method: string,
  params: Record<string, unknown>,
  status: number,
): Promise<Record<string, unknown>> {
  const required = missingCapability(method, params, bridge.ask ? bridge.capabilities : {});
  if (required === "unknown")
    throw new UpstreamError(bridge.app, `upstream asked the agent for ${method}, which is not an input request`);
  if (required)
    throw new UpstreamJsonRpcError(
      bridge.app,
      MISSING_REQUIRED_CLIENT_CAPABILITY,
      `Missing required client capability: ${bridge.method} needs ${method}, which the agent ${
        bridge.ask ? "did not declare" : "cannot be asked on this request (it reads no event stream)"
      }`,
      { requiredCapabilities: required },
      status,
    );
  let answer;
  try {
    answer = await bridge.ask!(method, forLegacyAgent(method, params), bridge.signal);
  } catch {
    throw new UpstreamError(
      bridge.app,
      `the agent did not answer ${method} within the timeout of ${bridge.timeoutMs} ms`,
    );
  }
  if ("error" in answer)
    throw new UpstreamJsonRpcError(
      bridge.app,
      answer.error.code,
      `the agent refused ${method}: ${answer.error.message}`,
      answer.error.data,
      status,
    );
  return answer.result;
}

/**
 * What the agent must have declared to be asked `method` (in the ClientCapabilities shape), or
 * undefined when it has: `elicitation` (form mode: declared with no modes, or with `form`; URL
 * mode: with `url`), `sampling` (with `tools` when the request offers tools), `roots`.
 * "unknown" for a method that is no input request (mrtr, "Server Requirements" item 2).
 */
export function missingCapability(
  method: string,
  params: Record<string, unknown>,
  declared: Record<string, unknown>,
): Record<string, unknown> | "unknown" | undefined {
  switch (method) {
    case "elicitation/create": {
      const elicitation = declared.elicitation;
      const mode = params.mode === "url" ? "url" : "form";
      if (!isObject(elicitation)) return { elicitation: { [mode]: {} } };
      if (mode === "url") return elicitation.url ? undefined : { elicitation: { url: {} } };
      return Object.keys(elicitation).length === 0 || elicitation.form ? undefined : { elicitation: { form: {} } };
    }
    case "sampling/createMessage": {
      const sampling = declared.sampling;
      if (!isObject(sampling)) return { sampling: params.tools ? { tools: {} } : {} };
      return params.tools && !sampling.tools ? { sampling: { tools: {} } } : undefined;
    }
    case "roots/list":
      return isObject(declared.roots) ? undefined : { roots: {} };
    default:
      return "unknown";
  }
}

/**
 * A 2025-11-25 URL-mode elicitation carries an `elicitationId`, which the 2026-07-28 shape dropped
 * (the upstream correlates through its request state); the gateway supplies one for the agent.
 */
function forLegacyAgent(method: string, params: Record<string, unknown>): Record<string, unknown> {
  if (method === "elicitation/create" && params.mode === "url" && typeof params.elicitationId !== "string")
    return { ...params, elicitationId: crypto.randomUUID() };
  return params;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
