import { describe, expect, it } from "vitest";
import { stringify as toYaml } from "yaml";
import { buildUpstreamRequest } from "../../src/gateway/apps/openapi-request.js";
import { OpenApiError, openApiTools, type BridgeTool } from "../../src/gateway/apps/openapi-tools.js";
import { crmDocument } from "../helpers/rest-api.js";

const ORIGIN = "http://api.test";

function toolNamed(tools: BridgeTool[], name: string): BridgeTool {
  const found = tools.find((t) => t.tool.name === name);
  if (!found) throw new Error(`no tool ${name} among ${tools.map((t) => t.tool.name).join(", ")}`);
  return found;
}

/** A minimal document around the given paths (and components). */
function doc(paths: Record<string, unknown>, extra: Record<string, unknown> = {}, openapi = "3.1.0") {
  return { openapi, info: { title: "t", version: "1" }, paths, ...extra };
}

describe("OpenAPI operations as tools", () => {
  for (const version of ["3.1", "3.0"] as const) {
    describe(`an OpenAPI ${version} document`, () => {
      const { tools } = openApiTools(crmDocument(version, ORIGIN));

      it("becomes one tool per operation, named by operationId", () => {
        expect(tools.map((t) => t.tool.name)).toEqual([
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

      it("describes each tool by its summary and description", () => {
        expect(toolNamed(tools, "listContacts").tool.description).toBe("List contacts");
        expect(toolNamed(tools, "createContact").tool.description).toBe(
          "Create a contact\n\nThe new contact gets a fresh id.",
        );
        expect(toolNamed(tools, "quarterlyReport").tool.description).toBe("GET /reports/quarterly");
      });

      it("makes query and header parameters optional properties unless required", () => {
        const { inputSchema } = toolNamed(tools, "listContacts").tool;
        expect(inputSchema).toEqual({
          type: "object",
          properties: {
            limit: { type: "integer", exclusiveMinimum: 0, description: "At most this many" },
            tag: { type: "array", items: { type: "string" } },
            "X-Request-Id": { type: "string" },
          },
        });
      });

      it("resolves a $ref'd path-level parameter and requires it", () => {
        const { tool, plan } = toolNamed(tools, "getContact");
        expect(tool.inputSchema).toEqual({ type: "object", properties: { id: { type: "string" } }, required: ["id"] });
        expect(plan).toMatchObject({
          method: "GET",
          path: "/contacts/{id}",
          parameters: [{ property: "id", name: "id", in: "path", required: true }],
        });
      });

      it("makes the JSON request body a required `body` property, with $refs and nullable resolved", () => {
        const { tool, plan } = toolNamed(tools, "createContact");
        expect(tool.inputSchema).toEqual({
          type: "object",
          properties: {
            body: {
              type: "object",
              required: ["name"],
              properties: {
                name: { type: "string" },
                email: { type: ["string", "null"] },
                tags: { type: "array", items: { type: "string" } },
              },
            },
          },
          required: ["body"],
        });
        expect(plan.body).toEqual({ property: "body", required: true, mediaType: "application/json" });
      });

      it("hints that reads are read-only and deletes destructive", () => {
        expect(toolNamed(tools, "listContacts").tool.annotations).toEqual({ readOnlyHint: true });
        expect(toolNamed(tools, "deleteContact").tool.annotations).toEqual({
          destructiveHint: true,
          idempotentHint: true,
        });
        expect(toolNamed(tools, "createContact").tool.annotations).toEqual({});
      });

      it("asks for the media types the operation answers with", () => {
        expect(toolNamed(tools, "getContact").plan.accept).toBe("application/json");
        expect(toolNamed(tools, "get_health").plan.accept).toBe("text/plain");
      });
    });
  }

  it("never takes Authorization, Cookie or Host from the arguments", () => {
    const header = (name: string) => ({ name, in: "header", required: true, schema: { type: "string" } });
    const { tools, warnings } = openApiTools(
      doc({
        "/me": {
          get: {
            operationId: "me",
            parameters: [
              header("Authorization"),
              header("Cookie"),
              header("Host"),
              header("X-Tenant"),
              header("X Tenant"),
              { name: "sid", in: "cookie", schema: { type: "string" } },
            ],
          },
        },
      }),
    );
    const { tool, plan } = toolNamed(tools, "me");
    expect(Object.keys(tool.inputSchema.properties ?? {})).toEqual(["X-Tenant"]);
    expect(plan.parameters.map((p) => p.name)).toEqual(["X-Tenant"]);
    expect(warnings).toEqual([
      'paths["/me"].get: header parameter "Authorization" ignored; the gateway sets it',
      'paths["/me"].get: header parameter "Cookie" ignored; the gateway sets it',
      'paths["/me"].get: header parameter "Host" ignored; the gateway sets it',
      'paths["/me"].get: header parameter "X Tenant" ignored; not a valid header name',
      'paths["/me"].get: cookie parameter "sid" ignored; the bridge sends no cookies',
    ]);
  });

  it("keeps a recursive schema finite with $defs", () => {
    const { tools } = openApiTools(
      doc(
        {
          "/nodes": {
            post: {
              operationId: "addNode",
              requestBody: {
                required: true,
                content: { "application/json": { schema: { $ref: "#/components/schemas/Node" } } },
              },
            },
          },
        },
        {
          components: {
            schemas: {
              Node: {
                type: "object",
                properties: {
                  label: { type: "string" },
                  children: { type: "array", items: { $ref: "#/components/schemas/Node" } },
                },
              },
            },
          },
        },
      ),
    );
    const node = {
      type: "object",
      properties: { label: { type: "string" }, children: { type: "array", items: { $ref: "#/$defs/Node" } } },
    };
    expect(toolNamed(tools, "addNode").tool.inputSchema).toEqual({
      type: "object",
      properties: { body: node },
      required: ["body"],
      $defs: { Node: node },
    });
  });

  it("leaves read-only properties out of request bodies", () => {
    const { tools } = openApiTools({
      ...crmDocument("3.1", ORIGIN),
      paths: {
        "/contacts/{id}": {
          put: {
            operationId: "replaceContact",
            requestBody: { content: { "application/json": { schema: { $ref: "#/components/schemas/Contact" } } } },
          },
        },
      },
    });
    const body = toolNamed(tools, "replaceContact").tool.inputSchema.properties?.body as Record<string, unknown>;
    expect(body.required).toEqual(["name"]);
    expect(Object.keys(body.properties as object)).toEqual(["name", "email", "manager"]);
  });

  it("converts OpenAPI 3.0 nullable enums, composed schemas and exclusive bounds", () => {
    const schema = {
      type: "object",
      properties: {
        status: { type: "string", enum: ["open", "closed"], nullable: true },
        owner: { allOf: [{ $ref: "#/components/schemas/Ref" }], nullable: true },
        score: { type: "number", maximum: 10, exclusiveMaximum: true, minimum: 0, exclusiveMinimum: false, example: 3 },
      },
    };
    const { tools } = openApiTools(
      doc(
        { "/t": { post: { operationId: "t", requestBody: { content: { "application/json": { schema } } } } } },
        { components: { schemas: { Ref: { type: "string", "x-internal": true } } } },
        "3.0.3",
      ),
    );
    expect(toolNamed(tools, "t").tool.inputSchema.properties?.body).toEqual({
      type: "object",
      properties: {
        status: { type: ["string", "null"], enum: ["open", "closed", null] },
        owner: { anyOf: [{ allOf: [{ type: "string" }] }, { type: "null" }] },
        score: { type: "number", exclusiveMaximum: 10, minimum: 0, examples: [3] },
      },
    });
  });

  it("names operations without operationId by method and path, sanitized, and numbers duplicates", () => {
    const { tools } = openApiTools(
      doc({
        "/users/{user-id}/orders": { get: {}, post: { operationId: "place order!" } },
        "/a": { get: { operationId: "place_order" } },
        "/b": { get: { operationId: "x".repeat(80) } },
        "/c": { get: { operationId: "x".repeat(80) } },
      }),
    );
    expect(tools.map((t) => t.tool.name)).toEqual([
      "get_users_user-id_orders",
      "place_order",
      "place_order_2",
      "x".repeat(64),
      `${"x".repeat(62)}_2`,
    ]);
  });

  it("gives parameters that share a name distinct properties", () => {
    const { tools } = openApiTools(
      doc({
        "/items/{id}": {
          post: {
            operationId: "tagItem",
            parameters: [
              { name: "id", in: "query", schema: { type: "string" } },
              { name: "filter[state]", in: "query", schema: { type: "string" } },
            ],
            requestBody: { content: { "application/json": { schema: { type: "object" } } } },
          },
        },
      }),
    );
    const { tool, plan } = toolNamed(tools, "tagItem");
    expect(Object.keys(tool.inputSchema.properties ?? {})).toEqual(["body", "id", "filter_state", "id_path"]);
    expect(plan.parameters.map((p) => [p.property, p.name, p.in])).toEqual([
      ["id", "id", "query"],
      ["filter_state", "filter[state]", "query"],
      ["id_path", "id", "path"],
    ]);
  });

  it("reads YAML", () => {
    const { tools } = openApiTools(toYaml(crmDocument("3.0", ORIGIN)));
    expect(tools).toHaveLength(9);
  });

  it("leaves out an operation it cannot call and says why", () => {
    const { tools, warnings } = openApiTools(
      doc({
        "/upload": {
          post: { operationId: "upload", requestBody: { required: true, content: { "multipart/form-data": {} } } },
        },
        "/ext": { get: { operationId: "ext", parameters: [{ $ref: "common.yaml#/parameters/Page" }] } },
        "/ok": { get: { operationId: "ok" } },
      }),
    );
    expect(tools.map((t) => t.tool.name)).toEqual(["ok"]);
    expect(warnings).toEqual([
      'paths["/upload"].post left out: request body media types multipart/form-data are not supported (only JSON)',
      'paths["/ext"].get left out: $ref "common.yaml#/parameters/Page" points outside the document; only "#/..." references are resolved',
    ]);
  });
});

describe("documents the bridge cannot read", () => {
  const cases: [string, string | object, string][] = [
    [
      "a document without an openapi field",
      { info: {}, paths: {} },
      "not an OpenAPI document: the 'openapi' version field is missing",
    ],
    [
      "a Swagger 2.0 document",
      { swagger: "2.0", paths: {} },
      "Swagger 2.0 documents are not supported: convert it to OpenAPI 3.0 or 3.1",
    ],
    [
      "another OpenAPI version",
      { openapi: "3.2.0", paths: {} },
      'unsupported OpenAPI version "3.2.0": expected 3.0.x or 3.1.x',
    ],
    ["text that is not JSON or YAML", "{ this is: [not", "not an OpenAPI document: not valid JSON or YAML (line 1)"],
    ["a JSON array", "[1, 2]", "not an OpenAPI document: expected a JSON or YAML object"],
    [
      "an OpenAPI 3.0 document without paths",
      { openapi: "3.0.3", info: {} },
      "invalid OpenAPI document: 'paths' is missing",
    ],
    [
      "a path not starting with /",
      doc({ contacts: {} }),
      "invalid OpenAPI document: paths.contacts: a path must begin with '/'",
    ],
    [
      "a parameter in an unknown location",
      doc({ "/x": { get: { parameters: [{ name: "q", in: "body" }] } } }),
      'invalid OpenAPI document: paths["/x"].get.parameters[0].in: Invalid option: expected one of "path"|"query"|"header"|"cookie"',
    ],
    [
      "a $ref to nothing",
      doc({ "/x": { get: { parameters: [{ $ref: "#/components/parameters/Missing" }] } } }),
      'invalid OpenAPI document: $ref "#/components/parameters/Missing" points to nothing',
    ],
    [
      "a reference cycle",
      doc(
        { "/x": { get: { parameters: [{ $ref: "#/components/parameters/A" }] } } },
        { components: { parameters: { A: { $ref: "#/components/parameters/A" } } } },
      ),
      'invalid OpenAPI document: paths["/x"].get.parameters[0]: $ref "#/components/parameters/A" never reaches an object (a reference cycle)',
    ],
  ];
  for (const [what, source, message] of cases) {
    it(`rejects ${what}`, () => {
      expect(() => openApiTools(source)).toThrow(new OpenApiError(message));
    });
  }
});

describe("arguments as an HTTP request", () => {
  const param = (name: string, where: string, extra: Record<string, unknown> = {}) => ({
    name,
    in: where,
    schema: { type: "string" },
    ...extra,
  });
  const { tools } = openApiTools(
    doc({
      "/files/{path}/{version}": {
        get: {
          operationId: "styles",
          parameters: [
            param("path", "path", { required: true }),
            param("version", "path", { required: true, style: "matrix" }),
            param("ids", "query", { explode: false }),
            param("sizes", "query", { style: "pipeDelimited" }),
            param("filter", "query", { style: "deepObject" }),
            { name: "where", in: "query", content: { "application/json": { schema: { type: "object" } } } },
            param("X-Labels", "header"),
            param("unused", "path"),
            param("constructor", "query"),
          ],
        },
      },
    }),
  );
  const { tool, plan } = toolNamed(tools, "styles");
  const base = new URL("https://api.test/v1/");

  it("drops a path parameter the template does not name", () => {
    expect(Object.keys(tool.inputSchema.properties ?? {})).not.toContain("unused");
  });

  it("serializes each parameter in its style", () => {
    const request = buildUpstreamRequest(
      plan,
      {
        path: "a b/c",
        version: 2,
        ids: [1, 2],
        sizes: ["s", "m"],
        filter: { state: "open", "owner id": "me" },
        where: { name: "x" },
        "X-Labels": ["red", "blue"],
      },
      base,
    );
    expect(request.url.href).toBe(
      "https://api.test/v1/files/a%20b%2Fc/;version=2" +
        "?ids=1,2&sizes=s%7Cm&filter%5Bstate%5D=open&filter%5Bowner%20id%5D=me&where=%7B%22name%22%3A%22x%22%7D",
    );
    expect(request.headers).toEqual({ "X-Labels": "red,blue" });
  });

  it("reads only the arguments given, never inherited properties such as `constructor`", () => {
    const request = buildUpstreamRequest(plan, { path: "p", version: "1", extra: "x" }, base);
    expect(request.url.href).toBe("https://api.test/v1/files/p/;version=1");
  });
});
