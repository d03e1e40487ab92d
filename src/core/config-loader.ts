import { parse as parseYaml } from "yaml";
import type { z } from "zod";

export interface ConfigIssue {
  /** Dotted path of the offending field, e.g. "mcpProvider.transports.stream.session.timeout". */
  path: string;
  message: string;
}

export type ConfigResult<T> = { ok: true; config: T } | { ok: false; issues: ConfigIssue[] };

/**
 * Parses a tier's configuration document (YAML or JSON; JSON is YAML) and validates it.
 * Issues name the field and say what was expected, never the value found, so a
 * misplaced secret cannot leak through an error message.
 */
export function parseConfig<S extends z.ZodType>(schema: S, source: unknown): ConfigResult<z.output<S>> {
  let document: unknown = source;
  if (typeof source === "string") {
    try {
      document = parseYaml(source);
    } catch (err) {
      const line = (err as { linePos?: { line: number }[] }).linePos?.[0]?.line;
      return {
        ok: false,
        issues: [{ path: "(document)", message: `not valid YAML or JSON${line ? ` (line ${line})` : ""}` }],
      };
    }
  }
  const result = schema.safeParse(document ?? {});
  if (result.success) return { ok: true, config: result.data };
  return {
    ok: false,
    issues: result.error.issues.map((issue) => ({
      path: issue.path.length ? issue.path.map(String).join(".") : "(document)",
      message: issue.message,
    })),
  };
}

/** One line per issue, for logs and the offline checker. */
export function formatIssues(issues: ConfigIssue[]): string {
  return issues.map((i) => `${i.path}: ${i.message}`).join("; ");
}

/**
 * Parses once per isolate and remembers the outcome for as long as the inputs (the config
 * source and the environment values it depends on, folded into one key) stay the same, so a
 * bad configuration is logged once rather than on every request.
 */
export function memoizeConfig<E, T>(
  keyOf: (env: E) => string,
  load: (env: E) => ConfigResult<T>,
  onInvalid: (issues: ConfigIssue[]) => void,
): (env: E) => ConfigResult<T> {
  let lastKey: string | undefined;
  let lastResult: ConfigResult<T> | undefined;
  return (env) => {
    const key = keyOf(env);
    if (lastResult && lastKey === key) return lastResult;
    lastKey = key;
    lastResult = load(env);
    if (!lastResult.ok) onInvalid(lastResult.issues);
    return lastResult;
  };
}
