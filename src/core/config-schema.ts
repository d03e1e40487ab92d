// Building blocks of both tiers' configuration schemas. Every field of those schemas carries its
// description in the schema itself (`.describe()`), and docs/configuration.md is generated from
// them (npm run docs:config); `x-kind` tells the generator a field is a duration or a size.
import { z } from "zod";
import { parseDurationMs, parseSizeBytes } from "./duration.js";

/** A duration field ("1h", "30s", "250ms", or a number of seconds), parsed to milliseconds. */
export function duration(defaultValue: string) {
  return z
    .union([z.string(), z.number()])
    .default(defaultValue)
    .transform((value, ctx) => {
      const ms = parseDurationMs(value);
      if (ms === null) {
        ctx.addIssue({ code: "custom", message: 'expected a duration such as "30s", "5m" or "1h"' });
        return z.NEVER;
      }
      return ms;
    })
    .meta({ "x-kind": "duration" });
}

/** A size field ("1MiB", "512KB", or a number of bytes), parsed to bytes. */
export function byteSize(defaultValue: string) {
  return z
    .union([z.string(), z.number()])
    .default(defaultValue)
    .transform((value, ctx) => {
      const bytes = parseSizeBytes(value);
      if (bytes === null || bytes === 0) {
        ctx.addIssue({ code: "custom", message: 'expected a size such as "1MiB", "512KB" or a number of bytes' });
        return z.NEVER;
      }
      return bytes;
    })
    .meta({ "x-kind": "size" });
}

/** An absolute http(s) URL. */
export const httpUrl = z.url({ protocol: /^https?$/, message: "expected an absolute http(s) URL" });
