// The agent's own loopback HTTP server, as native MCP clients run one (RFC 8252 §7.3): the
// authorization server sends the browser back to /callback with the code, and the auth tier
// fetches the agent's client ID metadata document from /client-metadata.json. The dev auth tier
// fetches loopback documents only from the origin it lists (allowedLoopbackOrigins), so an agent
// that identifies by metadata document listens on that port (DevStackInfo.agentOrigin).
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface AgentLoopback {
  /** The redirect URI, e.g. http://127.0.0.1:41235/callback */
  callbackUrl: string;
  /** Where the client ID metadata document is served; the URL is the client_id. */
  metadataUrl: string;
  /** The document served at metadataUrl. */
  metadata: Record<string, unknown>;
  /** Resolves with the next request to the redirect URI (its query carries code or error). */
  nextCallback(): Promise<URL>;
  close(): Promise<void>;
}

export interface AgentLoopbackOptions {
  /** The port to listen on; default any free one. */
  port?: number;
}

export async function startAgentLoopback(options: AgentLoopbackOptions = {}): Promise<AgentLoopback> {
  let waiting: ((url: URL) => void) | undefined;
  const arrived: URL[] = [];
  const loopback: AgentLoopback = {
    callbackUrl: "",
    metadataUrl: "",
    metadata: {},
    nextCallback: () => {
      const first = arrived.shift();
      return first ? Promise.resolve(first) : new Promise((resolve) => (waiting = resolve));
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", loopback.callbackUrl);
    if (url.pathname === "/client-metadata.json") {
      return res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(loopback.metadata));
    }
    if (url.pathname !== "/callback") return res.writeHead(404).end();
    if (waiting) waiting(url);
    else arrived.push(url);
    waiting = undefined;
    res
      .writeHead(200, { "Content-Type": "text/html; charset=utf-8" })
      .end(
        '<!doctype html><html lang="en"><title>Signed in</title><p>The agent has its code; you can close this window.</p></html>',
      );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject).listen(options.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  loopback.callbackUrl = `${origin}/callback`;
  loopback.metadataUrl = `${origin}/client-metadata.json`;
  return loopback;
}
