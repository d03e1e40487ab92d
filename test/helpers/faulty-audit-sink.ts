// An HTTP audit sink on loopback that a fault-injection test controls: it accepts (204), fails
// (500), rejects (400), hangs (accepts the request and never answers), or is stopped outright
// (connection refused) and started again on the same port. It records every request it saw and
// every event it acknowledged, duplicates included, so a test can count raw deliveries and
// deliveries after deduplication on the event id (docs/audit.md, "The sink contract").
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export type SinkMode = "accept" | "fail" | "reject" | "hang";

export interface SinkRequest {
  /** The status answered, or "hang" for a request never answered. */
  status: number | "hang";
  ids: string[];
  idempotencyKey: string | undefined;
  at: number;
}

export interface FaultyAuditSink {
  url: string;
  mode: SinkMode;
  /** Every request that reached the sink, in arrival order. */
  requests: SinkRequest[];
  /** Every event in a request answered 2xx, duplicates included (raw deliveries). */
  delivered: Record<string, unknown>[];
  /** The delivered events after deduplication on `id`. */
  unique(): Map<string, Record<string, unknown>>;
  /** Stops listening and drops open connections: the gateway sees connection refused. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startFaultyAuditSink(mode: SinkMode = "accept"): Promise<FaultyAuditSink> {
  const sockets = new Set<Socket>();
  const requests: SinkRequest[] = [];
  const delivered: Record<string, unknown>[] = [];
  const sink = { mode } as FaultyAuditSink;

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      const events = (JSON.parse(body) as { events: Record<string, unknown>[] }).events;
      const key = req.headers["idempotency-key"];
      const record: SinkRequest = {
        status: 0,
        ids: events.map((e) => String(e.id)),
        idempotencyKey: typeof key === "string" ? key : undefined,
        at: Date.now(),
      };
      requests.push(record);
      switch (sink.mode) {
        case "accept":
          delivered.push(...events);
          record.status = 204;
          return res.writeHead(204).end();
        case "fail":
          record.status = 500;
          return res.writeHead(500).end("sink failing");
        case "reject":
          record.status = 400;
          return res.writeHead(400).end("sink rejects");
        case "hang":
          record.status = "hang";
          return; // never answered
      }
    });
  };

  let server = createServer(handle);
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server = createServer(handle);
      server.on("connection", (socket) => {
        sockets.add(socket);
        socket.on("close", () => sockets.delete(socket));
      });
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
    });
  await listen(0);
  const port = (server.address() as AddressInfo).port;
  let listening = true;

  const stop = async () => {
    if (!listening) return;
    listening = false;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closed;
  };

  return Object.assign(sink, {
    url: `http://127.0.0.1:${port}/events`,
    requests,
    delivered,
    unique: () => new Map(delivered.map((event) => [String(event.id), event])),
    stop,
    async start() {
      if (listening) return;
      await listen(port);
      listening = true;
    },
    close: stop,
  });
}
