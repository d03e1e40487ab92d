// Turns what a session answers (JSON-RPC messages, as they happen) into the HTTP
// answer of Streamable HTTP: one JSON body when there is nothing to say before the replies and
// the client takes JSON; otherwise an SSE stream, opened as soon as the first notification or
// relayed request arrives, so progress and questions reach the agent while the call runs.
import type { ResponseFormat } from "./http-negotiation.js";
import type { JSONRPCMessage } from "./messages.js";

export interface AnswerOptions {
  /** What the client's Accept prefers. */
  format: ResponseFormat;
  /** The client takes an event stream (it may also prefer JSON). */
  acceptsEventStream: boolean;
  /** The request was a JSON-RPC batch: a JSON answer is then an array. */
  batch: boolean;
  /** Keeps the worker alive while a stream is still being written after the Response is returned. */
  waitUntil: (promise: Promise<unknown>) => void;
  /** Headers an event stream answer carries besides the usual ones. */
  streamHeaders?: Record<string, string>;
  /** The agent closed the event stream before its end (a 2026-07-28 agent cancels the request so). */
  onAgentGone?: () => void;
  /**
   * How often an open event stream carries an SSE comment line while nothing else flows: it keeps
   * intermediaries from closing it as idle, and a write is how the runtime learns the agent left.
   */
  keepAliveMs?: number;
}

const SSE_HEADERS = { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" };

function sseFrame(message: JSONRPCMessage): string {
  return `event: message\ndata: ${JSON.stringify(message)}\n\n`;
}

/**
 * What a session says about one POST, in order: the events it passes on while working (pushed
 * here by `onEvent`, which the Durable Object calls over RPC), then its replies. Throws what the
 * session's answer threw (the front maps it to an error response).
 */
export class SessionMessages {
  private readonly events: JSONRPCMessage[] = [];
  private wake: (() => void) | undefined;

  /** Passed to the session: each call is one event, in the order the session sends them. */
  readonly onEvent = (message: JSONRPCMessage): void => {
    this.events.push(message);
    this.wake?.();
  };

  async *follow(replies: Promise<JSONRPCMessage[]>): AsyncGenerator<JSONRPCMessage> {
    let outcome: { replies: JSONRPCMessage[] } | { error: unknown } | undefined;
    replies
      .then(
        (value) => (outcome = { replies: value }),
        (error: unknown) => (outcome = { error }),
      )
      .finally(() => this.wake?.());
    for (;;) {
      while (this.events.length) yield this.events.shift()!;
      if (outcome) break;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
    if ("error" in outcome) throw outcome.error;
    yield* outcome.replies;
  }
}

const isReply = (message: JSONRPCMessage) => !("method" in message);

export async function answerFromSession(
  messages: AsyncGenerator<JSONRPCMessage>,
  options: AnswerOptions,
): Promise<Response> {
  const replies: JSONRPCMessage[] = [];
  for (;;) {
    const next = await messages.next();
    if (next.done) break;
    const message = next.value;
    if (isReply(message)) {
      replies.push(message);
      continue;
    }
    // A notification or a request for the agent: only an event stream can carry it.
    if (!options.acceptsEventStream) continue;
    return openStream([...replies, message], messages, options);
  }
  if (replies.length === 0) return new Response(null, { status: 202 });
  if (options.format === "sse")
    return new Response(replies.map(sseFrame).join(""), {
      status: 200,
      headers: { ...SSE_HEADERS, ...options.streamHeaders },
    });
  return new Response(JSON.stringify(options.batch ? replies : replies[0]), {
    status: 200,
    headers: { "Content-Type": "application/json" },
  });
}

/** An SSE response that starts with `first` and follows the rest of the session's messages. */
function openStream(first: JSONRPCMessage[], rest: AsyncGenerator<JSONRPCMessage>, options: AnswerOptions): Response {
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const writer = writable.getWriter();
  const encoder = new TextEncoder();
  let gone = false;
  const agentGone = () => {
    if (gone) return;
    gone = true;
    options.onAgentGone?.();
  };
  const comment = encoder.encode(":\n\n");
  const keepAlive =
    options.keepAliveMs === undefined
      ? undefined
      : setInterval(() => void writer.write(comment).catch(agentGone), options.keepAliveMs);
  const pump = (async () => {
    try {
      for (const message of first) await writer.write(encoder.encode(sseFrame(message)));
      for await (const message of rest) await writer.write(encoder.encode(sseFrame(message)));
      await writer.close();
    } catch {
      // The agent went away: the session finishes the work on its side, unless told otherwise.
      agentGone();
      await writer.abort().catch(() => undefined);
    } finally {
      if (keepAlive !== undefined) clearInterval(keepAlive);
    }
  })();
  options.waitUntil(pump);
  return new Response(readable, { status: 200, headers: { ...SSE_HEADERS, ...options.streamHeaders } });
}
