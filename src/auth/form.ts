// Form-encoded request bodies of the OAuth endpoints (RFC 6749 §3.2, Appendix B).
import type { Context } from "hono";
import { OAuthError } from "../core/errors.js";

/** Parameters that may legitimately repeat: RFC 8707 `resource`, RFC 8693 `audience`. */
const REPEATABLE = new Set(["resource", "audience"]);

export interface Form {
  get(name: string): string | undefined;
  getAll(name: string): string[];
  raw: URLSearchParams;
}

/**
 * Reads an application/x-www-form-urlencoded body. RFC 6749 §3.1: parameters sent without a
 * value are treated as omitted, and request parameters MUST NOT be included more than once.
 */
export async function readForm(c: Context): Promise<Form> {
  const type = c.req.header("Content-Type")?.split(";")[0]?.trim().toLowerCase();
  if (type !== "application/x-www-form-urlencoded") {
    throw new OAuthError("invalid_request", "the body must be application/x-www-form-urlencoded", 400);
  }
  const params = new URLSearchParams(await c.req.text());
  return formFrom(params);
}

export function formFrom(params: URLSearchParams): Form {
  const seen = new Set<string>();
  for (const name of params.keys()) {
    if (seen.has(name) && !REPEATABLE.has(name))
      throw new OAuthError("invalid_request", `the ${name} parameter is repeated`, 400);
    seen.add(name);
  }
  return {
    get: (name) => {
      const value = params.get(name);
      return value === null || value === "" ? undefined : value;
    },
    getAll: (name) => params.getAll(name).filter((v) => v !== ""),
    raw: params,
  };
}

/** Reads a required parameter or fails with invalid_request naming it. */
export function required(form: Form, name: string): string {
  const value = form.get(name);
  if (value === undefined) throw new OAuthError("invalid_request", `the ${name} parameter is required`, 400);
  return value;
}
