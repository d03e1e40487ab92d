// npm run check-config [-- --auth <file>...] [-- --gateway <file>...]
// Validates the tiers' configuration documents offline, with the same schemas the workers use.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { z } from "zod";
import { authConfigSchema } from "../src/auth/config-schema.js";
import { formatIssues, parseConfig } from "../src/core/config-loader.js";
import { gatewayConfigSchema } from "../src/gateway/config-schema.js";

const { values } = parseArgs({
  options: {
    auth: { type: "string", multiple: true, default: ["config/auth.yaml", "config/auth.dev.yaml"] },
    gateway: { type: "string", multiple: true, default: ["config/gateway.yaml", "config/gateway.dev.yaml"] },
  },
});

const checks = [
  ...values.auth.map((file) => ({ tier: "auth", file, schema: authConfigSchema as z.ZodType })),
  ...values.gateway.map((file) => ({ tier: "gateway", file, schema: gatewayConfigSchema as z.ZodType })),
];

let failed = false;
for (const { tier, file, schema } of checks) {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    console.error(`✗ ${tier}: cannot read ${file}: ${(err as Error).message}`);
    failed = true;
    continue;
  }
  const result = parseConfig(schema, text);
  if (result.ok) {
    console.log(`✓ ${tier}: ${file}`);
  } else {
    failed = true;
    console.error(`✗ ${tier}: ${file}`);
    for (const line of formatIssues(result.issues).split("; ")) console.error(`    ${line}`);
  }
}
process.exit(failed ? 1 : 0);
