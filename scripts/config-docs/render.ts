// The configuration reference (docs/configuration.md), rendered from the tiers' zod schemas: each
// field's type and default come from the schema's JSON Schema (zod's `toJSONSchema`, input side:
// what a document may say), its meaning from the schema's own `.describe()`. So the reference
// cannot fall behind the schemas; test/core/configuration-docs.test.ts fails when the committed
// file differs from what this renders.
import { z } from "zod";
import { authConfigSchema } from "../../src/auth/config-schema.js";
import { gatewayConfigSchema } from "../../src/gateway/config-schema.js";

/** The part of JSON Schema (2020-12) that zod emits for these schemas. */
interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  additionalProperties?: boolean | JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  description?: string;
  format?: string;
  minimum?: number;
  exclusiveMinimum?: number;
  maximum?: number;
  /** Set by src/core/config-schema.ts on duration and size fields. */
  "x-kind"?: string;
}

/** One row of the reference: a field of a configuration document. */
export interface ConfigField {
  path: string;
  type: string;
  default: string;
  description: string;
}

/** The documents the reference covers, with the top-level sections each splits into. */
const DOCUMENTS = [
  { title: "Auth tier", file: "config/auth.yaml", schema: authConfigSchema, anchor: "oidcProvider" },
  { title: "Gateway", file: "config/gateway.yaml", schema: gatewayConfigSchema, anchor: "mcpProvider" },
] as const;

function jsonSchemaOf(schema: z.ZodType): JsonSchema {
  return z.toJSONSchema(schema, {
    io: "input",
    unrepresentable: "any",
    // zod leaves out the input-side default of a field whose content transforms (a list of tools
    // with durations, say), since a default is an output value there; ours are written as a
    // document would write them, so they are put back.
    override: ({ zodSchema, jsonSchema }) => {
      const def = zodSchema._zod.def;
      if (def.type === "default" && !("default" in jsonSchema))
        jsonSchema.default = (def as { defaultValue: unknown }).defaultValue;
    },
  }) as JsonSchema;
}

/** Every field of a configuration document, in schema order, with its type, default and meaning. */
export function configFields(schema: z.ZodType): ConfigField[] {
  const fields: ConfigField[] = [];
  childrenOf(jsonSchemaOf(schema), "", fields);
  return fields;
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/** A `{ env: NAME }` reference to a secret: documented as one field, not as its `env`. */
function isSecretRef(node: JsonSchema): boolean {
  const keys = Object.keys(node.properties ?? {});
  return node.type === "object" && keys.length === 1 && keys[0] === "env";
}

function field(node: JsonSchema, path: string, required: boolean, fields: ConfigField[], note = ""): void {
  fields.push({
    path,
    type: typeOf(node),
    default: defaultOf(node, required),
    description: note + (node.description ?? ""),
  });
  childrenOf(node, path, fields, note);
}

function childrenOf(node: JsonSchema, path: string, fields: ConfigField[], note = ""): void {
  if (isSecretRef(node)) return;
  for (const [key, child] of Object.entries(node.properties ?? {}))
    field(child, join(path, key), node.required?.includes(key) ?? false, fields, note);
  if (node.items) childrenOf(node.items, `${path}[]`, fields, note);
  if (
    typeof node.additionalProperties === "object" &&
    node.additionalProperties.properties &&
    !isSecretRef(node.additionalProperties)
  ) {
    childrenOf(node.additionalProperties, join(path, "<name>"), fields, note);
  }
  for (const variant of node.anyOf ?? []) if (variant.properties) childrenOf(variant, path, fields, note);
  if (node.oneOf) variantsOf(node.oneOf, path, fields, note);
}

/**
 * A discriminated union (`type: …`): its discriminator once, listing the variants; fields every
 * variant has once; the others marked with the variant they belong to.
 */
function variantsOf(variants: JsonSchema[], path: string, fields: ConfigField[], note: string): void {
  const tag = Object.keys(variants[0]?.properties ?? {}).find((key) =>
    variants.every((v) => v.properties?.[key]?.const !== undefined),
  );
  if (!tag) throw new Error(`${path}: a union the reference cannot describe (no discriminator)`);
  const values = variants.map((v) => v.properties![tag]!.const);
  fields.push({
    path: join(path, tag),
    type: values.map((value) => code(value)).join(" | "),
    default: "required",
    description:
      note +
      variants.map((v) => `${code(v.properties![tag]!.const)}: ${v.properties![tag]!.description ?? ""}`).join(" "),
  });
  const perVariant = variants.map((variant) => {
    const own: ConfigField[] = [];
    const rest = {
      ...variant,
      properties: Object.fromEntries(Object.entries(variant.properties ?? {}).filter(([key]) => key !== tag)),
    };
    childrenOf(rest, path, own, note);
    return own;
  });
  const seen = new Set<string>();
  perVariant.forEach((own, i) => {
    for (const row of own) {
      if (seen.has(row.path)) continue;
      seen.add(row.path);
      const everywhere = perVariant.every((other) => other.some((r) => r.path === row.path));
      fields.push(
        everywhere ? row : { ...row, description: `Only with \`${tag}: ${String(values[i])}\`. ${row.description}` },
      );
    }
  });
}

function code(value: unknown): string {
  return value === "" ? '`""`' : `\`${String(value)}\``;
}

function plural(type: string): string {
  if (type === "object") return "objects";
  if (type === "string" || type === "URL" || type === "secret" || type === "integer" || type === "duration")
    return `${type}s`;
  return type;
}

function integerType(node: JsonSchema): string {
  const min = node.minimum ?? (node.exclusiveMinimum !== undefined ? node.exclusiveMinimum + 1 : undefined);
  const max = node.maximum !== undefined && node.maximum < Number.MAX_SAFE_INTEGER ? node.maximum : undefined;
  if (min !== undefined && max !== undefined) return `integer ${min}–${max}`;
  if (min !== undefined) return `integer ≥ ${min}`;
  return "integer";
}

function typeOf(node: JsonSchema): string {
  if (node["x-kind"]) return node["x-kind"];
  if (isSecretRef(node)) return "secret";
  if (node.const !== undefined) return code(node.const);
  if (node.enum) return node.enum.map(code).join(" | ");
  if (node.oneOf) return "object";
  if (node.anyOf) {
    const types = [...new Set(node.anyOf.filter((t) => t.type !== "null").map(typeOf))];
    const nullable = node.anyOf.some((t) => t.type === "null");
    return [...types, ...(nullable ? ["null"] : [])].join(" or ");
  }
  if (Array.isArray(node.type)) return node.type.join(" or ");
  switch (node.type) {
    case "string":
      return node.format === "uri" ? "URL" : "string";
    case "integer":
      return integerType(node);
    case "array":
      return node.items ? `list of ${plural(typeOf(node.items))}` : "list";
    case "object":
      if (typeof node.additionalProperties === "object") return `map of name → ${typeOf(node.additionalProperties)}`;
      return "object";
    default:
      return node.type ?? "any";
  }
}

/** A value as a YAML document would write it (flow style), for the default column. */
function yamlFlow(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(yamlFlow).join(", ")}]`;
  if (value && typeof value === "object")
    return `{${Object.entries(value)
      .map(([k, v]) => `${k}: ${yamlFlow(v)}`)
      .join(", ")}}`;
  if (value === "") return '""';
  return String(value);
}

function defaultOf(node: JsonSchema, required: boolean): string {
  if ("default" in node) {
    const value = node.default;
    // An object whose own fields carry the defaults: nothing to say at the object.
    if (
      value &&
      typeof value === "object" &&
      !Array.isArray(value) &&
      Object.keys(value).length === 0 &&
      (node.properties || node.oneOf)
    )
      return "";
    return `\`${yamlFlow(value)}\``;
  }
  return required ? "required" : "—";
}

function cell(text: string): string {
  return text.replaceAll("|", "\\|").replaceAll("\n", " ");
}

function table(fields: ConfigField[]): string {
  const rows = fields.map((f) => `| \`${f.path}\` | ${cell(f.type)} | ${cell(f.default)} | ${cell(f.description)} |`);
  return ["| field | type | default | meaning |", "|---|---|---|---|", ...rows].join("\n");
}

/**
 * A document's fields in sections: the fields directly under its top-level object first, then
 * one section per field that has fields of its own (`oidcProvider.tokens`, `apps`, …).
 */
function sections(fields: ConfigField[], anchor: string): string[] {
  const hasFields = (path: string) =>
    fields.some((f) => f.path.startsWith(`${path}.`) || f.path.startsWith(`${path}[]`));
  const sectionOf = (path: string): string => {
    const names = path.replaceAll("[]", "").split(".");
    if (names[0] !== anchor) return names[0]!;
    const top = names.length > 1 ? `${anchor}.${names[1]}` : anchor;
    return hasFields(top) ? top : anchor;
  };
  const groups = new Map<string, ConfigField[]>();
  for (const f of fields) {
    const section = sectionOf(f.path);
    if (!groups.has(section)) groups.set(section, []);
    groups.get(section)!.push(f);
  }
  return [...groups].map(([section, rows]) => {
    const head = rows.find((row) => row.path === section);
    const body = rows.filter((row) => row !== head);
    const intro = head
      ? [
          head.description,
          head.default && head.default !== "—" && head.default !== "required" ? `Default: ${head.default}.` : "",
        ]
          .filter(Boolean)
          .join(" ")
      : "";
    return [`### \`${section}\``, ...(intro ? ["", intro] : []), "", table(body)].join("\n");
  });
}

const PREAMBLE = `# Configuration reference

<!-- Generated by \`npm run docs:config\` (scripts/config-docs.ts) from the zod schemas; do not edit.
     The text of each field is its \`.describe()\` in the schema. -->

Each tier has one configuration document (YAML or JSON), validated by its zod schema when the
worker starts. The document bundled from \`config/<tier>.yaml\` is used unless the \`AUTH_CONFIG\` /
\`GATEWAY_CONFIG\` variable holds a whole replacement document. A document that does not validate
makes the tier answer **every** request with HTTP 500 and a JSON body listing each bad field by
path (never its value), and the problem is logged once per isolate as a \`config.invalid\` event.
Unknown fields are errors, so a typo cannot silently fall back to a default. \`npm run
check-config\` runs the same validation offline (\`-- --auth <file> --gateway <file>\` for other
documents).

Types:

- **duration**: \`250ms\`, \`30s\`, \`5m\`, \`1h\`, \`1h30m\`, or a number of seconds.
- **size**: \`512KB\`, \`1MiB\`, or a number of bytes.
- **secret**: \`{ env: NAME }\`. The value is the Wrangler secret (or variable) \`NAME\`; secrets never
  appear in the document, and configuration errors name the path, never a value.
- **URL**: an absolute \`http\` or \`https\` URL.
- A default of \`—\` means absent: the field's description says what absence means.

Secrets each tier reads besides those the document names: the auth tier needs
\`UPSTASH_REDIS_REST_URL\` and \`UPSTASH_REDIS_REST_TOKEN\` (its Redis, docs/storage.md) and
\`SIGNING_KEYS\` (a private JWK set from \`npm run keys\`).`;

/** docs/configuration.md, whole. */
export function renderConfigurationDocs(): string {
  const parts = [PREAMBLE];
  for (const doc of DOCUMENTS) {
    parts.push(`## ${doc.title} (\`${doc.file}\`)`, ...sections(configFields(doc.schema), doc.anchor));
  }
  return `${parts.join("\n\n")}\n`;
}
