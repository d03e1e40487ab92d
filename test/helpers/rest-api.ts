// A real REST API for the MCP Bridge tests: a tiny CRM on node:http that serves its own OpenAPI
// documents and records every request it receives, so tests can assert what went upstream.
import { once } from "node:events";
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedRequest {
  method: string;
  /** The request target exactly as received (path and query, not normalized). */
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface RestApi {
  /** e.g. http://127.0.0.1:41235; the API itself lives under /crm. */
  url: string;
  /** Every request, documents included, in order. */
  requests: RecordedRequest[];
  close(): Promise<void>;
}

interface Contact {
  id: string;
  name: string;
  email: string | null;
  tags: string[];
}

/**
 * The CRM's OpenAPI document. 3.1 names a relative server (resolved against the document's URL)
 * and uses type unions; 3.0 names an absolute server and uses `nullable`.
 */
export function crmDocument(version: "3.1" | "3.0", origin: string): Record<string, unknown> {
  const v31 = version === "3.1";
  const nullableString = v31 ? { type: ["string", "null"] } : { type: "string", nullable: true };
  const json = (schema: unknown) => ({ content: { "application/json": { schema } } });
  const error = { description: "Error", ...json({ $ref: "#/components/schemas/Error" }) };
  return {
    openapi: v31 ? "3.1.0" : "3.0.3",
    info: { title: "Tiny CRM", version: "1.0.0" },
    servers: [{ url: v31 ? "/crm" : `${origin}/crm` }],
    paths: {
      "/contacts": {
        get: {
          operationId: "listContacts",
          summary: "List contacts",
          parameters: [
            {
              name: "limit",
              in: "query",
              description: "At most this many",
              schema: v31
                ? { type: "integer", exclusiveMinimum: 0 }
                : { type: "integer", minimum: 0, exclusiveMinimum: true },
            },
            { name: "tag", in: "query", schema: { type: "array", items: { type: "string" } } },
            { $ref: "#/components/parameters/RequestId" },
            // Many real documents declare this; the gateway sets Authorization itself.
            { name: "Authorization", in: "header", required: true, schema: { type: "string" } },
          ],
          responses: {
            "200": {
              description: "Contacts",
              ...json({ type: "array", items: { $ref: "#/components/schemas/Contact" } }),
            },
          },
        },
        post: {
          operationId: "createContact",
          summary: "Create a contact",
          description: "The new contact gets a fresh id.",
          requestBody: { $ref: "#/components/requestBodies/NewContact" },
          responses: {
            "201": { description: "Created", ...json({ $ref: "#/components/schemas/Contact" }) },
            "400": error,
          },
        },
      },
      "/contacts/{id}": {
        parameters: [{ $ref: "#/components/parameters/ContactId" }],
        get: {
          operationId: "getContact",
          summary: "Get a contact",
          responses: {
            "200": { description: "The contact", ...json({ $ref: "#/components/schemas/Contact" }) },
            "404": error,
          },
        },
        delete: {
          operationId: "deleteContact",
          summary: "Delete a contact",
          responses: { "204": { description: "Deleted" } },
        },
      },
      "/health": {
        get: {
          summary: "Liveness",
          responses: { "200": { description: "OK", content: { "text/plain": { schema: { type: "string" } } } } },
        },
      },
      "/reports/quarterly": { get: { operationId: "quarterlyReport", responses: { "500": error } } },
      "/slow": { get: { operationId: "slow", responses: { "200": { description: "Never" } } } },
      "/moved": { get: { operationId: "moved", responses: { "302": { description: "Elsewhere" } } } },
      "/export": {
        get: { operationId: "exportAll", responses: { "200": { description: "Everything", ...json({}) } } },
      },
    },
    components: {
      parameters: {
        ContactId: { name: "id", in: "path", required: true, schema: { type: "string" } },
        RequestId: { name: "X-Request-Id", in: "header", schema: { type: "string" } },
      },
      requestBodies: { NewContact: { required: true, ...json({ $ref: "#/components/schemas/NewContact" }) } },
      schemas: {
        NewContact: {
          type: "object",
          required: ["name"],
          properties: {
            name: { type: "string" },
            email: nullableString,
            tags: { type: "array", items: { type: "string" } },
          },
        },
        Contact: {
          type: "object",
          required: ["id", "name"],
          properties: {
            id: { type: "string", readOnly: true },
            name: { type: "string" },
            email: nullableString,
            manager: { $ref: "#/components/schemas/Contact" },
          },
        },
        Error: { type: "object", properties: { error: { type: "string" } } },
      },
    },
  };
}

export async function startRestApi(): Promise<RestApi> {
  const requests: RecordedRequest[] = [];
  const contacts: Contact[] = [
    { id: "c1", name: "Ada Lovelace", email: "ada@example.com", tags: ["vip"] },
    { id: "c2", name: "Grace Hopper", email: null, tags: [] },
    { id: "c3", name: "Alan Turing", email: "alan@example.com", tags: ["vip"] },
  ];
  let origin = "";
  const send = (res: ServerResponse, status: number, body?: unknown, type = "application/json") => {
    if (body === undefined) return void res.writeHead(status).end();
    res
      .writeHead(status, { "Content-Type": type })
      .end(type === "application/json" ? JSON.stringify(body) : String(body));
  };

  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
    const url = new URL(req.url ?? "/", origin);
    const route = `${req.method} ${url.pathname}`;
    const contactId = /^\/crm\/contacts\/([^/]+)$/.exec(url.pathname)?.[1];

    if (route === "GET /openapi.json") return send(res, 200, crmDocument("3.1", origin));
    if (route === "GET /openapi-3.0.json") return send(res, 200, crmDocument("3.0", origin));
    if (route === "GET /swagger.json")
      return send(res, 200, { swagger: "2.0", info: { title: "Old", version: "1" }, paths: {} });
    if (route === "GET /crm/contacts") {
      const limit = Number(url.searchParams.get("limit") ?? contacts.length);
      return send(res, 200, contacts.slice(0, limit));
    }
    if (route === "POST /crm/contacts") {
      const input = JSON.parse(body) as Partial<Contact>;
      if (typeof input.name !== "string") return send(res, 400, { error: "name is required" });
      const contact = {
        id: `c${contacts.length + 1}`,
        name: input.name,
        email: input.email ?? null,
        tags: input.tags ?? [],
      };
      contacts.push(contact);
      return send(res, 201, contact);
    }
    if (contactId && req.method === "GET") {
      const contact = contacts.find((c) => c.id === decodeURIComponent(contactId));
      return contact ? send(res, 200, contact) : send(res, 404, { error: "no such contact" });
    }
    if (contactId && req.method === "DELETE") return send(res, 204);
    if (route === "GET /crm/health") return send(res, 200, "ok", "text/plain");
    if (route === "GET /crm/reports/quarterly") return send(res, 500, { error: "the report generator failed" });
    if (route === "GET /crm/slow") return; // never answers; close() ends the connection
    if (route === "GET /crm/moved") return void res.writeHead(302, { Location: "http://127.0.0.1:9/steal" }).end();
    if (route === "GET /crm/export") return send(res, 200, { rows: "x".repeat(2 * 1024 * 1024) });
    send(res, 404, { error: "no such route" });
  }).listen(0, "127.0.0.1");
  await once(server, "listening");
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url: origin,
    requests,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  };
}
