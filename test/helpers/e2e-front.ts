// A reverse proxy on loopback, standing where a deployment puts its load balancer: requests go
// round-robin to the backends (nginx `upstream` with the default `proxy_next_upstream error`: a
// backend that refuses the connection is skipped, so a stopped instance costs no request), with
// `headers` added (e.g. a bearer token for a client that sends none). Host and every other header
// pass through unchanged; answers, SSE streams included, are piped back as they arrive.
import { once } from "node:events";
import { createServer, request, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

export interface Front {
  /** http://localhost:<port> */
  url: string;
  port: number;
  /** Requests each backend answered, by index. */
  answered: number[];
  close(): Promise<void>;
}

export interface FrontOptions {
  /** Base URLs, e.g. http://127.0.0.1:41235 */
  backends: string[];
  /** Default: a free one. */
  port?: number;
  headers?: Record<string, string>;
}

/**
 * A new connection for every request (`agent: false`): a kept-alive one that the backend has
 * just closed fails before any answer, which with one backend would be a 502 the backend never
 * caused (nginx retries such a request on a new connection).
 */
function forward(
  backend: URL,
  req: IncomingMessage,
  headers: Record<string, string>,
  body: Buffer,
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const out = request(
      {
        host: backend.hostname,
        port: backend.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, ...headers },
        agent: false,
      },
      resolve,
    );
    out.once("error", reject);
    out.end(body);
  });
}

export async function startFront(options: FrontOptions): Promise<Front> {
  const answered = options.backends.map(() => 0);
  let next = 0;
  const server = createServer(async (req, res) => {
    // Buffered, so that a request can be retried on the next backend.
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    for (let tries = 0; tries < options.backends.length; tries++) {
      const index = next++ % options.backends.length;
      let answer: IncomingMessage;
      try {
        answer = await forward(new URL(options.backends[index]!), req, options.headers ?? {}, body);
      } catch {
        continue; // refused or reset before an answer: the next backend gets the request
      }
      answered[index]!++;
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
      res.once("close", () => answer.destroy());
      return;
    }
    res.writeHead(502).end("no backend answered");
  }).listen(options.port ?? 0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://localhost:${port}`,
    port,
    answered,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
