// The request metadata headers a client sends to a 2026-07-28 server over Streamable HTTP (MCP
// 2026-07-28 basic/transports/streamable-http, "Request Metadata"): `Mcp-Method`, `Mcp-Name`, and
// `Mcp-Param-{Name}` for each tool parameter whose schema carries an `x-mcp-header` annotation.
// Pure rules, no I/O: which annotations make a tool definition invalid (such a tool is left out of
// the tool list, as the transport requires of clients), where the annotated values are in a call's
// arguments, and how a value is encoded into a header (plain, or the `=?base64?…?=` sentinel).
// Hand-written because no installed package reads these annotations from a client's side.

/** An annotated parameter: its header name part and the chain of `properties` keys leading to it. */
export interface HeaderParameter {
  name: string;
  path: string[];
}

/** RFC 9110 §5.6.2: a token is 1*tchar. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const PRIMITIVE_TYPES = new Set(["string", "integer", "boolean"]);
/** Keywords whose values are data, not schemas: an `x-mcp-header` key inside them annotates nothing. */
const DATA_KEYWORDS = new Set(["const", "enum", "default", "examples"]);

/**
 * The annotated parameters of a tool's inputSchema, or why the definition is invalid (an
 * annotation that is not a token, repeats another case-insensitively, sits on a non-primitive
 * parameter, or is not reachable from the root through `properties` keys alone).
 */
export function headerParameters(inputSchema: unknown): { parameters: HeaderParameter[] } | { invalid: string } {
  const parameters: HeaderParameter[] = [];
  const problems: string[] = [];
  const visit = (node: unknown, path: string[], reachable: boolean): void => {
    if (Array.isArray(node)) {
      for (const item of node) visit(item, path, false);
      return;
    }
    if (!isObject(node)) return;
    if ("x-mcp-header" in node) {
      const where = path.length ? path.join(".") : "the schema root";
      const name = node["x-mcp-header"];
      if (!reachable || path.length === 0)
        problems.push(`x-mcp-header at ${where} is not reachable through properties alone`);
      else if (typeof name !== "string" || !TOKEN.test(name))
        problems.push(`x-mcp-header of ${where} is not an HTTP field-name token`);
      else if (typeof node.type !== "string" || !PRIMITIVE_TYPES.has(node.type))
        problems.push(`x-mcp-header of ${where} is on a parameter that is not a string, integer or boolean`);
      else if (parameters.some((p) => p.name.toLowerCase() === name.toLowerCase()))
        problems.push(`x-mcp-header ${name} appears twice`);
      else parameters.push({ name, path });
    }
    for (const [key, value] of Object.entries(node)) {
      if (key === "x-mcp-header" || DATA_KEYWORDS.has(key)) continue;
      if (key === "properties" && isObject(value)) {
        // The keys here are parameter names, not keywords: each value is a parameter's schema.
        for (const [property, schema] of Object.entries(value)) visit(schema, [...path, property], reachable);
      } else visit(value, path, false);
    }
  };
  visit(inputSchema, [], true);
  return problems.length ? { invalid: problems.join("; ") } : { parameters };
}

/** The `Mcp-Param-{Name}` headers of a call: one per annotated parameter that has a value. */
export function parameterHeaders(
  parameters: readonly HeaderParameter[],
  args: Record<string, unknown>,
): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const { name, path } of parameters) {
    let value: unknown = args;
    for (const key of path) value = isObject(value) && Object.hasOwn(value, key) ? value[key] : undefined;
    // Absent and null values have no header (the server must not expect one).
    if (typeof value === "string") headers[`Mcp-Param-${name}`] = headerValue(value);
    else if (typeof value === "number" || typeof value === "boolean") headers[`Mcp-Param-${name}`] = String(value);
  }
  return headers;
}

/** `Mcp-Method`, and `Mcp-Name` for the requests that name a tool, prompt or resource. */
export function standardHeaders(method: string, params: Record<string, unknown> | undefined): Record<string, string> {
  const headers: Record<string, string> = { "Mcp-Method": method };
  const name =
    method === "tools/call" || method === "prompts/get"
      ? params?.name
      : method === "resources/read"
        ? params?.uri
        : undefined;
  if (typeof name === "string") headers["Mcp-Name"] = headerValue(name);
  return headers;
}

/**
 * A value as a header carries it ("Value Encoding"): as it is when it is visible ASCII, spaces and
 * tabs with no space at either end; otherwise, or when it looks like the sentinel itself, the
 * Base64 of its UTF-8 between `=?base64?` and `?=`.
 */
export function headerValue(value: string): string {
  const plain = /^[\x21-\x7E]([\x20-\x7E\t]*[\x21-\x7E])?$/.test(value) || value === "";
  const lookalike = value.startsWith("=?base64?") && value.endsWith("?=");
  if (plain && !lookalike) return value;
  const bytes = new TextEncoder().encode(value);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return `=?base64?${btoa(binary)}?=`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
