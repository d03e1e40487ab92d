// The input document every policy receives: its documented shape (docs/policy.md) is a contract.
import { describe, expect, it } from "vitest";
import { buildPolicyInput, snapshotHttpRequest, type PolicyInputParts } from "../../src/gateway/policy/input.js";

const NOW = Date.parse("2026-03-02T08:30:15.250Z");

const parts = (overrides: Partial<PolicyInputParts> = {}): PolicyInputParts => ({
  principal: {
    issuer: "https://auth.example",
    sub: "alice",
    clientId: "agent-a",
    scopes: ["tools:read", "tools:write"],
    expiresAt: 1_772_444_000,
  },
  agent: { clientName: "Release bot", authMethod: "client_secret_basic" },
  claims: { email: "alice@example.com", groups: ["engineering"], address: "1 Main St", phone_number: "+1 555" },
  session: { id: "3f9c", createdAt: Date.parse("2026-03-02T08:00:00Z") },
  tool: {
    name: "github__create_issue",
    app: "github",
    upstreamName: "create_issue",
    arguments: { repo: "acme/api", title: "Broken build" },
  },
  mcp: {
    method: "tools/call",
    params: { name: "github__create_issue", arguments: { repo: "acme/api", title: "Broken build" } },
  },
  http: { method: "POST", path: "/mcp", headers: { "content-type": "application/json", "mcp-session-id": "3f9c" } },
  now: NOW,
  ...overrides,
});

describe("policy input document", () => {
  it("has the documented shape for a tool call", () => {
    expect(buildPolicyInput(parts())).toEqual({
      agent: { client_id: "agent-a", client_name: "Release bot", auth_method: "client_secret_basic" },
      user: { sub: "alice", claims: { email: "alice@example.com", groups: ["engineering"] } },
      app: { name: "github" },
      tool: {
        name: "github__create_issue",
        app: "github",
        upstream_name: "create_issue",
        arguments: { repo: "acme/api", title: "Broken build" },
      },
      request: {
        mcp: {
          method: "tools/call",
          params: { name: "github__create_issue", arguments: { repo: "acme/api", title: "Broken build" } },
          tool: { params: { name: "github__create_issue", arguments: { repo: "acme/api", title: "Broken build" } } },
        },
        http: {
          method: "POST",
          path: "/mcp",
          headers: { "content-type": "application/json", "mcp-session-id": "3f9c" },
        },
      },
      session: { id: "3f9c", created_at: "2026-03-02T08:00:00.000Z" },
      token: { scopes: ["tools:read", "tools:write"], issuer: "https://auth.example", expires_at: 1_772_444_000 },
      time: { now: "2026-03-02T08:30:15.250Z", unix: 1_772_440_215 },
    });
  });

  it("leaves tool arguments out when listing, so policies can tell a listing from a call", () => {
    const input = buildPolicyInput(
      parts({
        tool: { name: "github__create_issue", app: "github", upstreamName: "create_issue" },
        mcp: { method: "tools/list", params: { cursor: "2" } },
      }),
    );
    expect(input.tool).toEqual({ name: "github__create_issue", app: "github", upstream_name: "create_issue" });
    expect(input.request.mcp).toEqual({
      method: "tools/list",
      params: { cursor: "2" },
      tool: { params: { name: "github__create_issue" } },
    });
  });

  it("gives a call without arguments an empty arguments object", () => {
    const input = buildPolicyInput(
      parts({
        tool: { name: "github__whoami", app: "github", upstreamName: "whoami" },
        mcp: { method: "tools/call", params: { name: "github__whoami" } },
      }),
    );
    expect(input.tool?.arguments).toEqual({});
    expect(input.request.mcp.tool?.params.arguments).toEqual({});
  });

  const withoutTool = (overrides: Partial<PolicyInputParts>): PolicyInputParts => {
    const { tool: _tool, ...rest } = parts(overrides);
    return rest;
  };

  it("puts a prompt where a tool would be, names its app, and has no request.mcp.tool", () => {
    const input = buildPolicyInput(
      withoutTool({
        prompt: { name: "github__triage", app: "github", upstreamName: "triage", arguments: { repo: "acme/api" } },
        mcp: { method: "prompts/get", params: { name: "github__triage", arguments: { repo: "acme/api" } } },
      }),
    );
    expect(input.app).toEqual({ name: "github" });
    expect(input.prompt).toEqual({
      name: "github__triage",
      app: "github",
      upstream_name: "triage",
      arguments: { repo: "acme/api" },
    });
    expect(input).not.toHaveProperty("tool");
    expect(input).not.toHaveProperty("resource");
    expect(input.request.mcp).toEqual({
      method: "prompts/get",
      params: { name: "github__triage", arguments: { repo: "acme/api" } },
    });
  });

  it("leaves prompt arguments out when listing, and gives prompts/get without arguments an empty object", () => {
    const listing = buildPolicyInput(
      withoutTool({
        prompt: { name: "github__triage", app: "github", upstreamName: "triage" },
        mcp: { method: "prompts/list", params: {} },
      }),
    );
    expect(listing.prompt).toEqual({ name: "github__triage", app: "github", upstream_name: "triage" });
    const get = buildPolicyInput(
      withoutTool({
        prompt: { name: "github__triage", app: "github", upstreamName: "triage" },
        mcp: { method: "prompts/get", params: { name: "github__triage" } },
      }),
    );
    expect(get.prompt?.arguments).toEqual({});
  });

  it("describes a resource by what the request knows of it: a URI, a template, a listed name", () => {
    const read = buildPolicyInput(
      withoutTool({
        resource: { uri: "repo://acme/api/README.md", app: "github" },
        mcp: { method: "resources/read", params: { uri: "repo://acme/api/README.md" } },
      }),
    );
    expect(read.app).toEqual({ name: "github" });
    expect(read.resource).toEqual({ uri: "repo://acme/api/README.md", app: "github" });
    expect(read).not.toHaveProperty("tool");
    const template = buildPolicyInput(
      withoutTool({
        resource: { uriTemplate: "repo://{owner}/{repo}/{path}", name: "github__file", app: "github" },
        mcp: { method: "resources/templates/list", params: {} },
      }),
    );
    expect(template.resource).toEqual({
      uri_template: "repo://{owner}/{repo}/{path}",
      name: "github__file",
      app: "github",
    });
  });

  it("refuses parts that are about nothing, or about two things at once", () => {
    expect(() => buildPolicyInput(withoutTool({}))).toThrow(/exactly one/);
    expect(() => buildPolicyInput(parts({ resource: { uri: "x://y", app: "github" } }))).toThrow(/exactly one/);
  });

  it("never carries credentials from the HTTP request", () => {
    const request = new Request("https://gw.example/mcp?x=1", {
      method: "POST",
      headers: {
        Authorization: "Bearer secret",
        Cookie: "maverics_session=secret",
        "Proxy-Authorization": "Basic secret",
        "X-Request-Id": "r1",
      },
    });
    const snapshot = snapshotHttpRequest(request);
    expect(snapshot).toEqual({ method: "POST", path: "/mcp", headers: { "x-request-id": "r1" } });
    // The same holds when the headers were collected some other way.
    const input = buildPolicyInput(
      parts({ http: { method: "POST", path: "/mcp", headers: { Authorization: "Bearer secret", "X-Trace": "t" } } }),
    );
    expect(input.request.http.headers).toEqual({ "x-trace": "t" });
  });

  it("keeps only the documented user claims", () => {
    expect(Object.keys(buildPolicyInput(parts()).user.claims).sort()).toEqual(["email", "groups"]);
  });

  it("omits what the gateway does not know about the agent", () => {
    const { agent: _agent, ...rest } = parts();
    expect(buildPolicyInput(rest).agent).toEqual({ client_id: "agent-a" });
  });
});
