// The request metadata headers of MCP 2026-07-28 Streamable HTTP ("Request Metadata"), as pure
// rules: `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name` must be present and agree with the
// body, and `Mcp-Param-{Name}` headers must agree with the tool arguments a tool's `inputSchema`
// marks with `x-mcp-header`. A disagreement is HTTP 400 with JSON-RPC -32020 (HeaderMismatch):
// a load balancer routing on a header while the gateway acts on the body must never see two
// different requests. Values may come in the Base64 sentinel form (`=?base64?…?=`, "Value
// Encoding"), decoded here before any comparison.
//
// Hand-written: the SDK's classifier (`classifyInboundRequest`) checks the version and method
// headers against the body but keeps its Mcp-Name and Mcp-Param checks internal.
import { JsonRpcError } from "../../core/errors.js";

/** MCP 2026-07-28 basic/index "Error Codes": the headers do not match the body, or are missing or malformed. */
export const HEADER_MISMATCH = -32020;

type RequestId = string | number;

/** What the front read of the headers a 2026-07-28 request came with. */
export interface ModernHeaders {
  protocolVersion?: string;
  method?: string;
  name?: string;
}

/** The methods whose `Mcp-Name` mirrors a body field ("Standard Request Headers"). */
const NAME_SOURCES: Record<string, "name" | "uri"> = {
  "tools/call": "name",
  "prompts/get": "name",
  "resources/read": "uri",
};

const SENTINEL = /^=\?base64\?([A-Za-z0-9+/]*={0,2})\?=$/;
/** RFC 9110 §5.5 field-value characters: visible ASCII, space and horizontal tab. */
const PLAIN_VALUE = /^[\x20-\x7e\t]*$/;

/**
 * The value a header carries: plain ASCII as it is, or the UTF-8 text of a Base64 sentinel.
 * Undefined when it is neither (characters outside visible ASCII, a broken sentinel, Base64 that
 * is not UTF-8): such a header is invalid and refused.
 */
export function decodeHeaderValue(raw: string): string | undefined {
  const value = raw.replace(/^[ \t]+|[ \t]+$/g, "");
  if (value.startsWith("=?base64?") && value.endsWith("?=")) {
    const match = SENTINEL.exec(value);
    if (!match || match[1]!.length % 4 !== 0) return undefined;
    try {
      const bytes = Uint8Array.from(atob(match[1]!), (c) => c.charCodeAt(0));
      return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
    } catch {
      return undefined;
    }
  }
  return PLAIN_VALUE.test(value) ? value : undefined;
}

function mismatch(id: RequestId, message: string, header: string): JsonRpcError {
  return new JsonRpcError(HEADER_MISMATCH, `Header mismatch: ${message}`, 400, { header }, {}, id);
}

/**
 * "Server Validation": the standard headers of one request. The SDK's classifier has already
 * refused a version or method header that disagrees with the body; this refuses one that is
 * missing, and an `Mcp-Name` that is missing, malformed or names something else than the body.
 */
export function checkStandardHeaders(
  headers: ModernHeaders,
  request: { id: RequestId; method: string; params?: Record<string, unknown> },
): void {
  if (headers.protocolVersion === undefined)
    throw mismatch(request.id, "the MCP-Protocol-Version header is required", "MCP-Protocol-Version");
  if (headers.method === undefined) throw mismatch(request.id, "the Mcp-Method header is required", "Mcp-Method");
  const field = NAME_SOURCES[request.method];
  if (!field) return;
  const body = request.params?.[field];
  if (headers.name === undefined) {
    if (body === undefined) return;
    throw mismatch(request.id, `the Mcp-Name header is required for ${request.method}`, "Mcp-Name");
  }
  const decoded = decodeHeaderValue(headers.name);
  if (decoded === undefined) throw mismatch(request.id, "the Mcp-Name header value is not valid", "Mcp-Name");
  if (typeof body === "string" && decoded !== body)
    throw mismatch(request.id, `the Mcp-Name header does not match params.${field}`, "Mcp-Name");
}

/** One `x-mcp-header` declaration of a tool: the header's name part and the argument path it mirrors. */
export interface ParamHeader {
  header: string;
  path: string[];
  type: "string" | "integer" | "boolean";
}

/** RFC 9110 §5.1 token (tchar). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * The `x-mcp-header` declarations of a tool's `inputSchema` (MCP 2026-07-28 server/tools,
 * "x-mcp-header"): those on primitive properties reached through `properties` keys alone.
 * Declarations elsewhere make the tool invalid for clients; the gateway passes the definition
 * through as the upstream wrote it and checks only the declarations it can apply.
 */
export function paramHeadersOf(inputSchema: unknown): ParamHeader[] {
  const found: ParamHeader[] = [];
  const walk = (schema: unknown, path: string[]) => {
    if (typeof schema !== "object" || schema === null || path.length > 32) return;
    const properties = (schema as { properties?: unknown }).properties;
    if (typeof properties !== "object" || properties === null) return;
    for (const [key, property] of Object.entries(properties as Record<string, unknown>)) {
      if (typeof property !== "object" || property === null) continue;
      const header = (property as Record<string, unknown>)["x-mcp-header"];
      const type = (property as Record<string, unknown>).type;
      if (
        typeof header === "string" &&
        TOKEN.test(header) &&
        (type === "string" || type === "integer" || type === "boolean")
      )
        found.push({ header, path: [...path, key], type });
      walk(property, [...path, key]);
    }
  };
  walk(inputSchema, []);
  return found;
}

function valueAt(args: Record<string, unknown>, path: string[]): unknown {
  let value: unknown = args;
  for (const key of path) {
    if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

function agrees(declared: ParamHeader, header: string, body: unknown): boolean {
  switch (declared.type) {
    case "integer":
      // "Server Validation": integers compare numerically (42.0 and 42 are equal).
      return typeof body === "number" && header.trim() !== "" && Number(header) === body;
    case "boolean":
      return typeof body === "boolean" && header === String(body);
    default:
      return typeof body === "string" && header === body;
  }
}

/**
 * "Custom Headers from Tool Parameters": for each declaration whose argument is in the body (and
 * not null), the `Mcp-Param-{Name}` header must be there and, decoded, carry the same value.
 * `paramHeaders` are the request's `Mcp-Param-*` headers by lower-cased name part.
 */
export function checkParamHeaders(
  id: RequestId,
  declared: ParamHeader[],
  args: Record<string, unknown>,
  paramHeaders: Record<string, string>,
): void {
  for (const declaration of declared) {
    const body = valueAt(args, declaration.path);
    const name = `Mcp-Param-${declaration.header}`;
    const raw = paramHeaders[declaration.header.toLowerCase()];
    if (body === undefined || body === null) continue;
    if (raw === undefined) throw mismatch(id, `the ${name} header is required`, name);
    const decoded = decodeHeaderValue(raw);
    if (decoded === undefined) throw mismatch(id, `the ${name} header value is not valid`, name);
    if (!agrees(declaration, decoded, body))
      throw mismatch(id, `the ${name} header does not match the argument ${declaration.path.join(".")}`, name);
  }
}
