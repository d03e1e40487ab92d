// An HTTP audit sink started by a test: the gateway's mcpProvider.audit.sink posts
// {"events": [...]} batches here, and the test reads what arrived.
import { createServer } from "node:http";

export interface AuditSinkServer {
  url: string;
  events: Record<string, unknown>[];
  close(): Promise<void>;
}

export async function startAuditSink(): Promise<AuditSinkServer> {
  const events: Record<string, unknown>[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      events.push(...(JSON.parse(body) as { events: Record<string, unknown>[] }).events);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/events`,
    events,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
