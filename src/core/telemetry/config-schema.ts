// `observability` in both tiers' configuration: log level, what logs may contain, and where
// traces and metrics go (OTLP/HTTP JSON). Without `otlp`, nothing is exported and the
// instrumentation costs next to nothing (the OpenTelemetry API's no-op providers).
import { z } from "zod";
import { duration, httpUrl } from "../config-schema.js";

const secretRef = z.object({ env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, "expected an environment variable name") }).strict();

export const observabilitySchema = z
  .object({
    /** Lines below this level are not written. */
    logLevel: z.enum(["debug", "info", "warn", "error"]).default("info"),
    /** Write tool-call arguments into audit log lines. Off by default: arguments may hold personal data. */
    logToolArguments: z.boolean().default(false),
    otlp: z
      .object({
        /** The collector's base URL; traces go to <endpoint>/v1/traces, metrics to <endpoint>/v1/metrics. */
        endpoint: httpUrl,
        /** Headers sent with every export (e.g. an API key), each value from a secret. */
        headers: z.record(z.string(), secretRef).default({}),
        /** Metrics are exported at most this often per isolate (spans with every request). */
        metricsInterval: duration("10s"),
      })
      .strict()
      .optional(),
  })
  .strict()
  .default({ logLevel: "info", logToolArguments: false });

export type ObservabilityConfig = z.output<typeof observabilitySchema>;

/** The secrets an observability block names, with where (for configuration errors). */
export function observabilitySecretRefs(config: ObservabilityConfig, at: string): { env: string; path: string }[] {
  return Object.entries(config.otlp?.headers ?? {}).map(([header, ref]) => ({ env: ref.env, path: `${at}.otlp.headers.${header}.env` }));
}
