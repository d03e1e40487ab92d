// How long the stateless front waits for a Durable Object (an MCP session, or a principal's
// context) to answer one POST, and what the agent gets when it does not (docs/mcp-endpoint.md,
// "When an object does not answer"). The object bounds every upstream operation by its app's
// `timeout`, so an object still silent well past that will not answer: the runtime lost it, it
// is overloaded, or it is wedged. Without a bound of its own the front would hold the agent's
// request open for as long as the platform lets it. Pure rules, no I/O.
import { ErrorCode } from "@modelcontextprotocol/sdk/types.js";
import { JsonRpcError } from "../../core/errors.js";
import type { AppConfig } from "../apps-schema.js";

/**
 * The upstream operations one request can take in a row, each under its app's timeout: listing
 * the app's tools to resolve a name, the call, and the call once more with a fresh token after
 * the upstream refused the first (call-pipeline.ts, RFC 6750 §3.1).
 */
const OPERATIONS_PER_REQUEST = 3;

/** What comes before and after the upstream operations: token exchange, policy, storage, the RPC itself. */
export const OBJECT_MARGIN_MS = 10_000;

/**
 * The front's bound on one object answer for a POST carrying `requests` requests (a session
 * answers a batch's requests one after the other): the longest app timeout for each upstream
 * operation a request may take, plus a margin.
 */
export function objectDeadlineMs(apps: readonly Pick<AppConfig, "timeout">[], requests = 1): number {
  const longest = Math.max(0, ...apps.map((app) => app.timeout));
  return Math.max(1, requests) * OPERATIONS_PER_REQUEST * longest + OBJECT_MARGIN_MS;
}

/** The object did not answer within the front's deadline. */
export class ObjectDeadlinePassed extends Error {
  override readonly name = "ObjectDeadlinePassed";
  constructor(readonly deadlineMs: number) {
    super(`no answer within ${deadlineMs} ms`);
  }
}

/**
 * `answer`, or an ObjectDeadlinePassed rejection once `deadlineMs` passed first; `onLate` runs
 * then (to tell the object to stop, to log). The timer goes as soon as either settles.
 */
export function withinDeadline<T>(answer: Promise<T>, deadlineMs: number, onLate?: () => void): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined = undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onLate?.();
      reject(new ObjectDeadlinePassed(deadlineMs));
    }, deadlineMs);
  });
  return Promise.race([answer, late]).finally(() => {
    if (timer !== undefined) clearTimeout(timer);
  });
}

/**
 * The object could not be reached, or did not answer in time: the request's id, -32603, and 503
 * with Retry-After, so the agent retries rather than reading a bare 500 or waiting on
 * (RFC 9110 §15.6.4). `what` names the object for the agent.
 */
export function objectUnavailable(what: string, id: string | number | null): JsonRpcError {
  return new JsonRpcError(
    ErrorCode.InternalError,
    `Service Unavailable: ${what} could not be reached, try again shortly`,
    503,
    undefined,
    { "Retry-After": "1" },
    id,
  );
}
