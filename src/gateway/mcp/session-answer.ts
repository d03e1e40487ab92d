// Turns what a session answers (JSON-RPC messages, one per line, as they happen) into the HTTP
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
  /**
   * How many replies the POST awaits (its requests). Once they are all in, the answer goes out
   * without waiting for the session to finish its bookkeeping (storage writes, telemetry).
   */
  expectedReplies: number;
  /** Keeps the worker alive while a stream is still being written after the Response is returned. */
  waitUntil: (promise: Promise<unknown>) => void;
}

const SSE_HEADERS = { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" };

function sseFrame(message: JSONRPCMessage): string {
  return `event: message\ndata: ${JSON.stringify(message)}\n\n`;
}

/** The messages of a stream of JSON lines. */
async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<JSONRPCMessage> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffered += value;
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (line) yield JSON.parse(line) as JSONRPCMessage;
    }
  }
}

const isReply = (message: JSONRPCMessage) => !("method" in message);

export async function answerFromSession(stream: ReadableStream<Uint8Array>, options: AnswerOptions): Promise<Response> {
  const messages = lines(stream);
  const replies: JSONRPCMessage[] = [];
  for (;;) {
    const next = await messages.next();
    if (next.done) break;
    const message = next.value;
    if (isReply(message)) {
      replies.push(message);
      if (replies.length === options.expectedReplies) {
        options.waitUntil(drain(messages));
        break;
      }
      continue;
    }
    // A notification or a request for the agent: only an event stream can carry it.
    if (!options.acceptsEventStream) continue;
    return openStream([...replies, message], messages, options);
  }
  if (replies.length === 0) return new Response(null, { status: 202 });
  if (options.format === "sse") return new Response(replies.map(sseFrame).join(""), { status: 200, headers: SSE_HEADERS });
  return new Response(JSON.stringify(options.batch ? replies : replies[0]), { status: 200, headers: { "Content-Type": "application/json" } });
}

/** Reads what the session still writes after the last reply, so that it can finish. */
async function drain(rest: AsyncGenerator<JSONRPCMessage>): Promise<void> {
  try {
    for await (const _ of rest);
  } catch {
    // Nothing after the replies is for the agent.
  }
}

/** An SSE response that starts with `first` and follows the rest of the session's messages. */
function openStream(first: JSONRPCMessage[], rest: AsyncGenerator<JSONRPCMessage>, options: AnswerOptions): Response {
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const writer = writable.getWriter();
  const encoder = new TextEncoder();
  const pump = (async () => {
    try {
      for (const message of first) await writer.write(encoder.encode(sseFrame(message)));
      for await (const message of rest) await writer.write(encoder.encode(sseFrame(message)));
      await writer.close();
    } catch {
      // The agent went away: the session finishes the work on its side regardless.
      await writer.abort().catch(() => undefined);
    }
  })();
  options.waitUntil(pump);
  return new Response(readable, { status: 200, headers: SSE_HEADERS });
}
