// An OpenAPI 3.0 / 3.1 document as the MCP Bridge reads it: parsed from JSON or YAML, checked
// with zod for the parts the bridge relies on, and its local `$ref`s followed. Everything else
// in the document is kept as it is and ignored.
import { parse as parseYaml } from "yaml";
import { z } from "zod";

/** The document is not an OpenAPI 3.0/3.1 document the bridge can read: the whole app fails. */
export class OpenApiError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "OpenApiError";
  }
}

/**
 * A valid construct the bridge cannot turn into a tool call (an external `$ref`, a body that is
 * not JSON): only the operation that uses it is left out, with a warning.
 */
export class UnsupportedOpenApiError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UnsupportedOpenApiError";
  }
}

export type OpenApiVersion = "3.0" | "3.1";

/** OpenAPI 3.x §4.8.2: Path Item fixed fields that are operations, in the order the spec lists them. */
export const HTTP_METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

const text = z.string().optional();
/** Objects that may be written as a Reference Object are checked after the reference is followed. */
const referable = z.record(z.string(), z.unknown());

const mediaTypeSchema = z.looseObject({ schema: z.unknown().optional() });
const contentSchema = z.record(z.string(), mediaTypeSchema);

const serverSchema = z.looseObject({
  url: z.string(),
  variables: z
    .record(z.string(), z.looseObject({ default: z.string(), enum: z.array(z.string()).optional() }))
    .optional(),
});

export const parameterSchema = z.looseObject({
  name: z.string().min(1),
  in: z.enum(["path", "query", "header", "cookie"]),
  required: z.boolean().optional(),
  description: text,
  deprecated: z.boolean().optional(),
  style: z.enum(["matrix", "label", "simple", "form", "spaceDelimited", "pipeDelimited", "deepObject"]).optional(),
  explode: z.boolean().optional(),
  schema: z.unknown().optional(),
  content: contentSchema.optional(),
});

export const requestBodySchema = z.looseObject({
  description: text,
  content: contentSchema,
  required: z.boolean().optional(),
});
export const responseSchema = z.looseObject({ content: contentSchema.optional() });

const operationSchema = z.looseObject({
  operationId: text,
  summary: text,
  description: text,
  deprecated: z.boolean().optional(),
  parameters: z.array(referable).optional(),
  requestBody: referable.optional(),
  responses: z.record(z.string(), referable).optional(),
  servers: z.array(serverSchema).optional(),
});

export const pathItemSchema = z.looseObject({
  $ref: z.string().optional(),
  parameters: z.array(referable).optional(),
  servers: z.array(serverSchema).optional(),
  ...Object.fromEntries(HTTP_METHODS.map((method) => [method, operationSchema.optional()])),
});

const documentSchema = z.looseObject({
  openapi: z.string(),
  servers: z.array(serverSchema).optional(),
  paths: z.record(z.string(), referable).optional(),
  components: z.record(z.string(), z.record(z.string(), z.unknown())).optional(),
});

export type ServerObject = z.output<typeof serverSchema>;
export type ParameterObject = z.output<typeof parameterSchema>;
export type OperationObject = z.output<typeof operationSchema>;
export type PathItemObject = z.output<typeof pathItemSchema>;

export interface OpenApiDocument {
  version: OpenApiVersion;
  /** The whole document, which local `$ref`s point into. */
  root: Record<string, unknown>;
  servers: ServerObject[];
  paths: Record<string, Record<string, unknown>>;
}

/** Reads a document given as JSON or YAML text, or as an already parsed object. */
export function parseOpenApiDocument(source: string | object): OpenApiDocument {
  const value = typeof source === "string" ? parseText(source) : source;
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new OpenApiError("not an OpenAPI document: expected a JSON or YAML object");
  }
  const raw = value as Record<string, unknown>;
  if ("swagger" in raw) {
    throw new OpenApiError("Swagger 2.0 documents are not supported: convert it to OpenAPI 3.0 or 3.1");
  }
  if (!("openapi" in raw)) throw new OpenApiError("not an OpenAPI document: the 'openapi' version field is missing");
  const match = typeof raw.openapi === "string" ? /^3\.([01])\.\d+(?:-[\w.]+)?$/.exec(raw.openapi) : null;
  if (!match) {
    throw new OpenApiError(`unsupported OpenAPI version ${JSON.stringify(raw.openapi)}: expected 3.0.x or 3.1.x`);
  }
  const version: OpenApiVersion = match[1] === "0" ? "3.0" : "3.1";
  const parsed = documentSchema.safeParse(raw);
  if (!parsed.success) throw invalid(parsed.error, []);
  // OpenAPI 3.0 §4.7.1 requires `paths`; 3.1 §4.8.1 lets a document hold only webhooks or components.
  if (version === "3.0" && parsed.data.paths === undefined)
    throw new OpenApiError("invalid OpenAPI document: 'paths' is missing");
  const paths = parsed.data.paths ?? {};
  // OpenAPI 3.x §4.8.8.1: a path begins with a forward slash.
  const relative = Object.keys(paths).find((path) => !path.startsWith("/"));
  if (relative !== undefined)
    throw new OpenApiError(`invalid OpenAPI document: ${locate(["paths", relative])}: a path must begin with '/'`);
  return { version, root: raw, servers: parsed.data.servers ?? [], paths };
}

function parseText(source: string): unknown {
  if (source.trimStart().startsWith("{")) {
    try {
      return JSON.parse(source);
    } catch {
      // YAML 1.2 is a superset of JSON: a YAML flow mapping may still parse below.
    }
  }
  try {
    return parseYaml(source);
  } catch (err) {
    const line = (err as { linePos?: { line: number }[] }).linePos?.[0]?.line;
    throw new OpenApiError(`not an OpenAPI document: not valid JSON or YAML${line ? ` (line ${line})` : ""}`);
  }
}

/** Where a value sits in the document, written the way a reader would look it up. */
export function locate(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(String(key))) out += `${out ? "." : ""}${String(key)}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out || "(document)";
}

function invalid(error: z.ZodError, at: readonly PropertyKey[]): OpenApiError {
  const issues = error.issues.slice(0, 3).map((issue) => `${locate([...at, ...issue.path])}: ${issue.message}`);
  return new OpenApiError(`invalid OpenAPI document: ${issues.join("; ")}`);
}

/** The value a local reference (`#/components/schemas/Contact`) points to (RFC 6901, RFC 3986 §3.5). */
export function resolvePointer(doc: OpenApiDocument, ref: string): unknown {
  if (!ref.startsWith("#")) {
    throw new UnsupportedOpenApiError(
      `$ref ${JSON.stringify(ref)} points outside the document; only "#/..." references are resolved`,
    );
  }
  if (ref !== "#" && !ref.startsWith("#/")) {
    throw new UnsupportedOpenApiError(
      `$ref ${JSON.stringify(ref)} is not a JSON pointer; only "#/..." references are resolved`,
    );
  }
  let node: unknown = doc.root;
  for (const token of ref === "#" ? [] : ref.slice(2).split("/")) {
    let key: string;
    try {
      key = decodeURIComponent(token).replaceAll("~1", "/").replaceAll("~0", "~");
    } catch {
      throw new OpenApiError(`invalid OpenAPI document: $ref ${JSON.stringify(ref)} is not a valid URI fragment`);
    }
    if (node === null || typeof node !== "object" || !Object.hasOwn(node, key)) {
      throw new OpenApiError(`invalid OpenAPI document: $ref ${JSON.stringify(ref)} points to nothing`);
    }
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

const MAX_REF_CHAIN = 16;

/**
 * A Reference Object followed (through chains of references) to the object it stands for, then
 * checked against what the bridge expects there. `at` names where the reference was written.
 */
export function resolveObject<S extends z.ZodType>(
  doc: OpenApiDocument,
  value: unknown,
  schema: S,
  at: readonly PropertyKey[],
): z.output<S> {
  let node = value;
  let where: readonly PropertyKey[] = at;
  const seen = new Set<string>();
  while (node !== null && typeof node === "object" && typeof (node as { $ref?: unknown }).$ref === "string") {
    const ref = (node as { $ref: string }).$ref;
    if (seen.has(ref) || seen.size >= MAX_REF_CHAIN) {
      throw new OpenApiError(
        `invalid OpenAPI document: ${locate(at)}: $ref ${JSON.stringify(ref)} never reaches an object (a reference cycle)`,
      );
    }
    seen.add(ref);
    node = resolvePointer(doc, ref);
    where = [ref];
  }
  const parsed = schema.safeParse(node);
  if (!parsed.success) throw invalid(parsed.error, where);
  return parsed.data;
}
