// Which era one POST to the MCP endpoint belongs to (MCP 2026-07-28 basic/versioning, "Backward
// Compatibility"; docs/mcp-endpoint.md), decided by the front before any session or context is
// touched: a request whose `_meta` claims a per-request revision goes to modern-transport.ts,
// everything else the session-based way (http-transport.ts). The rules are the SDK's
// `classifyInboundRequest`; a request the classifier refuses gets the JSON-RPC error and HTTP
// status it names, with the request's id when there is one. Pure rules, no I/O.
import {
  classifyInboundRequest,
  PROTOCOL_VERSION_META_KEY,
  type InboundModernRoute,
} from "@modelcontextprotocol/server";
import { JsonRpcError } from "../../core/errors.js";
import { parseJson, type BodyLimits } from "./messages.js";
import { isModernProtocolVersion, isSupportedProtocolVersion } from "./protocol.js";

/** Which way one POST goes; a legacy body already parsed comes along, so it is not parsed twice. */
export type Era = { kind: "legacy"; parsed?: { body: unknown } } | { kind: "modern"; route: InboundModernRoute };

function idOf(body: unknown): string | number | null {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return null;
  const id = (body as { id?: unknown }).id;
  return typeof id === "string" || typeof id === "number" ? id : null;
}

/**
 * Whether a message claims the per-request era: its `params._meta` holds the protocol-version
 * key, whatever its value (MCP 2026-07-28 basic/versioning; the classifier's own test).
 */
function claimsEnvelope(message: unknown): boolean {
  if (typeof message !== "object" || message === null || Array.isArray(message)) return false;
  const params = (message as { params?: unknown }).params;
  if (typeof params !== "object" || params === null || Array.isArray(params)) return false;
  const meta = (params as { _meta?: unknown })._meta;
  return typeof meta === "object" && meta !== null && !Array.isArray(meta) && PROTOCOL_VERSION_META_KEY in meta;
}

/**
 * The era of a POSTed body. Bodies that are not JSON, or nest beyond the limit, go the legacy
 * way, whose parser refuses them as it always has, unless the headers name a per-request
 * revision (then the same error, here). Throws the classifier's refusal as a JsonRpcError.
 *
 * A body none of whose messages claims the per-request envelope, sent with no
 * MCP-Protocol-Version header or a session-based one, is legacy without asking the classifier:
 * for such a body every rung of its ladder routes legacy or refuses only the JSON-RPC shape,
 * which the legacy parser then refuses itself (test/gateway/era-classification.test.ts holds
 * the two to the same answers). That is every request of a 2025 session, which so skips the
 * classifier's schema checks (their cost: docs/performance.md, "Profiles").
 */
export function classifyPost(headers: (name: string) => string | undefined, text: string, limits: BodyLimits): Era {
  const versionHeader = headers("MCP-Protocol-Version")?.trim();
  const modernHeader = versionHeader !== undefined && isModernProtocolVersion(versionHeader);
  let body: unknown;
  try {
    body = parseJson(text, limits);
  } catch (err) {
    if (modernHeader) throw err;
    return { kind: "legacy" };
  }
  if (
    (versionHeader === undefined || isSupportedProtocolVersion(versionHeader)) &&
    !(Array.isArray(body) ? body.some(claimsEnvelope) : claimsEnvelope(body))
  )
    return { kind: "legacy", parsed: { body } };
  const outcome = classifyInboundRequest({
    httpMethod: "POST",
    body,
    ...(versionHeader !== undefined ? { protocolVersionHeader: versionHeader } : {}),
    ...optional("mcpMethodHeader", headers("Mcp-Method")),
    ...optional("mcpNameHeader", headers("Mcp-Name")),
  });
  if (outcome.kind === "legacy") return { kind: "legacy", parsed: { body } };
  if (outcome.kind === "modern") return { kind: "modern", route: outcome };
  // A body that is no JSON-RPC message at all is refused by the legacy parser with today's
  // errors, unless it claims the per-request era somewhere.
  if (outcome.rung === "jsonrpc-shape" && outcome.cell !== "batch-with-modern-element" && !modernHeader)
    return { kind: "legacy", parsed: { body } };
  throw new JsonRpcError(outcome.code, outcome.message, outcome.httpStatus, outcome.data, {}, idOf(body));
}

function optional<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, string>);
}
