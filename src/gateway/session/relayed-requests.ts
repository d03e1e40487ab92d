// Requests an upstream makes of the agent during a call (sampling/createMessage,
// elicitation/create, roots/list), relayed on the agent's response stream under an id of the
// gateway's own (upstreams' ids could collide), and matched with the agent's answer when it
// arrives in a later POST. In memory: a relayed request lives only as long as the call that
// carries it, which the same Durable Object instance is serving.
import type { RelayedAnswer } from "../apps/streamable-http-client.js";
import type { JSONRPCMessage } from "../mcp/messages.js";

export class RelayedRequests {
  private readonly pending = new Map<string, (answer: RelayedAnswer) => void>();

  /** Sends `method` to the agent through `send`; resolves to its answer, rejects when `signal` aborts first. */
  ask(
    send: (message: JSONRPCMessage) => void,
    method: string,
    params: unknown,
    signal: AbortSignal,
  ): Promise<RelayedAnswer> {
    const id = `gateway-${crypto.randomUUID()}`;
    return new Promise<RelayedAnswer>((resolve, reject) => {
      const abandon = () => {
        this.pending.delete(id);
        reject(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
      };
      if (signal.aborted) return abandon();
      signal.addEventListener("abort", abandon, { once: true });
      this.pending.set(id, (answer) => {
        signal.removeEventListener("abort", abandon);
        resolve(answer);
      });
      send({
        jsonrpc: "2.0",
        id,
        method,
        ...(params === undefined ? {} : { params: params as Record<string, unknown> }),
      });
    });
  }

  /** The agent's response to a relayed request; responses to anything else are ignored. */
  answer(message: { id?: unknown; result?: unknown; error?: unknown }): void {
    const resolve = typeof message.id === "string" ? this.pending.get(message.id) : undefined;
    if (!resolve) return;
    this.pending.delete(message.id as string);
    resolve(
      message.error !== undefined
        ? { error: message.error as { code: number; message: string; data?: unknown } }
        : { result: (message.result ?? {}) as Record<string, unknown> },
    );
  }
}
