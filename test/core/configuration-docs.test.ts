// docs/configuration.md is generated from the configuration schemas (scripts/config-docs.ts): the
// committed file must be what the schemas render today, and every field must say what it means.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { configFields, renderConfigurationDocs } from "../../scripts/config-docs/render.js";
import { authConfigSchema } from "../../src/auth/config-schema.js";
import { gatewayConfigSchema } from "../../src/gateway/config-schema.js";

const ROOT = join(import.meta.dirname, "..", "..");
const committed = readFileSync(join(ROOT, "docs", "configuration.md"), "utf8");
const fields = [...configFields(authConfigSchema), ...configFields(gatewayConfigSchema)];

describe("the configuration reference (docs/configuration.md)", () => {
  it("is what the schemas render today", () => {
    const stale = committed !== renderConfigurationDocs();
    expect(
      stale,
      "docs/configuration.md is out of date with the configuration schemas: run `npm run docs:config` and commit the result",
    ).toBe(false);
  });

  it("describes every field of both tiers' documents", () => {
    const undescribed = fields.filter((f) => f.description.trim() === "").map((f) => f.path);
    expect(undescribed, "give these fields a .describe() in their schema").toEqual([]);
  });

  it("gives each field its type and its default as a document writes them", () => {
    const row = (path: string) => fields.find((f) => f.path === path);
    expect(row("oidcProvider.tokens.accessTokenTTL")).toMatchObject({ type: "duration", default: "`1h`" });
    expect(row("oidcProvider.discovery.issuer")).toMatchObject({ type: "URL", default: "required" });
    expect(row("mcpProvider.transports.stream.maxRequestBytes")).toMatchObject({ type: "size", default: "`1MiB`" });
    expect(row("mcpProvider.audit.sink.headers")).toMatchObject({ type: "map of name → secret", default: "`{}`" });
    expect(row("apps[].authorization.outbound.tokenExchange.tools")).toMatchObject({ default: "`[]`" });
    expect(row("apps[].upstream.stream.url")?.description).toMatch(/^Only with `type: mcpProxy`\./);
  });

  it("has a row for every field, each path once", () => {
    const paths = fields.map((f) => f.path);
    expect(new Set(paths).size).toBe(paths.length);
    for (const path of paths) expect(committed).toContain(`\`${path}\``);
  });
});
