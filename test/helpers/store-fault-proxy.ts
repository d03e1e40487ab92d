// A loopback HTTP proxy in front of the Redis bridge (the auth tier's Upstash endpoint), for store
// fault drills: it passes requests on, answers them with an error, or holds them unanswered until
// released, each for the requests whose body (the Redis command, JSON) a test picks: e.g. hold
// only the refresh rotation script, so that the reads before it go through and the rotation
// happens once the stall ends, after the tier has given up waiting. It can also add latency to every
// request it passes on (a store a round trip away), and keeps a log of the requests it has seen.
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type StoreFault = { kind: "pass" } | { kind: "fail"; status: number } | { kind: "hold" };

/** One request the proxy received: its body (the Redis command, JSON) and whether it has been answered. */
export interface ProxiedCommand {
  body: string;
  answered: boolean;
}

export interface StoreFaultProxy {
  /** The proxy's URL: give it to the auth tier as UPSTASH_REDIS_REST_URL. */
  url: string;
  /** Sets the fault for requests whose body `matches` (default: every request). */
  set(fault: StoreFault, matches?: (body: string) => boolean): void;
  /** Adds `ms` before every request passed on from now on (an added round trip; 0 for none). */
  setLatency(ms: number): void;
  /** How many requests are held now. */
  held(): number;
  /** Every request received so far, in arrival order. */
  log(): readonly ProxiedCommand[];
  /** Forwards every held request to the bridge and passes everything from now on. */
  release(): Promise<void>;
  close(): Promise<void>;
}

export async function startStoreFaultProxy(bridgeUrl: string): Promise<StoreFaultProxy> {
  let rule: { fault: StoreFault; matches: (body: string) => boolean } = {
    fault: { kind: "pass" },
    matches: () => true,
  };
  const holding: (() => Promise<void>)[] = [];
  const received: ProxiedCommand[] = [];
  let latencyMs = 0;

  // Resolves once the bridge has answered: the command has run, whoever is still listening.
  const forward = (req: IncomingMessage, body: Buffer, res: ServerResponse) =>
    latencyMs > 0
      ? new Promise<void>((resolve) => setTimeout(resolve, latencyMs)).then(() => forwardNow(req, body, res))
      : forwardNow(req, body, res);
  const forwardNow = (req: IncomingMessage, body: Buffer, res: ServerResponse) =>
    new Promise<void>((resolve) => {
      const url = new URL(req.url ?? "/", bridgeUrl);
      const upstream = httpRequest(
        url,
        { method: req.method, headers: { ...req.headers, host: url.host } },
        (answer) => {
          if (!res.destroyed) res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          answer.on("end", resolve);
        },
      );
      upstream.on("error", () => {
        res.destroy();
        resolve();
      });
      upstream.end(body);
    });

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const entry: ProxiedCommand = { body: body.toString("utf8"), answered: false };
      received.push(entry);
      res.on("finish", () => (entry.answered = true));
      const fault = rule.matches(body.toString("utf8")) ? rule.fault : { kind: "pass" as const };
      if (fault.kind === "fail") res.writeHead(fault.status, { "Content-Type": "text/plain" }).end("injected fault");
      else if (fault.kind === "hold") holding.push(() => forward(req, body, res));
      else void forward(req, body, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));

  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    set(fault, matches = () => true) {
      rule = { fault, matches };
    },
    setLatency(ms) {
      latencyMs = ms;
    },
    held: () => holding.length,
    log: () => received,
    async release() {
      rule = { fault: { kind: "pass" }, matches: () => true };
      await Promise.all(holding.splice(0).map((forwardHeld) => forwardHeld()));
    },
    close: () =>
      new Promise<void>((resolve) => {
        holding.splice(0);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
