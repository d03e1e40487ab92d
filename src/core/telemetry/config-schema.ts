// `observability` in both tiers' configuration: log level, what logs may contain, and where
// traces and metrics go (OTLP/HTTP JSON). Without `otlp`, nothing is exported and the
// instrumentation costs next to nothing (the OpenTelemetry API's no-op providers).
import { z } from "zod";
import { duration, httpUrl } from "../config-schema.js";

const secretRef = z
  .object({ env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, "expected an environment variable name") })
  .strict();

export const observabilitySchema = z
  .object({
    logLevel: z
      .enum(["debug", "info", "warn", "error"])
      .default("info")
      .describe("Log lines below this level are not written (docs/observability.md, Logs)."),
    logToolArguments: z
      .boolean()
      .default(false)
      .describe(
        "Gateway only: write tool-call arguments into audit log lines. Off by default: arguments may hold personal data.",
      ),
    otlp: z
      .object({
        endpoint: httpUrl.describe(
          "The OTLP/HTTP collector's base URL: traces are POSTed to `<endpoint>/v1/traces`, metrics to `<endpoint>/v1/metrics`, as OTLP JSON.",
        ),
        headers: z
          .record(z.string(), secretRef)
          .default({})
          .describe(
            "Headers sent with every export (e.g. an API key), each value from a secret: `{ Authorization: { env: OTLP_AUTH } }`.",
          ),
        metricsInterval: duration("10s").describe(
          "Metrics leave an isolate at most this often; spans leave after every request.",
        ),
      })
      .strict()
      .optional()
      .describe(
        "Export traces and metrics over OTLP/HTTP JSON. Absent: nothing is exported, and the instrumentation is the OpenTelemetry API's no-ops.",
      ),
  })
  .strict()
  .default({ logLevel: "info", logToolArguments: false })
  .describe("Logs, traces and metrics (docs/observability.md).");

export type ObservabilityConfig = z.output<typeof observabilitySchema>;

/** The secrets an observability block names, with where (for configuration errors). */
export function observabilitySecretRefs(config: ObservabilityConfig, at: string): { env: string; path: string }[] {
  return Object.entries(config.otlp?.headers ?? {}).map(([header, ref]) => ({
    env: ref.env,
    path: `${at}.otlp.headers.${header}.env`,
  }));
}
