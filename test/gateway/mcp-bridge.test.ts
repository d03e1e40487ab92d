import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify as toYaml } from "yaml";
import type { AppCallContext } from "../../src/gateway/apps/app.js";
import { McpBridgeApp } from "../../src/gateway/apps/mcp-bridge.js";
import { UpstreamError } from "../../src/gateway/apps/upstream-error.js";
import { mcpBridgeAppSchema } from "../../src/gateway/apps-schema.js";
import { closedPort } from "../helpers/redis.js";
import { crmDocument, startRestApi, type RecordedRequest, type RestApi } from "../helpers/rest-api.js";

let api: RestApi;
beforeAll(async () => {
  api = await startRestApi();
});
afterAll(async () => {
  await api.close();
});

function bridge(openapi: Record<string, unknown>): McpBridgeApp {
  return new McpBridgeApp(mcpBridgeAppSchema.parse({ name: "crm", type: "mcpBridge", openapi }));
}

/** What the session Durable Object hands an app: here with in-memory state. */
function context(overrides: Partial<AppCallContext> = {}): AppCallContext {
  let state: Record<string, unknown> = {};
  return {
    token: "exchanged-token",
    state: { get: () => state, set: async (patch) => void (state = { ...state, ...patch }) },
    signal: AbortSignal.timeout(10_000),
    ...overrides,
  };
}

/** Calls a tool and returns the outcome with the one request it sent upstream (if any). */
async function call(app: McpBridgeApp, name: string, args: Record<string, unknown>, ctx = context()) {
  const before = api.requests.length;
  const outcome = await app.callTool(name, args, ctx);
  const sent = api.requests.slice(before).filter((r) => r.url.startsWith("/crm/"));
  expect(sent.length).toBeLessThanOrEqual(1);
  return { ...outcome, upstream: sent[0] as RecordedRequest | undefined };
}

describe("MCP Bridge app", () => {
  let crm: McpBridgeApp;
  beforeAll(() => {
    crm = bridge({ spec: { uri: `${api.url}/openapi.json` } });
  });

  describe("listing tools", () => {
    it("lists the operations of the document at the spec URI", async () => {
      const tools = await crm.listTools(context());
      expect(tools.map((t) => t.name)).toEqual([
        "listContacts",
        "createContact",
        "getContact",
        "deleteContact",
        "get_health",
        "quarterlyReport",
        "slow",
        "moved",
        "exportAll",
      ]);
    });

    it("fetches a document once per isolate, whichever app instance asks", async () => {
      const uri = `${api.url}/openapi.json?fetched=once`;
      await bridge({ spec: { uri } }).listTools(context());
      await bridge({ spec: { uri } }).listTools(context());
      expect(api.requests.filter((r) => r.url === "/openapi.json?fetched=once")).toHaveLength(1);
    });

    it("fetches the document without the caller's token", async () => {
      await bridge({ spec: { uri: `${api.url}/openapi.json?token=none` } }).listTools(context({ token: "secret" }));
      const fetched = api.requests.find((r) => r.url === "/openapi.json?token=none");
      expect(fetched?.headers.authorization).toBeUndefined();
    });

    it("lists the operations of an inline document, JSON object or YAML text", async () => {
      const fromObject = await bridge({ spec: { inline: crmDocument("3.0", api.url) } }).listTools(context());
      const fromYaml = await bridge({ spec: { inline: toYaml(crmDocument("3.0", api.url)) } }).listTools(context());
      expect(fromObject.map((t) => t.name)).toContain("createContact");
      expect(fromYaml).toEqual(fromObject);
    });

    it("needs baseURL when an inline document names a relative server", async () => {
      const inline = crmDocument("3.1", api.url);
      await expect(bridge({ spec: { inline } }).listTools(context())).rejects.toThrow(
        new UpstreamError(
          "crm",
          'the server URL "/crm" is relative and the document has no URL of its own: set openapi.baseURL',
        ),
      );
      const app = bridge({ spec: { inline }, baseURL: `${api.url}/crm` });
      const { upstream } = await call(app, "getContact", { id: "c2" });
      expect(upstream?.url).toBe("/crm/contacts/c2");
    });

    it("reports a Swagger 2.0 document as the app's error", async () => {
      const app = bridge({ spec: { uri: `${api.url}/swagger.json` } });
      const failure = app.listTools(context());
      await expect(failure).rejects.toBeInstanceOf(UpstreamError);
      await expect(failure).rejects.toThrow(
        "Swagger 2.0 documents are not supported: convert it to OpenAPI 3.0 or 3.1",
      );
    });

    it("reports a document it cannot fetch as the app's error", async () => {
      const app = bridge({ spec: { uri: `${api.url}/missing.json` } });
      await expect(app.listTools(context())).rejects.toThrow(
        new UpstreamError("crm", `could not fetch the OpenAPI document ${api.url}/missing.json: HTTP 404`),
      );
    });
  });

  describe("calling tools", () => {
    it("sends query parameters, headers and the exchanged token, and returns JSON as structured content", async () => {
      const ctx = context({ traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" });
      const { result, upstreamStatus, upstream } = await call(
        crm,
        "listContacts",
        { limit: 2, tag: ["vip", "new"], "X-Request-Id": "r-1" },
        ctx,
      );
      expect(upstream).toMatchObject({
        method: "GET",
        url: "/crm/contacts?limit=2&tag=vip&tag=new",
        headers: {
          authorization: "Bearer exchanged-token",
          accept: "application/json",
          "x-request-id": "r-1",
          traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        },
      });
      const contacts = [
        { id: "c1", name: "Ada Lovelace", email: "ada@example.com", tags: ["vip"] },
        { id: "c2", name: "Grace Hopper", email: null, tags: [] },
      ];
      // Structured content is an object: a JSON array is wrapped as { result }.
      expect(result).toEqual({
        content: [{ type: "text", text: JSON.stringify({ result: contacts }) }],
        structuredContent: { result: contacts },
      });
      expect(upstreamStatus).toBe(200);
    });

    it("sends no Authorization header when the app's outbound authorization is none", async () => {
      const { upstream } = await call(crm, "getContact", { id: "c1" }, context({ token: undefined }));
      expect(upstream?.headers.authorization).toBeUndefined();
    });

    it("puts the path argument in its segment", async () => {
      const { result, upstream } = await call(crm, "getContact", { id: "c1" });
      expect(upstream).toMatchObject({ method: "GET", url: "/crm/contacts/c1" });
      expect(result.structuredContent).toEqual({
        id: "c1",
        name: "Ada Lovelace",
        email: "ada@example.com",
        tags: ["vip"],
      });
    });

    it("posts the body as JSON", async () => {
      const { result, upstreamStatus, upstream } = await call(crm, "createContact", {
        body: { name: "Katherine Johnson", tags: ["nasa"] },
      });
      expect(upstream).toMatchObject({
        method: "POST",
        url: "/crm/contacts",
        headers: { "content-type": "application/json" },
      });
      expect(JSON.parse(upstream!.body)).toEqual({ name: "Katherine Johnson", tags: ["nasa"] });
      expect(result.structuredContent).toMatchObject({ name: "Katherine Johnson", tags: ["nasa"] });
      expect(result.isError).toBeUndefined();
      expect(upstreamStatus).toBe(201);
    });

    it("reports an empty answer as text", async () => {
      const { result, upstreamStatus, upstream } = await call(crm, "deleteContact", { id: "c3" });
      expect(upstream).toMatchObject({ method: "DELETE", url: "/crm/contacts/c3", body: "" });
      expect(result).toEqual({ content: [{ type: "text", text: "HTTP 204 (no content)" }] });
      expect(upstreamStatus).toBe(204);
    });

    it("returns a non-JSON answer as text", async () => {
      const { result, upstream } = await call(crm, "get_health", {});
      expect(upstream?.headers.accept).toBe("text/plain");
      expect(result).toEqual({ content: [{ type: "text", text: "ok" }] });
    });

    it("marks a 4xx answer as a tool error, keeping its content", async () => {
      const { result, upstreamStatus } = await call(crm, "getContact", { id: "nobody" });
      expect(result).toEqual({
        content: [{ type: "text", text: '{"error":"no such contact"}' }],
        structuredContent: { error: "no such contact" },
        isError: true,
      });
      expect(upstreamStatus).toBe(404);
    });

    it("marks a 5xx answer as a tool error", async () => {
      const { result, upstreamStatus } = await call(crm, "quarterlyReport", {});
      expect(result.isError).toBe(true);
      expect(result.structuredContent).toEqual({ error: "the report generator failed" });
      expect(upstreamStatus).toBe(500);
    });

    it("calls the server an OpenAPI 3.0 document names", async () => {
      const app = bridge({ spec: { uri: `${api.url}/openapi-3.0.json` } });
      const { result, upstream } = await call(app, "listContacts", { limit: 1 });
      expect(upstream?.url).toBe("/crm/contacts?limit=1");
      expect(result.structuredContent).toEqual({
        result: [{ id: "c1", name: "Ada Lovelace", email: "ada@example.com", tags: ["vip"] }],
      });
    });
  });

  describe("arguments it refuses", () => {
    it("keeps a traversal attempt encoded inside its path segment", async () => {
      const { upstream, upstreamStatus } = await call(crm, "getContact", { id: "../admin" });
      expect(upstream?.url).toBe("/crm/contacts/..%2Fadmin");
      expect(upstreamStatus).toBe(404);
    });

    it("keeps ? and # in a path argument from starting a query or fragment", async () => {
      const { upstream } = await call(crm, "getContact", { id: "c1?admin=1#x" });
      expect(upstream?.url).toBe("/crm/contacts/c1%3Fadmin%3D1%23x");
    });

    it("refuses a path argument that is a dot segment, without calling upstream", async () => {
      const { result, upstream } = await call(crm, "getContact", { id: ".." });
      expect(result).toEqual({
        isError: true,
        content: [{ type: "text", text: 'path arguments must not make a ".." path segment' }],
      });
      expect(upstream).toBeUndefined();
    });

    it("reports missing required arguments without calling upstream", async () => {
      const { result, upstream, upstreamStatus } = await call(crm, "createContact", {});
      expect(result).toEqual({ isError: true, content: [{ type: "text", text: "missing required argument: body" }] });
      expect(upstream).toBeUndefined();
      expect(upstreamStatus).toBeUndefined();
    });

    it("refuses a header argument that would split the header", async () => {
      const { result, upstream } = await call(crm, "listContacts", { "X-Request-Id": "a\r\nX-Admin: 1" });
      expect(result).toEqual({
        isError: true,
        content: [{ type: "text", text: "header argument X-Request-Id must be printable ASCII text" }],
      });
      expect(upstream).toBeUndefined();
    });
  });

  describe("checking arguments against the tool's input schema", () => {
    it("accepts arguments that fit", async () => {
      expect(await crm.checkArguments("listContacts", { limit: 5, tag: ["vip"] })).toBeUndefined();
      expect(await crm.checkArguments("listContacts", {})).toBeUndefined();
    });

    it("names what is wrong and where, not the enclosing schemas that failed with it", async () => {
      expect(await crm.checkArguments("listContacts", { limit: "five", tag: [1] })).toBe(
        'limit: Instance type "string" is invalid. Expected "integer".; tag.0: Instance type "number" is invalid. Expected "string".',
      );
    });

    it("names a missing required argument", async () => {
      expect(await crm.checkArguments("createContact", {})).toBe(
        'arguments: Instance does not have required property "body".',
      );
    });

    it("names five problems at most, and counts the rest", async () => {
      const problems = await crm.checkArguments("listContacts", { tag: [1, 2, 3, 4, 5, 6, 7] });
      expect(problems?.split("; ")).toHaveLength(5);
      expect(problems).toMatch(/\(and 2 more\)$/);
    });

    it("has nothing to say about a tool it does not know (the call reports that)", async () => {
      expect(await crm.checkArguments("nope", { anything: 1 })).toBeUndefined();
    });
  });

  describe("upstream failures", () => {
    it("does not follow a redirect", async () => {
      const { result, upstreamStatus } = await call(crm, "moved", {});
      expect(result).toEqual({
        isError: true,
        content: [
          {
            type: "text",
            text: "HTTP 302: the API redirected to http://127.0.0.1:9/steal; the gateway does not follow redirects",
          },
        ],
      });
      expect(upstreamStatus).toBe(302);
    });

    it("refuses an answer larger than 1 MiB", async () => {
      const { result, upstreamStatus } = await call(crm, "exportAll", {});
      expect(result).toEqual({
        isError: true,
        content: [{ type: "text", text: "HTTP 200: the answer is larger than 1 MiB" }],
      });
      expect(upstreamStatus).toBe(200);
    });

    it("throws UpstreamError when the API cannot be reached", async () => {
      const port = await closedPort();
      const app = bridge({ spec: { uri: `${api.url}/openapi.json` }, baseURL: `http://127.0.0.1:${port}/crm` });
      const failure = app.callTool("getContact", { id: "c1" }, context());
      await expect(failure).rejects.toBeInstanceOf(UpstreamError);
      await expect(failure).rejects.toThrow(`could not reach http://127.0.0.1:${port}`);
    });

    it("throws UpstreamError when the API does not answer within the timeout", async () => {
      const failure = crm.callTool("slow", {}, context({ signal: AbortSignal.timeout(200) }));
      await expect(failure).rejects.toThrow(new UpstreamError("crm", "no answer within the app's timeout"));
    });
  });
});
