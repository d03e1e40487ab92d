// The README's Observability section and the Grafana dashboard are how operators find the
// metrics; neither may fall behind the instruments the code records.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
const source = readFileSync(join(ROOT, "src", "core", "telemetry", "metrics.ts"), "utf8");
const metricNames = [...source.matchAll(/meter\.create\w+\("([^"]+)"|seconds\("([^"]+)"/g)].map((m) => (m[1] ?? m[2])!);
const readme = readFileSync(join(ROOT, "README.md"), "utf8");
const dashboard = readFileSync(join(ROOT, "config", "grafana", "dashboard.json"), "utf8");

/** How a Prometheus-compatible OTLP backend names a metric (dots to underscores, unit suffix). */
function prometheusName(name: string): string {
  const base = name.replaceAll(".", "_");
  return source.includes(`seconds("${name}"`) ? `${base}_seconds` : base;
}

describe("observability documentation", () => {
  it("finds the instruments in the code", () => {
    expect(metricNames).toEqual(expect.arrayContaining(["tool.invocations", "token_exchange.duration", "mcp.sessions.active", "auth.tokens.issued"]));
  });

  it.each(metricNames)("documents %s in the README", (name) => {
    expect(readme).toContain(`| \`${name}\` |`);
  });

  it.each(metricNames)("charts %s on the Grafana dashboard", (name) => {
    expect(dashboard).toContain(prometheusName(name));
  });

  it("ships a dashboard Grafana can import", () => {
    const parsed = JSON.parse(dashboard) as { uid: string; panels: { targets: { expr: string }[] }[] };
    expect(parsed.uid).toBe("ai-identity-gateway");
    expect(parsed.panels.every((panel) => panel.targets.length > 0)).toBe(true);
  });
});
