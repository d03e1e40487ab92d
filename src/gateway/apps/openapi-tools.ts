// The MCP Bridge's conversion (docs/apps.md): each operation of an OpenAPI 3.0/3.1 document
// becomes an MCP tool whose input schema is built from the operation's parameters and JSON
// request body, with a call plan that says where each argument goes in the HTTP request.
// Pure: no I/O, so it runs the same in workerd and in unit tests.
import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import {
  HTTP_METHODS,
  locate,
  parameterSchema,
  parseOpenApiDocument,
  pathItemSchema,
  requestBodySchema,
  resolveObject,
  responseSchema,
  UnsupportedOpenApiError,
  type HttpMethod,
  type OpenApiDocument,
  type OpenApiVersion,
  type OperationObject,
  type ParameterObject,
  type ServerObject,
} from "./openapi-document.js";
import { SchemaConverter, type JsonSchema } from "./openapi-schema.js";

export { OpenApiError } from "./openapi-document.js";
export type { ServerObject } from "./openapi-document.js";

/** One argument of a tool and where it goes in the request. */
export interface PlannedParameter {
  /** The tool argument (input schema property) that carries it. */
  property: string;
  /** The parameter's name on the wire. */
  name: string;
  in: "path" | "query" | "header";
  required: boolean;
  /** OpenAPI 3.x §4.8.12.4 style and explode, defaults applied. */
  style: "matrix" | "label" | "simple" | "form" | "spaceDelimited" | "pipeDelimited" | "deepObject";
  explode: boolean;
  /** Set when the parameter is described by `content` (serialized as JSON) rather than `schema`. */
  json: boolean;
}

export interface CallPlan {
  method: Uppercase<HttpMethod>;
  /** The path template, e.g. `/contacts/{id}`, appended to the server URL. */
  path: string;
  parameters: PlannedParameter[];
  body?: { property: string; required: boolean; mediaType: string };
  /** The media types the operation declares it answers with, JSON first. */
  accept: string;
  /** The operation's or path's own `servers`, which override the document's (OpenAPI 3.x §4.8.10). */
  servers?: ServerObject[];
}

export interface BridgeTool {
  tool: Tool;
  plan: CallPlan;
}

export interface OpenApiTools {
  version: OpenApiVersion;
  servers: ServerObject[];
  tools: BridgeTool[];
  /** What was left out (operations, parameters) and why, for the operator's log. */
  warnings: string[];
}

/** MCP 2025-11-25 allows 128 characters; 64 leaves room for the gateway's namespace prefix. */
const MAX_TOOL_NAME = 64;

/**
 * Header parameters the bridge never takes from a tool's arguments. OpenAPI 3.x §4.8.12.1
 * ignores Accept, Content-Type and Authorization; the others carry credentials, routing or
 * framing that only the gateway sets.
 */
const REFUSED_HEADERS = new Set([
  "accept",
  "content-type",
  "authorization",
  "proxy-authorization",
  "cookie",
  "host",
  "content-length",
  "transfer-encoding",
  "connection",
  "traceparent",
  "tracestate",
]);

/** Parses, validates and converts a document. Throws OpenApiError when it is not usable at all. */
export function openApiTools(source: string | object): OpenApiTools {
  const doc = parseOpenApiDocument(source);
  const warnings: string[] = [];
  const tools: BridgeTool[] = [];
  const names = new Set<string>();
  for (const [path, rawItem] of Object.entries(doc.paths)) {
    let item;
    try {
      item = resolveObject(doc, rawItem, pathItemSchema, ["paths", path]);
    } catch (err) {
      if (!(err instanceof UnsupportedOpenApiError)) throw err;
      warnings.push(`${locate(["paths", path])} left out: ${err.message}`);
      continue;
    }
    for (const method of HTTP_METHODS) {
      const operation = item[method] as OperationObject | undefined;
      if (!operation) continue;
      const at = ["paths", path, method];
      try {
        const converted = convertOperation(doc, path, method, operation, item.parameters ?? [], warnings, at);
        const name = uniqueName(operation.operationId ?? `${method}_${path.slice(1)}`, names);
        const servers = operation.servers ?? item.servers;
        tools.push({
          tool: { name, ...converted.tool },
          plan: { ...converted.plan, ...(servers?.length ? { servers } : {}) },
        });
      } catch (err) {
        if (!(err instanceof UnsupportedOpenApiError)) throw err;
        warnings.push(`${locate(at)} left out: ${err.message}`);
      }
    }
  }
  return { version: doc.version, servers: doc.servers, tools, warnings };
}

function convertOperation(
  doc: OpenApiDocument,
  path: string,
  method: HttpMethod,
  operation: OperationObject,
  pathLevel: unknown[],
  warnings: string[],
  at: PropertyKey[],
): { tool: Omit<Tool, "name">; plan: Omit<CallPlan, "servers"> } {
  const where = locate(at);
  const converter = new SchemaConverter(doc);
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  const taken = new Set<string>();
  const body = requestBody(doc, operation, converter, at, warnings);
  if (body) {
    taken.add(body.plan.property);
    properties[body.plan.property] = body.schema;
    if (body.plan.required) required.push(body.plan.property);
  }
  const parameters: PlannedParameter[] = [];
  for (const param of mergedParameters(doc, path, pathLevel, operation.parameters ?? [], at)) {
    if (param.in === "cookie") {
      warnings.push(`${where}: cookie parameter ${JSON.stringify(param.name)} ignored; the bridge sends no cookies`);
      continue;
    }
    if (param.in === "header" && REFUSED_HEADERS.has(param.name.toLowerCase())) {
      warnings.push(`${where}: header parameter ${JSON.stringify(param.name)} ignored; the gateway sets it`);
      continue;
    }
    // RFC 9110 §5.1: a field name is a token.
    if (param.in === "header" && !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(param.name)) {
      warnings.push(`${where}: header parameter ${JSON.stringify(param.name)} ignored; not a valid header name`);
      continue;
    }
    const property = uniqueProperty(param.name, param.in, taken);
    // OpenAPI 3.x §4.8.12.1: a path parameter is always required.
    const isRequired = param.in === "path" || param.required === true;
    properties[property] = parameterSchemaOf(param, converter, where);
    if (isRequired) required.push(property);
    const style = param.style ?? (param.in === "query" ? "form" : "simple");
    parameters.push({
      property,
      name: param.name,
      in: param.in,
      required: isRequired,
      style,
      // OpenAPI 3.x §4.8.12.2: explode defaults to true for form style only.
      explode: param.explode ?? style === "form",
      json: param.schema === undefined && param.content !== undefined,
    });
  }
  const defs = converter.definitions();
  const upper = method.toUpperCase() as Uppercase<HttpMethod>;
  const description =
    [operation.summary, operation.description].filter((s) => s?.trim()).join("\n\n") || `${upper} ${path}`;
  return {
    tool: {
      description: operation.deprecated ? `Deprecated. ${description}` : description,
      inputSchema: {
        type: "object",
        properties: properties as Record<string, object>,
        ...(required.length ? { required } : {}),
        ...(defs ? { $defs: defs } : {}),
      },
      annotations: annotationsFor(method),
    },
    plan: {
      method: upper,
      path,
      parameters,
      ...(body ? { body: body.plan } : {}),
      accept: acceptOf(doc, operation, at),
    },
  };
}

/** Path-level parameters, overridden by operation-level ones with the same name and location (§4.8.9.1). */
function mergedParameters(
  doc: OpenApiDocument,
  path: string,
  pathLevel: unknown[],
  own: unknown[],
  at: PropertyKey[],
): ParameterObject[] {
  const byKey = new Map<string, ParameterObject>();
  pathLevel.forEach((raw, i) => {
    const p = resolveObject(doc, raw, parameterSchema, ["paths", path, "parameters", i]);
    byKey.set(`${p.in}:${p.name}`, p);
  });
  own.forEach((raw, i) => {
    const p = resolveObject(doc, raw, parameterSchema, [...at, "parameters", i]);
    byKey.set(`${p.in}:${p.name}`, p);
  });
  const variables = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
  // A template variable the document forgot to declare still has to be filled in.
  for (const name of variables) {
    if (!byKey.has(`path:${name}`))
      byKey.set(`path:${name}`, { name, in: "path", required: true, schema: { type: "string" } });
  }
  // A path parameter the template does not name has nowhere to go.
  return [...byKey.values()].filter((p) => p.in !== "path" || variables.includes(p.name));
}

function parameterSchemaOf(param: ParameterObject, converter: SchemaConverter, where: string): JsonSchema {
  const at = `${where} parameter ${JSON.stringify(param.name)}`;
  const raw = param.schema ?? Object.values(param.content ?? {})[0]?.schema;
  const schema = raw === undefined ? { type: "string" } : converter.convert(raw, at);
  if (typeof schema !== "object") return schema;
  return {
    ...schema,
    ...(param.description && schema.description === undefined ? { description: param.description } : {}),
    ...(param.deprecated ? { deprecated: true } : {}),
  };
}

/** The JSON request body, if the operation has one the bridge can send. */
function requestBody(
  doc: OpenApiDocument,
  operation: OperationObject,
  converter: SchemaConverter,
  at: PropertyKey[],
  warnings: string[],
) {
  if (operation.requestBody === undefined) return undefined;
  const where = locate(at);
  const body = resolveObject(doc, operation.requestBody, requestBodySchema, [...at, "requestBody"]);
  const mediaTypes = Object.keys(body.content);
  const mediaType = mediaTypes.find(isJsonMediaType);
  if (!mediaType) {
    const message = `request body media types ${mediaTypes.join(", ") || "(none)"} are not supported (only JSON)`;
    if (body.required) throw new UnsupportedOpenApiError(message);
    warnings.push(`${where}: optional ${message}; the tool sends no body`);
    return undefined;
  }
  const raw = body.content[mediaType]?.schema;
  let schema = raw === undefined ? {} : converter.convert(raw, `${where} requestBody`);
  if (typeof schema === "object" && body.description && schema.description === undefined)
    schema = { ...schema, description: body.description };
  return { schema, plan: { property: "body", required: body.required === true, mediaType } };
}

/** `Accept` for the operation: the media types its responses declare, JSON first (RFC 9110 §12.5.1). */
function acceptOf(doc: OpenApiDocument, operation: OperationObject, at: PropertyKey[]): string {
  const types = new Set<string>();
  for (const [status, raw] of Object.entries(operation.responses ?? {})) {
    const response = resolveObject(doc, raw, responseSchema, [...at, "responses", status]);
    for (const type of Object.keys(response.content ?? {})) types.add(type);
  }
  const sorted = [...types].sort((a, b) => Number(isJsonMediaType(b)) - Number(isJsonMediaType(a)));
  return sorted.length ? sorted.join(", ") : "application/json";
}

export function isJsonMediaType(type: string): boolean {
  return /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(type);
}

/** MCP tool annotations from HTTP method semantics (RFC 9110 §9.2.1 safe, §9.2.2 idempotent). */
function annotationsFor(method: HttpMethod): Tool["annotations"] {
  if (method === "get" || method === "head") return { readOnlyHint: true };
  if (method === "delete") return { destructiveHint: true, idempotentHint: true };
  if (method === "put") return { idempotentHint: true };
  return {};
}

/** MCP 2025-11-25 §tools "Tool Names": [A-Za-z0-9_.-], here at most 64; duplicates numbered. */
function uniqueName(raw: string, taken: Set<string>): string {
  const base = sanitize(raw, MAX_TOOL_NAME) || "operation";
  let name = base;
  for (let n = 2; taken.has(name); n++) name = `${base.slice(0, MAX_TOOL_NAME - `_${n}`.length)}_${n}`;
  taken.add(name);
  return name;
}

/**
 * Property names follow the same alphabet: several model providers reject others (e.g.
 * `filter[status]`). The plan keeps the wire name.
 */
function uniqueProperty(raw: string, location: string, taken: Set<string>): string {
  const base = sanitize(raw, MAX_TOOL_NAME) || location;
  let name = base;
  if (taken.has(name)) name = `${base}_${location}`;
  for (let n = 2; taken.has(name); n++) name = `${base}_${location}_${n}`;
  taken.add(name);
  return name;
}

function sanitize(raw: string, max: number): string {
  return raw
    .replace(/[^A-Za-z0-9_.-]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .slice(0, max);
}
