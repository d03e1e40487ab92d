// A loopback server of client ID metadata documents (the URL client_ids MCP prefers): a test
// publishes a document at a path and uses `base + path` as the client_id.
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface DocumentServer {
  /** The server's origin, e.g. http://127.0.0.1:41234 (list it in allowedLoopbackOrigins). */
  base: string;
  /** Serves `document` as JSON at `path`. */
  publish(path: string, document: unknown): void;
  close(): Promise<void>;
}

export async function startDocumentServer(): Promise<DocumentServer> {
  const published = new Map<string, unknown>();
  const server = createServer((req, res) => {
    const document = published.get(req.url ?? "");
    if (document) res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(document));
    else res.writeHead(404).end();
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    publish: (path, document) => void published.set(path, document),
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
