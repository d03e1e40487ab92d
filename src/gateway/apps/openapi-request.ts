// A tool call's arguments become the HTTP request its call plan describes: parameters
// serialized per OpenAPI 3.x §4.8.12.4 (style/explode), path values confined to their segment.
import { OpenApiError } from "./openapi-document.js";
import type { CallPlan, PlannedParameter, ServerObject } from "./openapi-tools.js";

/** The arguments cannot make a request (a required one is missing, a value is unusable). */
export class ArgumentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ArgumentError";
  }
}

export interface UpstreamRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: string;
}

/**
 * The base URL of a server (OpenAPI 3.x §4.8.5): variables replaced by their defaults, a relative
 * URL resolved against the document's own URL. No servers means "/" (§4.8.1).
 */
export function serverBaseUrl(server: ServerObject | undefined, documentUrl: string | undefined): URL {
  const template = server?.url ?? "/";
  const url = template.replace(/\{([^}]+)\}/g, (whole, name: string) => server?.variables?.[name]?.default ?? whole);
  let resolved: URL;
  try {
    resolved = new URL(url, documentUrl);
  } catch {
    throw new OpenApiError(
      documentUrl === undefined
        ? `the server URL ${JSON.stringify(url)} is relative and the document has no URL of its own: set openapi.baseURL`
        : `the server URL ${JSON.stringify(url)} is not a valid URL`,
    );
  }
  if (resolved.protocol !== "https:" && resolved.protocol !== "http:") {
    throw new OpenApiError(`the server URL ${JSON.stringify(url)} is not an http(s) URL`);
  }
  return resolved;
}

export function buildUpstreamRequest(plan: CallPlan, args: Record<string, unknown>, base: URL): UpstreamRequest {
  const missing = plan.parameters
    .filter((p) => p.required && absent(argument(args, p.property)))
    .map((p) => p.property);
  if (plan.body?.required && argument(args, plan.body.property) === undefined) missing.push(plan.body.property);
  if (missing.length)
    throw new ArgumentError(`missing required argument${missing.length > 1 ? "s" : ""}: ${missing.join(", ")}`);

  const basePath = base.pathname.replace(/\/+$/, "");
  const url = new URL(`${base.origin}${basePath}${renderPath(plan, args)}`);
  // Defence in depth: whatever the values, the request stays under the server URL.
  if (url.origin !== base.origin || !url.pathname.startsWith(`${basePath}/`)) {
    throw new ArgumentError("the path parameters lead outside the API's base URL");
  }
  const query: string[] = [];
  const headers: Record<string, string> = {};
  for (const param of plan.parameters) {
    const value = argument(args, param.property);
    if (absent(value)) continue;
    if (param.in === "query") query.push(...queryPairs(param, value));
    else if (param.in === "header") headers[param.name] = headerValue(param, value);
  }
  url.search = query.join("&");
  const request: UpstreamRequest = { method: plan.method, url, headers };
  const body = plan.body && argument(args, plan.body.property);
  if (plan.body && body !== undefined) {
    request.headers["Content-Type"] = plan.body.mediaType;
    request.body = JSON.stringify(body);
  }
  return request;
}

/** Own properties only: a parameter named `toString` must not find Object.prototype's. */
function argument(args: Record<string, unknown>, property: string): unknown {
  return Object.hasOwn(args, property) ? args[property] : undefined;
}

function absent(value: unknown): boolean {
  return value === undefined || value === null;
}

/**
 * Each value is percent-encoded into its own segment, so `/`, `?`, `#` and `%` cannot change the
 * path or start a query. A segment that would be exactly `.` or `..` is refused: URL parsers
 * resolve those (WHATWG URL "single-dot / double-dot path segment"), even percent-encoded.
 */
function renderPath(plan: CallPlan, args: Record<string, unknown>): string {
  const byName = new Map(plan.parameters.filter((p) => p.in === "path").map((p) => [p.name, p]));
  return plan.path
    .split("/")
    .map((segment) => {
      const rendered = segment.replace(/\{([^}]+)\}/g, (_whole, name: string) => {
        const param = byName.get(name)!;
        const value = pathValue(param, argument(args, param.property));
        if (value === "") throw new ArgumentError(`path argument ${param.property} must not be empty`);
        return value;
      });
      if (rendered !== segment && (rendered === "." || rendered === "..")) {
        throw new ArgumentError(`path arguments must not make a "${rendered}" path segment`);
      }
      return rendered;
    })
    .join("/");
}

function pathValue(param: PlannedParameter, value: unknown): string {
  if (param.json) return encode(JSON.stringify(value));
  const parts = flatten(value, param.explode, "=");
  if (param.style === "label") return `.${parts.join(param.explode ? "." : ",")}`;
  if (param.style === "matrix") {
    if (param.explode && Array.isArray(value)) return parts.map((p) => `;${encode(param.name)}=${p}`).join("");
    if (param.explode && isObject(value)) return parts.map((p) => `;${p}`).join("");
    return `;${encode(param.name)}=${parts.join(",")}`;
  }
  return parts.join(",");
}

function queryPairs(param: PlannedParameter, value: unknown): string[] {
  const name = encode(param.name);
  if (param.json) return [`${name}=${encode(JSON.stringify(value))}`];
  if (param.style === "deepObject" && isObject(value)) {
    return Object.entries(value).map(([k, v]) => `${name}%5B${encode(k)}%5D=${encode(scalar(v))}`);
  }
  if (Array.isArray(value)) {
    const items = value.map((v) => encode(scalar(v)));
    if (param.style === "form" && param.explode) return items.map((v) => `${name}=${v}`);
    const separator = param.style === "spaceDelimited" ? "%20" : param.style === "pipeDelimited" ? "%7C" : ",";
    return [`${name}=${items.join(separator)}`];
  }
  if (isObject(value)) {
    if (param.explode) return Object.entries(value).map(([k, v]) => `${encode(k)}=${encode(scalar(v))}`);
    return [`${name}=${flatten(value, false, "=").join(",")}`];
  }
  return [`${name}=${encode(scalar(value))}`];
}

function headerValue(param: PlannedParameter, value: unknown): string {
  const text = param.json
    ? JSON.stringify(value)
    : Array.isArray(value) || isObject(value)
      ? rawFlatten(value, param.explode).join(",")
      : scalar(value);
  // RFC 9110 §5.5: a field value is visible characters, spaces and tabs; never CR or LF. Only
  // ASCII is accepted, which also keeps Headers from throwing on non-Latin-1 text.
  if (/[^\t\x20-\x7e]/.test(text))
    throw new ArgumentError(`header argument ${param.property} must be printable ASCII text`);
  return text;
}

/** Array items or object members, each percent-encoded (`k=v` when exploded, else `k,v`). */
function flatten(value: unknown, explode: boolean, joiner: string): string[] {
  if (Array.isArray(value)) return value.map((v) => encode(scalar(v)));
  if (isObject(value)) {
    return Object.entries(value).flatMap(([k, v]) =>
      explode ? [`${encode(k)}${joiner}${encode(scalar(v))}`] : [encode(k), encode(scalar(v))],
    );
  }
  return [encode(scalar(value))];
}

function rawFlatten(value: unknown, explode: boolean): string[] {
  if (Array.isArray(value)) return value.map(scalar);
  return Object.entries(value as object).flatMap(([k, v]) => (explode ? [`${k}=${scalar(v)}`] : [k, scalar(v)]));
}

function scalar(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === null || value === undefined) return "";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** RFC 3986 §2.1: everything but unreserved characters percent-encoded. */
function encode(text: string): string {
  try {
    return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  } catch {
    throw new ArgumentError("an argument is not valid Unicode text");
  }
}
