// The load generator: closed loops (a fixed number of requests in flight) and open loops (requests
// started on a schedule, whatever the answers do), timed per request on Node's monotonic clock.
// Requests go through node:http with keep-alive agents rather than fetch: undici costs several
// times more CPU per request, and the load generator shares this small machine with the workers.
import { Agent, request as httpRequest } from "node:http";
import { performance } from "node:perf_hooks";

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface HttpClient {
  send(method: string, url: string, headers: Record<string, string>, body?: string): Promise<Answer>;
  close(): void;
}

/** One keep-alive connection per request in flight, reused for the whole run. */
export function httpClient(maxSockets: number): HttpClient {
  const agent = new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  const send = (
    method: string,
    url: string,
    headers: Record<string, string>,
    body?: string,
    retried = false,
  ): ReturnType<HttpClient["send"]> =>
    new Promise((resolve, reject) => {
      const req = httpRequest(
        url,
        {
          method,
          headers: body === undefined ? headers : { ...headers, "Content-Length": String(Buffer.byteLength(body)) },
          agent,
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => (text += chunk));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
          res.on("error", reject);
        },
      );
      req.on("error", (err: NodeJS.ErrnoException) => {
        // A kept-alive socket the server closed while it was idle fails the request sent on it
        // before the server read anything: it is sent again, once (Node's http docs,
        // `request.reusedSocket`). Any other failure is the request's.
        if (!retried && req.reusedSocket && err.code === "ECONNRESET")
          send(method, url, headers, body, true).then(resolve, reject);
        else reject(err);
      });
      req.end(body);
    });
  return { send, close: () => agent.destroy() };
}

export interface LoadResult {
  requests: number;
  errors: number;
  firstError?: string;
  elapsedMs: number;
  /** Completed requests (errors included) per second of wall time. */
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
}

/** The value below which `p` percent of the sorted samples fall (nearest rank). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function median(values: number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}

/** An operation resolves to an error description, or undefined when it succeeded. */
export type Operation = (index: number) => Promise<string | undefined>;

function summarize(latencies: number[], errors: string[], elapsedMs: number): LoadResult {
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    errors: errors.length,
    ...(errors[0] ? { firstError: errors[0] } : {}),
    elapsedMs,
    perSecond: (latencies.length / elapsedMs) * 1000,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
  };
}

async function timed(op: Operation, index: number, latencies: number[], errors: string[]): Promise<void> {
  const started = performance.now();
  let error: string | undefined;
  try {
    error = await op(index);
  } catch (err) {
    error = String(err);
  }
  latencies.push(performance.now() - started);
  if (error !== undefined) errors.push(error);
}

/** `n` operations, `concurrency` in flight at any time. */
export async function closedLoop(concurrency: number, n: number, op: Operation): Promise<LoadResult> {
  const latencies: number[] = [];
  const errors: string[] = [];
  let next = 0;
  const started = performance.now();
  const lane = async () => {
    while (next < n) await timed(op, next++, latencies, errors);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, lane));
  return summarize(latencies, errors, performance.now() - started);
}

/** Operations started at the given offsets (ms from now) whether or not earlier ones have answered. */
export async function openLoop(offsetsMs: number[], op: Operation): Promise<LoadResult> {
  const latencies: number[] = [];
  const errors: string[] = [];
  const started = performance.now();
  const runs = offsetsMs.map(
    (offset, index) =>
      new Promise<void>((resolve) => {
        setTimeout(
          () => void timed(op, index, latencies, errors).then(resolve),
          Math.max(0, offset - (performance.now() - started)),
        );
      }),
  );
  await Promise.all(runs);
  return summarize(latencies, errors, performance.now() - started);
}

export interface PairedResult {
  /** Each side's own distribution, as closedLoop reports it. */
  a: LoadResult;
  b: LoadResult;
  /** Median of (b - a) over the pairs: what b adds to a, measured pair by pair. */
  addedP50Ms: number;
}

/**
 * `n` pairs of operations run one after the other, a then b, so that both see the same moment of a
 * noisy machine. What b adds is the median of the pairs' differences, never a difference of two
 * percentiles (the p99 of a sum is not the sum of p99s; subtracted, they can even come out negative).
 */
export async function pairedSerial(n: number, a: Operation, b: Operation): Promise<PairedResult> {
  const latencies = { a: [] as number[], b: [] as number[] };
  const errors = { a: [] as string[], b: [] as string[] };
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    await timed(a, i, latencies.a, errors.a);
    await timed(b, i, latencies.b, errors.b);
  }
  const elapsed = performance.now() - started;
  const differences = latencies.b.map((value, i) => value - latencies.a[i]!);
  return {
    a: summarize([...latencies.a], errors.a, elapsed),
    b: summarize([...latencies.b], errors.b, elapsed),
    addedP50Ms: median(differences),
  };
}
