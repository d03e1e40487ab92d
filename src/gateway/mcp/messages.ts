// JSON-RPC 2.0 messages as the MCP endpoint receives them (MCP "Base Protocol", Streamable HTTP
// "Sending Messages to the Server"): one message, or in protocol 2025-03-26 a batch.
import {
  ErrorCode,
  JSONRPCMessageSchema,
  type JSONRPCMessage,
  type JSONRPCNotification,
  type JSONRPCRequest,
} from "@modelcontextprotocol/sdk/types.js";
import { JsonRpcError } from "../../core/errors.js";
import { nestsDeeperThan } from "./rpc-limits.js";

export type { JSONRPCMessage, JSONRPCNotification, JSONRPCRequest };

export interface ParsedBody {
  messages: JSONRPCMessage[];
  /** The body was a JSON array (a JSON-RPC batch). */
  batch: boolean;
}

/** Bounds on a POSTed body (mcpProvider.limits). */
export interface BodyLimits {
  /** Deepest nesting of arrays and objects, the body itself being level 1. */
  maxJsonDepth: number;
  /** Most messages in one batch. */
  batchSize: number;
}

/**
 * Parses a POSTed body into JSON-RPC messages, or throws the JSON-RPC error that says why not.
 * The bounds are checked before anything is executed: a body beyond them runs no part of itself.
 * `parsed`: the body as the front already parsed it (within the same bounds) to tell its era.
 */
export function parseMessages(text: string, limits: BodyLimits, parsed?: { body: unknown }): ParsedBody {
  const body = parsed ? parsed.body : parseJson(text, limits);
  const batch = Array.isArray(body);
  const items = batch ? (body as unknown[]) : [body];
  if (items.length === 0) throw new JsonRpcError(ErrorCode.InvalidRequest, "Invalid Request: empty batch", 400);
  if (items.length > limits.batchSize) {
    throw new JsonRpcError(
      ErrorCode.InvalidRequest,
      `Invalid Request: a batch may hold at most ${limits.batchSize} messages, this one holds ${items.length}`,
      400,
    );
  }
  const messages = items.map((item) => {
    const parsed = JSONRPCMessageSchema.safeParse(item);
    if (!parsed.success) {
      throw new JsonRpcError(ErrorCode.InvalidRequest, "Invalid Request: not a JSON-RPC 2.0 message", 400);
    }
    return parsed.data;
  });
  return { messages, batch };
}

/** The body as JSON, within the nesting bound (the same checks as parseMessages, for a body not yet parsed). */
export function parseJson(text: string, limits: BodyLimits): unknown {
  if (nestsDeeperThan(text, limits.maxJsonDepth)) {
    throw new JsonRpcError(
      ErrorCode.InvalidRequest,
      `Invalid Request: the body nests arrays and objects deeper than ${limits.maxJsonDepth} levels`,
      400,
    );
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new JsonRpcError(ErrorCode.ParseError, "Parse error: the body is not valid JSON", 400);
  }
}

export function isRequest(message: JSONRPCMessage): message is JSONRPCRequest {
  return "method" in message && "id" in message;
}

export function isNotification(message: JSONRPCMessage): message is JSONRPCNotification {
  return "method" in message && !("id" in message);
}

/** A response (result or error) to a request the server sent. */
export function isResponse(
  message: JSONRPCMessage,
): message is Extract<JSONRPCMessage, { id: unknown }> & ({ result: unknown } | { error: unknown }) {
  return !("method" in message) && ("result" in message || "error" in message);
}

export function isInitialize(message: JSONRPCMessage): message is JSONRPCRequest {
  return isRequest(message) && message.method === "initialize";
}
