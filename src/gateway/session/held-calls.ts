// A 2026-07-28 agent's call to a session-based (2025-era) upstream that asks for input while it
// runs (MCP 2026-07-28 basic/patterns/mrtr; docs/mcp-endpoint.md, "Multi round-trip requests"). The
// upstream sends elicitation, sampling or roots requests on the call's stream and waits for the
// answers, so the call cannot end when the agent's request does: it is held in the principal's
// Durable Object while the agent answers. Each upstream request becomes an `input_required`
// result for the agent; its retry (under signed state, mcp/request-state.ts) answers that one
// request, and the agent then waits for the call's result or its next question.
//
// Bounded: the upstream call keeps its app's timeout (an agent that never retries ends it, the
// upstream hears an error for its request and its session stays usable); at most MAX_REQUESTS
// questions per call; only what the retrying request declared is asked (else -32021); a held call
// is found only by its random key and the pending question's id, both inside signed state.
import { randomToken } from "../../core/encoding.js";
import { JsonRpcError } from "../../core/errors.js";
import { MAX_REQUESTS, missingCapability } from "../apps/input-required.js";
import { MISSING_REQUIRED_CLIENT_CAPABILITY } from "../apps/modern-protocol.js";
import type { RelayedAnswer, ServerRequestRelay } from "../apps/streamable-http-client.js";
import type { JSONRPCMessage } from "../mcp/messages.js";

/** One question of the upstream's, waiting for the agent's answer. */
export interface PendingInput {
  /** The key of this question in the agent's `inputRequests` and `inputResponses`. */
  id: string;
  method: string;
  params: Record<string, unknown>;
  answer(answer: RelayedAnswer): void;
}

export type HeldStep = { reply: JSONRPCMessage } | { input: PendingInput } | { refusal: JsonRpcError };

export class HeldCall {
  /** The random key the signed state names the call by. */
  readonly key = randomToken(16);
  /** Whether its first request has returned an `input_required` result, so the call lives on here. */
  held = false;
  private pending: PendingInput | undefined;
  private refusal: JsonRpcError | undefined;
  private questions = 0;
  private wake: (() => void) | undefined;
  private replied: Promise<JSONRPCMessage> = new Promise(() => undefined);

  /** `declared`: the client capabilities of the agent's request now being answered. */
  constructor(public declared: Record<string, unknown>) {}

  /** The call's own reply, which never rejects (errors are JSON-RPC error messages). */
  run(reply: Promise<JSONRPCMessage>): void {
    this.replied = reply;
  }

  /** The relay the upstream's requests come through during this call. */
  readonly relay: ServerRequestRelay = (method, params, signal) => {
    const own = typeof params === "object" && params !== null ? (params as Record<string, unknown>) : {};
    const required = missingCapability(method, own, this.declared);
    if (required === "unknown")
      return Promise.resolve({ error: { code: -32601, message: `Method not found: ${method}` } });
    if (required) {
      this.refusal = new JsonRpcError(
        MISSING_REQUIRED_CLIENT_CAPABILITY,
        `Missing required client capability: the upstream asked for ${method}, which the request did not declare`,
        400,
        { requiredCapabilities: required },
      );
      this.wake?.();
      return Promise.resolve({
        error: { code: MISSING_REQUIRED_CLIENT_CAPABILITY, message: "the agent did not declare this capability" },
      });
    }
    if (++this.questions > MAX_REQUESTS)
      return Promise.resolve({
        error: { code: -32603, message: `the gateway asks an agent at most ${MAX_REQUESTS} questions per call` },
      });
    return new Promise<RelayedAnswer>((resolve, reject) => {
      const pending: PendingInput = { id: `input-${this.questions}`, method, params: own, answer: resolve };
      this.pending = pending;
      signal.addEventListener(
        "abort",
        () => {
          if (this.pending === pending) this.pending = undefined;
          reject(signal.reason);
        },
        { once: true },
      );
      this.wake?.();
    });
  };

  /** The call's reply, its next question, or the refusal of a question the agent could not be asked. */
  next(): Promise<HeldStep> {
    const now = this.now();
    if (now) return Promise.resolve(now);
    return new Promise<HeldStep>((resolve) => {
      this.wake = () => {
        const step = this.now();
        if (!step) return;
        this.wake = undefined;
        resolve(step);
      };
      void this.replied.then((reply) => {
        this.wake = undefined;
        resolve({ reply });
      });
    });
  }

  /**
   * The agent's answer to the pending question `id`; false when that question is not the one
   * pending (answered already, a replayed state, or ended by the timeout). Once only.
   */
  answer(id: string, response: Record<string, unknown>): boolean {
    const pending = this.pending;
    if (!pending || pending.id !== id) return false;
    this.pending = undefined;
    pending.answer({ result: response });
    return true;
  }

  /** Settles when the call has its reply. */
  settled(): Promise<unknown> {
    return this.replied;
  }

  /** The question the call waits on, if any. */
  question(): PendingInput | undefined {
    return this.pending;
  }

  private now(): HeldStep | undefined {
    if (this.refusal) {
      const refusal = this.refusal;
      this.refusal = undefined;
      return { refusal };
    }
    return this.pending ? { input: this.pending } : undefined;
  }
}
