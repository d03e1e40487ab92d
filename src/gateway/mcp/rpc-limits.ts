// What fits through the runtime's RPC between the gateway's front and a session's Durable
// Object. Values cross it serialized (the structured clone algorithm, recursively), and a value
// the runtime refuses makes the whole call fail as an internal error (HTTP 500): one nested a few
// thousand levels deep overflows the serializer's stack, and a call carries at most 32 MiB. Hostile
// input must never get there: an agent's body is bounded by the front (JSON-RPC 2.0 §5.1 -32600;
// RFC 8259 §9 lets a parser limit nesting depth), what an upstream answers is bounded where it
// is read, and the replies to one POST are bounded together. docs/mcp-endpoint.md.

/**
 * Whether `text` opens more than `max` arrays or objects inside one another. A linear scan that
 * skips strings (with their escapes), so it costs no recursion and allocates nothing; text that
 * is not JSON is measured the same way and left to JSON.parse to refuse.
 */
export function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > max) return true;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) depth--;
  }
  return false;
}

/**
 * The deepest nesting an answer from an upstream (an MCP server, an HTTP API) may have on its way
 * to the agent: far beyond any real result, well below where the runtime's RPC fails.
 */
export const MAX_UPSTREAM_JSON_DEPTH = 1000;

/**
 * How many bytes the replies to one POST may take together on their way back to the front;
 * beyond it a reply is replaced by a JSON-RPC error. Below the RPC's 32 MiB, with room for the
 * rest of the call.
 */
export const MAX_REPLY_BYTES = 24 * 1024 * 1024;

/**
 * About how many bytes `value` takes serialized: its JSON text, at two bytes a character when
 * some character is beyond Latin-1 (the runtime then stores strings as UTF-16).
 */
export function serializedSize(value: unknown): number {
  const json = JSON.stringify(value) ?? "";
  return /[^\u0000-\u00ff]/.test(json) ? json.length * 2 : json.length;
}
