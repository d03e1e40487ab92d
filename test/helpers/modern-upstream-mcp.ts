// A modern upstream MCP server (protocol 2026-07-28) for the MCP Proxy app, started by the tests
// on 127.0.0.1: built with the v2 SDK (@modelcontextprotocol/server, `createMcpHandler` behind a
// plain Node HTTP server), so the gateway's outbound client meets an implementation it never saw.
// It records what reaches it (headers and JSON-RPC method) and its tools exercise the multi
// round-trip pattern (MCP 2026-07-28 basic/patterns/mrtr): a tool that elicits through an
// `input_required` result with a request state it checks on the retry, one that never stops
// asking, one that hangs until the client goes away, and one whose parameter is mirrored into an `Mcp-Param-*` header.
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import {
  McpServer,
  createMcpHandler,
  fromJsonSchema,
  inputRequired,
  inputResponse,
} from "@modelcontextprotocol/server";
import { z } from "zod";

export interface ModernRecordedRequest {
  rpcMethod?: string;
  params?: Record<string, unknown>;
  headers: Record<string, string | undefined>;
}

export interface ModernMcpServer {
  /** The MCP endpoint, e.g. http://127.0.0.1:41235/mcp */
  url: string;
  /** Every POST received, in order. */
  requests: ModernRecordedRequest[];
  /** The request states the server minted, each accepted once. */
  mintedStates: Set<string>;
  /** Publishes notifications/resources/updated for `uri` to every open `subscriptions/listen` stream that names it. */
  sendResourceUpdated(uri: string): void;
  /** The ids of `hang` calls that ended because the client went away (closed the request's stream). */
  hangsEnded: string[];
  close(): Promise<void>;
}

export interface ModernMcpServerOptions {
  /**
   * `reject`: modern only (an `initialize` gets the unsupported-version error); `stateless`
   * (the SDK's default): 2025-era requests are served too, statelessly.
   */
  legacy?: "reject" | "stateless";
  /** Also serve resources (`modern://status`, `modern://secret`) whose updates reach `subscriptions/listen` streams. */
  resources?: boolean;
}

/** A JSON Schema with the `x-mcp-header` extension, which the SDK's JSON Schema type does not name. */
const jsonSchema = (schema: Record<string, unknown>) => schema as Parameters<typeof fromJsonSchema>[0];

function buildServer(minted: Set<string>, hangsEnded: string[], options: ModernMcpServerOptions): McpServer {
  const server = new McpServer({ name: "modern-upstream", version: "1.0.0" });
  server.registerTool(
    "echo",
    { description: "Returns its text", inputSchema: z.object({ text: z.string() }) },
    ({ text }) => ({ content: [{ type: "text", text }] }),
  );
  server.registerTool(
    "ask_name",
    { description: "Asks the user for a name (elicitation) and greets them", inputSchema: z.object({}) },
    (_args, ctx) => {
      const echoed = ctx.mcpReq.requestState<string>();
      const answer = inputResponse(ctx.mcpReq.inputResponses, "who");
      if (echoed !== undefined && minted.delete(echoed) && answer.kind === "elicit")
        return { content: [{ type: "text", text: `${answer.action}: ${JSON.stringify(answer.content ?? {})}` }] };
      if (echoed !== undefined)
        return { isError: true, content: [{ type: "text", text: "request state not minted here" }] };
      const requestState = `opaque+/=${randomUUID()}`;
      minted.add(requestState);
      return inputRequired({
        inputRequests: {
          who: inputRequired.elicit({
            message: "Your name?",
            requestedSchema: { type: "object", properties: { name: { type: "string" } }, required: ["name"] },
          }),
        },
        requestState,
      });
    },
  );
  server.registerTool(
    "ask_forever",
    { description: "Asks for a confirmation, however often it is given", inputSchema: z.object({}) },
    (_args, ctx) => {
      const round = Number(ctx.mcpReq.requestState<string>() ?? "0") + 1;
      return inputRequired({
        inputRequests: {
          [`again-${round}`]: inputRequired.elicit({
            message: `Sure (${round})?`,
            requestedSchema: { type: "object", properties: { ok: { type: "boolean" } } },
          }),
        },
        requestState: String(round),
      });
    },
  );
  server.registerTool(
    "sample",
    { description: "Asks the client's model (sampling)", inputSchema: z.object({}) },
    (_args, ctx) => {
      const answer = inputResponse(ctx.mcpReq.inputResponses, "model");
      if (answer.kind === "sampling")
        return { content: [{ type: "text", text: `model said ${JSON.stringify(answer.result.content)}` }] };
      return inputRequired({
        inputRequests: {
          model: inputRequired.createMessage({
            messages: [{ role: "user", content: { type: "text", text: "2+2?" } }],
            maxTokens: 5,
          }),
        },
      });
    },
  );
  server.registerTool(
    "hang",
    {
      description: "Reports progress once when asked to, then never answers until the client goes away",
      inputSchema: z.object({}),
    },
    async (_args, ctx) => {
      const progressToken = ctx.mcpReq._meta?.progressToken;
      if (progressToken !== undefined)
        await ctx.mcpReq.notify({ method: "notifications/progress", params: { progressToken, progress: 0 } });
      return new Promise((resolve) =>
        ctx.mcpReq.signal.addEventListener("abort", () => {
          hangsEnded.push(String(ctx.mcpReq.id));
          resolve({ content: [{ type: "text", text: "gone" }] });
        }),
      );
    },
  );
  server.registerTool(
    "in_region",
    {
      description: "Runs in a region, which is mirrored into the Mcp-Param-Region header",
      inputSchema: fromJsonSchema(
        jsonSchema({
          type: "object",
          properties: { region: { type: "string", "x-mcp-header": "Region" }, query: { type: "string" } },
          required: ["region"],
        }),
      ),
    },
    (args) => ({ content: [{ type: "text", text: `ran in ${(args as { region: string }).region}` }] }),
  );
  server.registerTool(
    "bad_header",
    {
      description: "An x-mcp-header on an array item, which makes the definition invalid",
      inputSchema: fromJsonSchema(
        jsonSchema({
          type: "object",
          properties: { list: { type: "array", items: { type: "string", "x-mcp-header": "Item" } } },
        }),
      ),
    },
    () => ({ content: [] }),
  );
  if (options.resources) {
    // Updates reach `subscriptions/listen` streams that name the URI (sendResourceUpdated).
    server.server.registerCapabilities({ resources: { subscribe: true, listChanged: true } });
    server.registerResource("status", "modern://status", { mimeType: "text/plain" }, (uri) => ({
      contents: [{ uri: uri.href, mimeType: "text/plain", text: "all well" }],
    }));
  }
  server.registerPrompt(
    "greeting",
    { description: "A greeting", argsSchema: z.object({ name: z.string() }) },
    ({ name }) => ({ messages: [{ role: "user", content: { type: "text", text: `Hello, ${name}` } }] }),
  );
  server.registerPrompt(
    "roots_prompt",
    { description: "A prompt about the client's roots (roots/list through input_required)" },
    (ctx) => {
      const answer = inputResponse(ctx.mcpReq.inputResponses, "roots");
      if (answer.kind === "roots")
        return {
          messages: [
            { role: "user", content: { type: "text", text: `roots: ${answer.roots.map((r) => r.uri).join(", ")}` } },
          ],
        };
      return inputRequired({ inputRequests: { roots: inputRequired.listRoots() } });
    },
  );
  return server;
}

export async function startModernMcpServer(options: ModernMcpServerOptions = {}): Promise<ModernMcpServer> {
  const requests: ModernRecordedRequest[] = [];
  const mintedStates = new Set<string>();
  const hangsEnded: string[] = [];
  const handler = createMcpHandler(() => buildServer(mintedStates, hangsEnded, options), {
    legacy: options.legacy ?? "reject",
  });

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const headers: Record<string, string | undefined> = {};
    for (const [name, value] of Object.entries(req.headers))
      headers[name] = Array.isArray(value) ? value.join(", ") : value;
    if (req.method === "POST") {
      let message: { method?: string; params?: Record<string, unknown> } = {};
      try {
        message = JSON.parse(body.toString("utf8")) as typeof message;
      } catch {
        // recorded without a method
      }
      requests.push({
        ...(message.method ? { rpcMethod: message.method } : {}),
        ...(message.params ? { params: message.params } : {}),
        headers,
      });
    }
    const abort = new AbortController();
    res.on("close", () => abort.abort());
    const request = new Request(`http://${req.headers.host}${req.url}`, {
      method: req.method,
      headers: Object.entries(headers).filter((entry): entry is [string, string] => entry[1] !== undefined),
      ...(req.method === "POST" ? { body } : {}),
      signal: abort.signal,
    });
    const response = await handler.fetch(request);
    const responseHeaders: Record<string, string> = {};
    response.headers.forEach((value, name) => (responseHeaders[name] = value));
    res.writeHead(response.status, responseHeaders);
    if (!response.body) return void res.end();
    Readable.fromWeb(response.body as never)
      .on("error", () => res.destroy())
      .pipe(res);
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    requests,
    mintedStates,
    sendResourceUpdated: (uri) => handler.notify.resourceUpdated(uri),
    hangsEnded,
    async close() {
      await handler.close();
      server.closeAllConnections();
      server.close();
    },
  };
}
