// A loopback HTTP proxy in front of a running tier, for fault drills: per path prefix it passes
// requests on, answers them with an error, or holds them unanswered until released, so a test can
// make one endpoint of a real tier fail or stall while the rest keeps working.
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { RunningWorker } from "./workers.js";

export type Fault = { kind: "pass" } | { kind: "fail"; status: number } | { kind: "hold" };

export interface FaultProxy {
  /** Stands in for the tier wherever a RunningWorker is expected (e.g. a gateway's AUTH binding). */
  worker: RunningWorker;
  /** Sets the fault for paths starting with `prefix` (the longest matching prefix wins). */
  set(prefix: string, fault: Fault): void;
  /** Requests now held, by path. */
  held(): string[];
  /** Passes every held request on to the tier and stops holding (faults back to pass). */
  release(): void;
  /** How many requests reached the proxy, by path. */
  seen(path: string): number;
  close(): Promise<void>;
}

export async function startFaultProxy(target: RunningWorker): Promise<FaultProxy> {
  const faults = new Map<string, Fault>();
  const holding: { path: string; forward: () => void }[] = [];
  const counts = new Map<string, number>();

  const faultFor = (path: string): Fault => {
    let best: [string, Fault] | undefined;
    for (const entry of faults)
      if (path.startsWith(entry[0]) && (!best || entry[0].length > best[0].length)) best = entry;
    return best?.[1] ?? { kind: "pass" };
  };

  const forward = (req: IncomingMessage, body: Buffer, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", target.url);
    const upstream = httpRequest(url, { method: req.method, headers: { ...req.headers, host: url.host } }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on("error", () => res.destroy());
    upstream.end(body);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const path = new URL(req.url ?? "/", "http://proxy").pathname;
      counts.set(path, (counts.get(path) ?? 0) + 1);
      const body = Buffer.concat(chunks);
      const fault = faultFor(path);
      if (fault.kind === "fail") res.writeHead(fault.status, { "Content-Type": "text/plain" }).end("injected fault");
      else if (fault.kind === "hold") holding.push({ path, forward: () => forward(req, body, res) });
      else forward(req, body, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    worker: { ...target, url, fetch: (path, init) => fetch(url + path, init) },
    set: (prefix, fault) => void faults.set(prefix, fault),
    held: () => holding.map((h) => h.path),
    release() {
      faults.clear();
      for (const h of holding.splice(0)) h.forward();
    },
    seen: (path) => counts.get(path) ?? 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const h of holding.splice(0)) h.forward();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
