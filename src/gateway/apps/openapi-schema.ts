// OpenAPI Schema Objects become self-contained JSON Schema 2020-12, the dialect MCP tool input
// schemas use when they name none (MCP 2025-11-25 §tools, "Tool" / inputSchema).
//
// Local `$ref`s are inlined, because many MCP clients hand tool schemas to models that do not
// follow references. A reference that leads back into itself (a recursive schema) cannot be
// inlined: it becomes `#/$defs/<Name>` in the tool's schema, written once. A budget on nodes and
// depth stops documents whose references fan out exponentially.
//
// No package does this in workerd: @apidevtools/json-schema-ref-parser calls Node's `Buffer`
// unguarded and dereferences cycles into object cycles, which cannot be serialized.
import { resolvePointer, OpenApiError, UnsupportedOpenApiError, type OpenApiDocument } from "./openapi-document.js";

export type JsonSchema = Record<string, unknown> | boolean;

const MAX_NODES = 10_000;
const MAX_DEPTH = 64;

/** Keywords whose value is one subschema (JSON Schema 2020-12 Core §10, Validation §6). */
const SUBSCHEMA = new Set([
  "items",
  "additionalItems",
  "additionalProperties",
  "not",
  "contains",
  "propertyNames",
  "if",
  "then",
  "else",
  "unevaluatedItems",
  "unevaluatedProperties",
  "contentSchema",
]);
/** Keywords whose value is an array of subschemas. */
const SUBSCHEMA_LIST = new Set(["allOf", "anyOf", "oneOf", "prefixItems"]);
/** Keywords whose value maps names to subschemas. */
const SUBSCHEMA_MAP = new Set(["properties", "patternProperties", "dependentSchemas"]);
/**
 * Dropped: OpenAPI-only keywords (OpenAPI 3.1 §4.8.24.1) that strict clients reject, identifiers
 * and definitions that lose their meaning once every reference is rewritten.
 */
const DROPPED = new Set([
  "discriminator",
  "xml",
  "externalDocs",
  "$id",
  "$schema",
  "$anchor",
  "$dynamicAnchor",
  "$dynamicRef",
  "$comment",
  "$vocabulary",
  "$defs",
  "definitions",
]);
/** Keywords that may sit beside a `$ref` without changing what it validates. */
const ANNOTATIONS = new Set(["description", "title", "default", "examples", "deprecated", "readOnly", "writeOnly"]);

/**
 * Converts the schemas of one tool. Use one converter per tool: recursive schemas are collected
 * as definitions at the root of that tool's input schema.
 */
export class SchemaConverter {
  private readonly inlining: string[] = [];
  private readonly defNames = new Map<string, string>();
  private nodes = 0;

  constructor(private readonly doc: OpenApiDocument) {}

  convert(schema: unknown, where: string): JsonSchema {
    return this.node(schema, 0, where);
  }

  /** `$defs` for the recursive schemas met so far, or undefined when there are none. */
  definitions(): Record<string, JsonSchema> | undefined {
    if (this.defNames.size === 0) return undefined;
    const defs: Record<string, JsonSchema> = {};
    // Converting a definition may meet further recursive schemas; the map grows while we walk it.
    for (const [pointer, name] of this.defNames) {
      this.inlining.splice(0, this.inlining.length, pointer);
      defs[name] = this.node(resolvePointer(this.doc, pointer), 1, pointer);
    }
    this.inlining.length = 0;
    return defs;
  }

  private node(schema: unknown, depth: number, where: string): JsonSchema {
    if (typeof schema === "boolean") return schema;
    if (schema === null || typeof schema !== "object" || Array.isArray(schema)) {
      throw new OpenApiError(`invalid OpenAPI document: ${where}: a schema must be an object`);
    }
    if (++this.nodes > MAX_NODES)
      throw new UnsupportedOpenApiError(`its schemas exceed ${MAX_NODES} nodes once references are resolved`);
    if (depth > MAX_DEPTH) throw new UnsupportedOpenApiError(`its schemas nest deeper than ${MAX_DEPTH} levels`);
    const source = schema as Record<string, unknown>;
    return typeof source.$ref === "string"
      ? this.reference(source, source.$ref, depth, where)
      : this.object(source, depth, where);
  }

  private reference(source: Record<string, unknown>, ref: string, depth: number, where: string): JsonSchema {
    const { $ref: _ref, ...siblings } = source;
    // OpenAPI 3.0 §4.7.25 (Reference Object): properties beside $ref SHALL be ignored; a
    // description is kept anyway, as writers mean it. OpenAPI 3.1 schemas are 2020-12, where
    // $ref is an applicator like any other (Core §8.2.3.1).
    const kept = this.doc.version === "3.0" ? pick(siblings, ["description"]) : siblings;
    let target: JsonSchema;
    if (this.inlining.includes(ref)) {
      target = { $ref: `#/$defs/${this.defName(ref)}` };
    } else {
      this.inlining.push(ref);
      target = this.node(resolvePointer(this.doc, ref), depth + 1, ref);
      this.inlining.pop();
    }
    if (Object.keys(kept).length === 0) return target;
    const rest = this.object(kept, depth, where) as Record<string, unknown>;
    if (typeof target === "object" && !("$ref" in target) && Object.keys(rest).every((k) => ANNOTATIONS.has(k))) {
      return { ...target, ...rest };
    }
    return { allOf: [target], ...rest };
  }

  private object(source: Record<string, unknown>, depth: number, where: string): JsonSchema {
    const out: Record<string, unknown> = {};
    const readOnly: string[] = [];
    for (const [key, value] of Object.entries(source)) {
      if (DROPPED.has(key) || key.startsWith("x-")) continue;
      const at = `${where}/${key}`;
      if (SUBSCHEMA.has(key)) {
        out[key] = this.node(value, depth + 1, at);
      } else if (SUBSCHEMA_LIST.has(key)) {
        if (!Array.isArray(value))
          throw new OpenApiError(`invalid OpenAPI document: ${at}: expected an array of schemas`);
        out[key] = value.map((item, i) => this.node(item, depth + 1, `${at}/${i}`));
      } else if (SUBSCHEMA_MAP.has(key)) {
        if (value === null || typeof value !== "object" || Array.isArray(value)) {
          throw new OpenApiError(`invalid OpenAPI document: ${at}: expected an object of schemas`);
        }
        const map: Record<string, JsonSchema> = {};
        for (const [name, sub] of Object.entries(value)) {
          const converted = this.node(sub, depth + 1, `${at}/${name}`);
          // OpenAPI 3.0 §4.7.24.1 / JSON Schema Validation §9.4: a readOnly property is not sent in
          // requests, and this schema only ever describes requests.
          if (key === "properties" && typeof converted === "object" && converted.readOnly === true) readOnly.push(name);
          else map[name] = converted;
        }
        out[key] = map;
      } else if (key === "example") {
        if (!("examples" in source)) out.examples = [value];
      } else {
        out[key] = value;
      }
    }
    if (readOnly.length && Array.isArray(out.required)) {
      out.required = out.required.filter((name) => !readOnly.includes(name as string));
      if ((out.required as unknown[]).length === 0) delete out.required;
    }
    return this.doc.version === "3.0" ? fromOpenApi30(out) : out;
  }

  private defName(pointer: string): string {
    const known = this.defNames.get(pointer);
    if (known) return known;
    const base = (pointer.split("/").pop() ?? "").replace(/[^A-Za-z0-9_.-]+/g, "_") || "schema";
    const taken = new Set(this.defNames.values());
    let name = base;
    for (let n = 2; taken.has(name); n++) name = `${base}_${n}`;
    this.defNames.set(pointer, name);
    return name;
  }
}

/** OpenAPI 3.0's draft-04-style keywords in their 2020-12 form. */
function fromOpenApi30(schema: Record<string, unknown>): JsonSchema {
  for (const [flag, bound] of [
    ["exclusiveMinimum", "minimum"],
    ["exclusiveMaximum", "maximum"],
  ] as const) {
    // Draft 4 §5.1.2–5.1.3: a boolean modifying minimum/maximum; 2020-12 Validation §6.2: the bound itself.
    if (schema[flag] === true && typeof schema[bound] === "number") {
      schema[flag] = schema[bound];
      delete schema[bound];
    } else if (typeof schema[flag] === "boolean") {
      delete schema[flag];
    }
  }
  if (schema.nullable !== true) {
    delete schema.nullable;
    return schema;
  }
  // OpenAPI 3.0 §4.7.24.1 `nullable`: null is allowed in addition to the schema's type.
  delete schema.nullable;
  if (Array.isArray(schema.enum) && !schema.enum.includes(null)) schema.enum = [...schema.enum, null];
  if (typeof schema.type === "string") return { ...schema, type: [schema.type, "null"] };
  if (["allOf", "anyOf", "oneOf"].some((k) => k in schema)) return { anyOf: [schema, { type: "null" }] };
  return schema;
}

function pick(source: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(source).filter(([k]) => keys.includes(k)));
}
