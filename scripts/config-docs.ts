// npm run docs:config: writes docs/configuration.md from the configuration schemas
// (scripts/config-docs/render.ts). Run it after changing a schema; the test
// test/core/configuration-docs.test.ts fails until the committed file matches.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderConfigurationDocs } from "./config-docs/render.js";

const target = join(import.meta.dirname, "..", "docs", "configuration.md");
const rendered = renderConfigurationDocs();
let current: string | null = null;
try {
  current = readFileSync(target, "utf8");
} catch {
  // First run: nothing to compare with.
}
if (current === rendered) {
  console.log("docs/configuration.md is up to date");
} else {
  writeFileSync(target, rendered);
  console.log("wrote docs/configuration.md");
}
