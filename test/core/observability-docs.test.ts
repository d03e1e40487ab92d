// docs/observability.md and the Grafana dashboard are how operators find the metrics; neither
// may fall behind the instruments the code records.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const ROOT = join(import.meta.dirname, "..", "..");
// A call's first argument on the next line (Prettier wraps long calls) reads as if on the same line.
const source = readFileSync(join(ROOT, "src", "core", "telemetry", "metrics.ts"), "utf8").replace(/\(\s+"/g, '("');
const metricNames = [...source.matchAll(/meter\.create\w+\("([^"]+)"|seconds\("([^"]+)"/g)].map((m) => (m[1] ?? m[2])!);
const observabilityDoc = readFileSync(join(ROOT, "docs", "observability.md"), "utf8");
const dashboard = readFileSync(join(ROOT, "config", "grafana", "dashboard.json"), "utf8");
const alerts = parse(readFileSync(join(ROOT, "config", "grafana", "alerts.yaml"), "utf8")) as AlertProvisioning;

/** Grafana's alerting provisioning file (apiVersion 1), as far as these checks read it. */
interface AlertProvisioning {
  apiVersion: number;
  groups: { name: string; folder: string; interval: string; rules: AlertRule[] }[];
}
interface AlertRule {
  uid: string;
  title: string;
  condition: string;
  data: { refId: string; datasourceUid: string; model: { expr?: string; type?: string; expression?: string } }[];
  labels: { severity: string };
  annotations: { summary: string };
}
const rules = alerts.groups.flatMap((group) => group.rules);

/** How a Prometheus-compatible OTLP backend names a metric (dots to underscores, unit suffix). */
function prometheusName(name: string): string {
  const base = name.replaceAll(".", "_");
  return source.includes(`seconds("${name}"`) ? `${base}_seconds` : base;
}

/** Every series name a Prometheus-compatible OTLP backend stores for the code's instruments. */
function storedSeries(): Set<string> {
  const series = new Set<string>();
  for (const name of metricNames) {
    const stored = prometheusName(name);
    if (source.includes(`seconds("${name}"`))
      for (const suffix of ["_bucket", "_count", "_sum"]) series.add(stored + suffix);
    else if (source.includes(`meter.createCounter("${name}"`)) series.add(`${stored}_total`);
    else series.add(stored);
  }
  return series;
}

/** The metric names a PromQL expression selects: identifiers that are neither functions, keywords nor labels. */
function selectedMetrics(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // string literals
    .replace(/\{[^}]*\}/g, "") // label matchers
    .replace(/\[[^\]]*\]/g, "") // range selectors
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ""); // grouping labels
  const keywords = new Set([
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
  ]);
  return [...bare.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()/g)]
    .map((m) => m[1]!)
    .filter((word) => !keywords.has(word) && !/^\d/.test(word));
}

describe("observability documentation", () => {
  it("finds the instruments in the code", () => {
    expect(metricNames).toEqual(
      expect.arrayContaining([
        "tool.invocations",
        "token_exchange.duration",
        "mcp.sessions.active",
        "auth.tokens.issued",
      ]),
    );
  });

  it.each(metricNames)("documents %s in docs/observability.md", (name) => {
    expect(observabilityDoc).toContain(`| \`${name}\` |`);
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

describe("Grafana alert rules (config/grafana/alerts.yaml)", () => {
  it("is a Grafana alerting provisioning file with one group of rules", () => {
    expect(alerts.apiVersion).toBe(1);
    expect(alerts.groups).toHaveLength(1);
    expect(alerts.groups[0]).toMatchObject({
      name: "ai-identity-gateway",
      folder: expect.any(String),
      interval: expect.any(String),
    });
    expect(new Set(rules.map((rule) => rule.uid)).size).toBe(rules.length);
  });

  it("alerts on health-check failures, the 5xx rate, exchange latency, Redis errors and the audit backlog", () => {
    const expressions = rules.flatMap((rule) =>
      rule.data.flatMap((query) => (query.model.expr ? [query.model.expr] : [])),
    );
    const alertedOn = (pattern: RegExp) => expressions.some((expr) => pattern.test(expr));
    expect(alertedOn(/http_route="\/status"/)).toBe(true);
    expect(alertedOn(/http_response_status_code=~"5\.\."/)).toBe(true);
    expect(alertedOn(/token_exchange_duration_seconds_bucket/)).toBe(true);
    expect(alertedOn(/redis_errors_total/)).toBe(true);
    expect(alertedOn(/audit_outbox_backlog/)).toBe(true);
    expect(alertedOn(/audit_events_dropped_total/)).toBe(true);
  });

  it.each(rules.map((rule) => [rule.uid, rule] as const))("%s queries only metrics the code records", (_uid, rule) => {
    const known = storedSeries();
    const queries = rule.data.filter((query) => query.datasourceUid !== "__expr__");
    expect(queries.length).toBeGreaterThan(0);
    for (const query of queries) {
      expect(query.datasourceUid).toBe("${PROMETHEUS_DATASOURCE_UID}");
      const selected = selectedMetrics(query.model.expr!);
      expect(selected.length, query.model.expr).toBeGreaterThan(0);
      for (const metric of selected) expect([...known], `${rule.uid}: ${query.model.expr}`).toContain(metric);
    }
  });

  it.each(rules.map((rule) => [rule.uid, rule] as const))(
    "%s fires on a threshold over its query, with a severity and a summary",
    (_uid, rule) => {
      const condition = rule.data.find((query) => query.refId === rule.condition);
      expect(condition?.datasourceUid).toBe("__expr__");
      expect(condition?.model.type).toBe("threshold");
      expect(rule.data.map((query) => query.refId)).toContain(condition!.model.expression);
      expect(["critical", "warning"]).toContain(rule.labels.severity);
      expect(rule.annotations.summary.length).toBeGreaterThan(0);
    },
  );

  it("is documented in docs/observability.md", () => {
    expect(observabilityDoc).toContain("config/grafana/alerts.yaml");
  });
});
