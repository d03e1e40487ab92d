// The call pipeline's rules in-process (src/gateway/session/call-pipeline.ts): stand-in apps,
// policies, outbound tokens and budgets, no workerd. The integration specs beside this one
// (tool-calls, policy-enforcement, mcp-proxy) run the same rules through real runtimes.
import { describe, expect, it } from "vitest";
import type { App, AppCallContext } from "../../src/gateway/apps/app.js";
import { UpstreamError, UpstreamJsonRpcError } from "../../src/gateway/apps/upstream-error.js";
import type { AppConfig } from "../../src/gateway/apps-schema.js";
import type { AuditEvent } from "../../src/gateway/audit.js";
import type { ToolCallAdmission } from "../../src/gateway/call-budget.js";
import type { OutboundToken } from "../../src/gateway/outbound/outbound-token.js";
import { ExchangeError } from "../../src/gateway/outbound/token-exchange-client.js";
import type { PolicyDecision } from "../../src/gateway/policy/decision.js";
import { runCall, type Call, type PipelineDeps, type PolicyTarget } from "../../src/gateway/session/call-pipeline.js";

const APP = { name: "crm", type: "mcpProxy", timeout: 1000 } as unknown as AppConfig;

interface Stage {
  app?: Partial<App>;
  tools?: string[];
  decide?: (target: PolicyTarget) => PolicyDecision;
  token?: (fresh: boolean) => OutboundToken;
  admit?: ToolCallAdmission;
  logArguments?: boolean;
}

/** A pipeline over one stand-in app, recording what each collaborator was asked. */
function stage(options: Stage = {}) {
  const asked = {
    decide: [] as PolicyTarget[],
    tokens: [] as boolean[],
    upstream: [] as (string | undefined)[],
    /** Contexts handed out and not yet released (their timeout timers). */
    live: new Set<AppCallContext>(),
  };
  const audit: AuditEvent[] = [];
  const app = {
    name: "crm",
    type: "mcpProxy",
    listTools: async () => [],
    callTool: async () => ({ result: { content: [] } }),
    ...options.app,
  } as App;
  let minted = 0;
  const deps: PipelineDeps = {
    apps: [APP],
    instance: () => app,
    listsTool: async (_app, name) => (options.tools ?? ["lookup"]).includes(name),
    resourceOwner: (uri) => (uri.startsWith("crm://") ? "crm" : undefined),
    decide: async (_app, target) => {
      asked.decide.push(target);
      return options.decide?.(target) ?? { allowed: true, policy: "allow-all" };
    },
    token: async (_app, _tool, opts) => {
      asked.tokens.push(opts?.fresh === true);
      return (
        options.token?.(opts?.fresh === true) ?? { token: `token-${++minted}`, jti: `jti-${minted}`, cached: false }
      );
    },
    context: (_app, token) => {
      asked.upstream.push(token);
      const ctx = {
        token,
        signal: new AbortController().signal,
        state: { get: () => ({}), set: async () => undefined },
      } satisfies AppCallContext;
      asked.live.add(ctx);
      return ctx;
    },
    release: (ctx) => asked.live.delete(ctx),
    ...(options.admit ? { admitToolCall: async () => options.admit! } : {}),
    audit: (event) => audit.push(event),
    session: {
      id: "session-1",
      principal: {
        issuer: "https://idp.test",
        sub: "alice",
        clientId: "agent",
      } as PipelineDeps["session"]["principal"],
    },
    logArguments: options.logArguments ?? false,
  };
  const run = <C extends Call>(call: C) => runCall(deps, call);
  return { run, asked, audit, only: () => (expect(audit).toHaveLength(1), audit[0]!) };
}

const lookup: Call = { method: "tools/call", name: "crm__lookup", args: { id: 7 } };

describe("the call pipeline", () => {
  it("releases every call context it used once the upstream has answered or failed, so no timeout timer outlives its call", async () => {
    const answered = stage();
    await answered.run(lookup);
    const failed = stage({
      app: {
        callTool: async () => {
          throw new UpstreamError("crm", "upstream crm is unreachable");
        },
      },
    });
    await failed.run(lookup);
    for (const s of [answered, failed]) {
      expect(s.asked.upstream.length).toBeGreaterThan(0);
      expect(s.asked.live.size).toBe(0);
    }
  });

  it("forwards an allowed tool call with its exchanged token and audits who, what, the token's jti and the upstream status", async () => {
    const s = stage({
      app: { callTool: async () => ({ result: { content: [{ type: "text", text: "found" }] }, upstreamStatus: 200 }) },
    });
    expect(await s.run(lookup)).toEqual({ content: [{ type: "text", text: "found" }] });
    expect(s.asked.upstream).toEqual(["token-1"]);
    expect(s.only()).toMatchObject({
      method: "tools/call",
      tool: "crm__lookup",
      app: "crm",
      agent: "agent",
      user: "alice",
      decision: "allow",
      policy: "allow-all",
      outcome: "success",
      token_jti: "jti-1",
      token_cached: false,
      upstream_status: 200,
    });
    expect(s.only().arguments).toBeUndefined();
  });

  it("keeps the arguments in the audit event only when the configuration says so", async () => {
    const s = stage({ logArguments: true });
    await s.run(lookup);
    expect(s.only().arguments).toEqual({ id: 7 });
  });

  it("refuses a call over budget before anything else is asked, with the time to wait", async () => {
    const s = stage({ admit: { admitted: false, budget: "toolCallsPerSession", retryAfterMs: 2500 } });
    expect(await s.run(lookup)).toEqual({
      isError: true,
      content: [{ type: "text", text: "Too many tool calls in this session: try again in 3 s." }],
    });
    expect(s.asked).toEqual({ decide: [], tokens: [], upstream: [], live: new Set() });
    expect(s.only()).toMatchObject({ app: "crm", decision: "deny", outcome: "rate_limited" });
  });

  it("answers a tool no app lists with -32602, not a tool result", async () => {
    const s = stage();
    await expect(s.run({ method: "tools/call", name: "crm__drop_tables", args: {} })).rejects.toMatchObject({
      code: -32602,
      message: "Unknown tool: crm__drop_tables",
    });
    expect(s.only()).toMatchObject({ decision: "deny", outcome: "unknown_tool", reason: "no app lists this tool" });
    expect(s.asked.decide).toEqual([]);
  });

  it("denies before any token is minted or any byte goes upstream, with the policy's message", async () => {
    const s = stage({
      decide: () => ({ allowed: false, policy: "crm-guard", externalMessage: "Not on weekends.", reason: "weekend" }),
    });
    expect(await s.run(lookup)).toEqual({ isError: true, content: [{ type: "text", text: "Not on weekends." }] });
    expect(s.asked.tokens).toEqual([]);
    expect(s.asked.upstream).toEqual([]);
    expect(s.only()).toMatchObject({ decision: "deny", outcome: "denied", policy: "crm-guard", reason: "weekend" });
    expect(s.asked.decide[0]).toEqual({
      tool: { name: "crm__lookup", app: "crm", upstreamName: "lookup", arguments: { id: 7 } },
    });
  });

  it("refuses arguments that do not fit the tool's schema before any token is minted", async () => {
    const s = stage({ app: { checkArguments: async () => "id must be a string" } });
    expect(await s.run(lookup)).toEqual({
      isError: true,
      content: [{ type: "text", text: "Invalid arguments for crm__lookup: id must be a string" }],
    });
    expect(s.asked.tokens).toEqual([]);
    expect(s.only()).toMatchObject({ decision: "allow", outcome: "invalid_arguments", reason: "id must be a string" });
  });

  it("reports a refused exchange as the tool's authorization failing, with the identity provider's error code", async () => {
    const s = stage({
      token: () => {
        throw new ExchangeError("invalid_target", "the identity provider refused the exchange");
      },
    });
    expect(await s.run(lookup)).toEqual({
      isError: true,
      content: [
        { type: "text", text: "Authorization for crm__lookup failed: the identity provider refused the exchange" },
      ],
    });
    expect(s.asked.upstream).toEqual([]);
    expect(s.only()).toMatchObject({ outcome: "exchange_error", reason: "invalid_target" });
  });

  it("sends a tool call refused with 401 once more with a freshly exchanged token", async () => {
    let calls = 0;
    const s = stage({
      app: {
        callTool: async () =>
          ++calls === 1
            ? { result: { isError: true, content: [] }, upstreamStatus: 401 }
            : { result: { content: [] }, upstreamStatus: 200 },
      },
    });
    await s.run(lookup);
    expect(s.asked.tokens).toEqual([false, true]);
    expect(s.asked.upstream).toEqual(["token-1", "token-2"]);
    expect(s.only()).toMatchObject({ outcome: "success", token_jti: "jti-2", upstream_status: 200 });
  });

  it("exchanges once more and retries once when an upstream refuses a prompt's token (401)", async () => {
    let calls = 0;
    const s = stage({
      app: {
        getPrompt: async () => {
          if (++calls === 1) throw new UpstreamError("crm", "upstream answered HTTP 401", 401);
          return { messages: [] };
        },
      },
    });
    expect(
      await s.run({ method: "prompts/get", name: "crm__greet", args: {}, params: { name: "crm__greet" } }),
    ).toEqual({ messages: [] });
    expect(s.asked.tokens).toEqual([false, true]);
    expect(s.only()).toMatchObject({
      method: "prompts/get",
      prompt: "crm__greet",
      outcome: "success",
      token_jti: "jti-2",
    });
  });

  it("takes a second 401 on a resource read as final: -32603, audited with the upstream's status", async () => {
    const s = stage({
      app: {
        readResource: async () => {
          throw new UpstreamError("crm", "upstream answered HTTP 401", 401);
        },
      },
    });
    await expect(s.run({ method: "resources/read", uri: "crm://contacts/7" })).rejects.toMatchObject({
      code: -32603,
      message: "upstream answered HTTP 401",
    });
    expect(s.asked.tokens).toEqual([false, true]);
    expect(s.only()).toMatchObject({
      resource: "crm://contacts/7",
      app: "crm",
      outcome: "upstream_error",
      upstream_status: 401,
    });
  });

  it("answers a denied prompt with -32003 and the policy's message", async () => {
    const s = stage({
      app: { getPrompt: async () => ({ messages: [] }) },
      decide: () => ({ allowed: false, externalMessage: "No prompts for you." }),
    });
    await expect(
      s.run({ method: "prompts/get", name: "crm__greet", args: { who: "bob" }, params: {} }),
    ).rejects.toMatchObject({ code: -32003, message: "No prompts for you." });
    expect(s.only()).toMatchObject({ decision: "deny", outcome: "denied" });
  });

  it("keeps an upstream's own JSON-RPC error code for a prompt", async () => {
    const s = stage({
      app: {
        getPrompt: async () => {
          throw new UpstreamJsonRpcError("crm", -32602, "upstream error -32602: no such prompt", undefined, 200);
        },
      },
    });
    await expect(s.run({ method: "prompts/get", name: "crm__nope", args: {}, params: {} })).rejects.toMatchObject({
      code: -32602,
      message: "upstream error -32602: no such prompt",
    });
    expect(s.asked.tokens).toEqual([false]);
    expect(s.only()).toMatchObject({ outcome: "upstream_error", upstream_status: 200 });
  });

  it("answers a resource no app serves with -32602", async () => {
    const s = stage({ app: { readResource: async () => ({ contents: [] }) } });
    // The only app reads resources but takes no subscriptions.
    await expect(s.run({ method: "resources/subscribe", uri: "file:///etc/passwd" })).rejects.toMatchObject({
      code: -32602,
      message: "Unknown resource: file:///etc/passwd",
    });
    expect(s.only()).toMatchObject({ method: "resources/subscribe", decision: "deny", outcome: "unknown_resource" });
  });

  it("writes exactly one audit event for an error nobody foresaw, and lets it through", async () => {
    const s = stage({
      app: {
        callTool: async () => {
          throw new TypeError("bug");
        },
      },
    });
    await expect(s.run(lookup)).rejects.toThrow("bug");
    expect(s.only()).toMatchObject({ outcome: "upstream_error", reason: "bug" });
  });
});
