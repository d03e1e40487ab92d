// A plain OTLP/HTTP JSON receiver started by a test: it keeps every span and metric data point
// the tiers export, flattened with their resource's service.name.
import { createServer } from "node:http";

type AnyValue = { stringValue?: string; intValue?: string | number; doubleValue?: number; boolValue?: boolean };
type KeyValue = { key: string; value: AnyValue };

function plain(attributes: KeyValue[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { key, value } of attributes ?? [])
    out[key] =
      value.stringValue ??
      (value.intValue !== undefined ? Number(value.intValue) : (value.doubleValue ?? value.boolValue));
  return out;
}

export interface ReceivedSpan {
  service: string;
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  attributes: Record<string, unknown>;
  status?: { code?: number };
}

export interface ReceivedPoint {
  service: string;
  instance: string;
  metric: string;
  attributes: Record<string, unknown>;
  /** Sums and gauges: the value; histograms: the count. */
  value: number;
  /** Histograms only. */
  sum?: number;
  time: number;
}

export interface OtlpReceiver {
  url: string;
  spans: ReceivedSpan[];
  points: ReceivedPoint[];
  /** The latest point of a metric per isolate and attribute set, summed across isolates, where `match` holds. */
  total(metric: string, match?: Record<string, unknown>): number;
  close(): Promise<void>;
}

interface ResourceBlock {
  resource?: { attributes?: KeyValue[] };
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const points: ReceivedPoint[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      const payload = JSON.parse(body) as Record<string, unknown>;
      if (req.url === "/v1/traces") {
        for (const rs of (payload.resourceSpans ?? []) as (ResourceBlock & {
          scopeSpans: { spans: Record<string, unknown>[] }[];
        })[]) {
          const service = String(plain(rs.resource?.attributes)["service.name"]);
          for (const ss of rs.scopeSpans) {
            for (const s of ss.spans) {
              spans.push({
                service,
                name: s.name as string,
                kind: s.kind as number,
                traceId: s.traceId as string,
                spanId: s.spanId as string,
                ...(s.parentSpanId ? { parentSpanId: s.parentSpanId as string } : {}),
                attributes: plain(s.attributes as KeyValue[]),
                status: s.status as { code?: number },
              });
            }
          }
        }
      } else if (req.url === "/v1/metrics") {
        for (const rm of (payload.resourceMetrics ?? []) as (ResourceBlock & {
          scopeMetrics: { metrics: Record<string, unknown>[] }[];
        })[]) {
          const resource = plain(rm.resource?.attributes);
          for (const sm of rm.scopeMetrics) {
            for (const m of sm.metrics) {
              const data = (m.sum ?? m.gauge ?? m.histogram) as { dataPoints: Record<string, unknown>[] } | undefined;
              for (const p of data?.dataPoints ?? []) {
                const histogram = m.histogram !== undefined;
                points.push({
                  service: String(resource["service.name"]),
                  instance: String(resource["service.instance.id"]),
                  metric: m.name as string,
                  attributes: plain(p.attributes as KeyValue[]),
                  value: Number(histogram ? p.count : (p.asInt ?? p.asDouble)),
                  ...(histogram ? { sum: Number(p.sum) } : {}),
                  time: Number(BigInt(p.timeUnixNano as string) / 1_000_000n),
                });
              }
            }
          }
        }
      }
      res.writeHead(200, { "Content-Type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    spans,
    points,
    total(metric, match = {}) {
      const latest = new Map<string, ReceivedPoint>();
      for (const point of points) {
        if (point.metric !== metric || !Object.entries(match).every(([k, v]) => point.attributes[k] === v)) continue;
        const key = `${point.instance}\0${JSON.stringify(point.attributes)}`;
        const seen = latest.get(key);
        if (!seen || seen.time <= point.time) latest.set(key, point);
      }
      return [...latest.values()].reduce((sum, point) => sum + point.value, 0);
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
