// What a policy answers, and how its answer is read. The entrypoint's value must be
//   {"allowed": boolean, "external_message"?: string, "reason"?: string}
// (other keys are ignored, so policies may carry more for their own tests); anything else is a
// deny, never a guess: a policy whose result cannot be read has not allowed anything.

export interface PolicyDecision {
  allowed: boolean;
  /** For the agent: the tool error's text on a deny. */
  externalMessage?: string;
  /** For the audit event: why, including what went wrong when nothing was decided. */
  reason?: string;
  /** The policy that decided, when one did. */
  policy?: string;
}

/** What the agent reads when a policy denies without saying why, or when it failed. */
export const DENIED_MESSAGE = "The gateway's policy does not allow this tool call.";

export const WRONG_SHAPE = "policy result has the wrong shape";

/** The result could not be read as a decision. */
export class PolicyResultError extends Error {
  constructor(detail: string) {
    super(`${WRONG_SHAPE}: ${detail}; expected {"allowed": boolean, "external_message"?: string, "reason"?: string}`);
    this.name = "PolicyResultError";
  }
}

function kind(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

/**
 * Reads an OPA result set (`[{"result": value}]`, or `[]` when the entrypoint is undefined,
 * as for a decision rule without a default) into a decision, or throws PolicyResultError.
 */
export function readDecision(resultSet: unknown): Omit<PolicyDecision, "policy"> {
  if (!Array.isArray(resultSet)) throw new PolicyResultError(`the result set is ${kind(resultSet)}`);
  if (resultSet.length === 0) throw new PolicyResultError("the decision is undefined (does the rule have a default?)");
  if (resultSet.length > 1) throw new PolicyResultError(`the query gave ${resultSet.length} results`);
  const row: unknown = resultSet[0];
  if (typeof row !== "object" || row === null || !("result" in row))
    throw new PolicyResultError("the result set has no result");
  const result: unknown = row.result;
  if (typeof result !== "object" || result === null || Array.isArray(result))
    throw new PolicyResultError(`the result is ${kind(result)}`);
  const { allowed, external_message: externalMessage, reason } = result as Record<string, unknown>;
  if (typeof allowed !== "boolean")
    throw new PolicyResultError(allowed === undefined ? "allowed is missing" : `allowed is ${kind(allowed)}`);
  if (externalMessage !== undefined && typeof externalMessage !== "string")
    throw new PolicyResultError(`external_message is ${kind(externalMessage)}`);
  if (reason !== undefined && typeof reason !== "string") throw new PolicyResultError(`reason is ${kind(reason)}`);
  return {
    allowed,
    ...(externalMessage !== undefined ? { externalMessage } : {}),
    ...(reason !== undefined ? { reason } : {}),
  };
}
