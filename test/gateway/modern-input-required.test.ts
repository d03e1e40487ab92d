// Multi round-trip requests for a 2026-07-28 agent (MCP 2026-07-28 basic/patterns/mrtr), end to
// end in workerd, with both kinds of upstream: a modern one (a v2 SDK server whose tools answer
// `input_required`), whose state the gateway wraps in its own signed state; and a session-based
// one (2025-11-25) whose elicitation during a call the gateway turns into an `input_required`
// result, holding the upstream call in the principal's object until the agent retries. Attackers
// (forged, tampered, replayed state; another principal's state; undeclared capabilities) and
// faults (an agent that never retries, an upstream that hangs) included.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../helpers/gateway-stack.js";
import { postMcp } from "../helpers/mcp.js";
import { startModernMcpServer, type ModernMcpServer } from "../helpers/modern-upstream-mcp.js";
import { startRecordingMcpServer, type RecordingMcpServer } from "../helpers/upstream-mcp.js";
import type { RunningWorker } from "../helpers/workers.js";

const MODERN = "2026-07-28";
const ELICIT = { elicitation: { form: {} } };

let modernUpstream: ModernMcpServer;
let legacyUpstream: RecordingMcpServer;
let stack: Stack;
let gatewayA: RunningWorker;
let gatewayB: RunningWorker;

beforeAll(async () => {
  modernUpstream = await startModernMcpServer();
  legacyUpstream = await startRecordingMcpServer({ roundTools: true });
  stack = await startStack({
    apps: [
      { name: "modern", type: "mcpProxy", upstream: { stream: { url: modernUpstream.url } }, timeout: "3s" },
      {
        name: "legacy",
        type: "mcpProxy",
        upstream: { stream: { url: legacyUpstream.url } },
        upstreamProtocol: "2025-11-25",
        timeout: "1500ms",
      },
    ],
  });
  gatewayA = stack.as(await stack.token("agent-a"));
  gatewayB = stack.as(await stack.token("agent-b"));
});
afterAll(async () => {
  await stack?.dispose();
  await Promise.all([modernUpstream?.close(), legacyUpstream?.close()]);
});

let nextId = 5000;

interface Reply {
  id: unknown;
  result?: Record<string, unknown> & {
    resultType?: string;
    inputRequests?: Record<string, { method: string; params: Record<string, unknown> }>;
    requestState?: string;
    content?: { text: string }[];
    isError?: boolean;
  };
  error?: { code: number; message: string; data?: Record<string, unknown> };
}

async function call(
  gateway: RunningWorker,
  name: string,
  extra: Record<string, unknown> = {},
  capabilities: Record<string, unknown> = ELICIT,
): Promise<Reply> {
  const res = await postMcp(
    gateway,
    {
      jsonrpc: "2.0",
      id: ++nextId,
      method: "tools/call",
      params: {
        name,
        arguments: name.endsWith("ask_client") ? { question: "Your name?" } : {},
        ...extra,
        _meta: {
          "io.modelcontextprotocol/protocolVersion": MODERN,
          "io.modelcontextprotocol/clientInfo": { name: "mrtr-test", version: "1.0.0" },
          "io.modelcontextprotocol/clientCapabilities": capabilities,
        },
      },
    },
    { "MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/call", "Mcp-Name": name },
  );
  expect(res.status).toBeLessThan(500);
  const id = nextId;
  const type = res.headers.get("content-type") ?? "";
  if (type.includes("text/event-stream")) {
    const text = await res.text();
    const messages = text
      .split("\n")
      .filter((line) => line.startsWith("data: "))
      .map((line) => JSON.parse(line.slice(6)) as Reply & { method?: string });
    const reply = messages.find((m) => m.method === undefined)!;
    expect(reply.id).toBe(id);
    return reply;
  }
  const reply = (await res.json()) as Reply;
  // Every answer, a held call's included, carries the id of the request it answers.
  expect(reply.id).toBe(id);
  return reply;
}

const only = (reply: Reply) => Object.entries(reply.result!.inputRequests!)[0]!;

describe("a modern upstream's input_required, passed to a 2026-07-28 agent", () => {
  it("goes to the agent with the gateway's signed state, and the retry completes upstream", async () => {
    const first = await call(gatewayA, "modern__ask_name");
    expect(first.result?.resultType).toBe("input_required");
    const [key, request] = only(first);
    expect(request.method).toBe("elicitation/create");
    // The upstream's own state is not what the agent holds.
    expect(first.result!.requestState).not.toContain("opaque+/=");
    const done = await call(gatewayA, "modern__ask_name", {
      inputResponses: { [key]: { action: "accept", content: { name: "Ada" } } },
      requestState: first.result!.requestState,
    });
    expect(done.result?.resultType).toBe("complete");
    expect(done.result?.content?.[0]?.text).toBe('accept: {"name":"Ada"}');
  });

  it("refuses a tampered, forged or other principal's state with -32602, asking nothing upstream", async () => {
    const first = await call(gatewayA, "modern__ask_name");
    const state = first.result!.requestState!;
    const [body, tag] = state.split(".");
    const flipped = `${body!.slice(0, -2)}${body!.at(-2) === "A" ? "B" : "A"}${body!.at(-1)}.${tag}`;
    const before = modernUpstream.requests.length;
    for (const forged of [flipped, `${body}.AAAA`, "not-a-state", 42]) {
      const reply = await call(gatewayA, "modern__ask_name", { inputResponses: {}, requestState: forged });
      expect(reply.error?.code).toBe(-32602);
    }
    const stolen = await call(gatewayB, "modern__ask_name", { inputResponses: {}, requestState: state });
    expect(stolen.error).toMatchObject({ code: -32602, message: expect.stringContaining("another principal") });
    const elsewhere = await call(gatewayA, "modern__echo", { requestState: state });
    expect(elsewhere.error).toMatchObject({ code: -32602, message: expect.stringContaining("another request") });
    expect(modernUpstream.requests.length).toBe(before);
  });

  it("answers -32021 when the request did not declare what the upstream asks", async () => {
    const reply = await call(gatewayA, "modern__ask_name", {}, {});
    expect(reply.error?.code).toBe(-32021);
    expect(reply.error?.data).toMatchObject({ requiredCapabilities: { elicitation: {} } });
  });
});

describe("bounds on a modern upstream's rounds", () => {
  it("passes at most 8 rounds of one request, then refuses the retry with -32602", async () => {
    let reply = await call(gatewayA, "modern__ask_forever");
    let rounds = 1;
    while (reply.result?.resultType === "input_required" && rounds < 20) {
      const [key] = only(reply);
      reply = await call(gatewayA, "modern__ask_forever", {
        inputResponses: { [key]: { action: "accept", content: { ok: true } } },
        requestState: reply.result.requestState,
      });
      rounds++;
    }
    expect(rounds).toBe(9);
    expect(reply.error).toMatchObject({ code: -32602, message: expect.stringContaining("at most 8 rounds") });
  });

  it("passes sampling through when declared", async () => {
    const first = await call(gatewayA, "modern__sample", {}, { sampling: {} });
    const [key, request] = only(first);
    expect(request.method).toBe("sampling/createMessage");
    const done = await call(
      gatewayA,
      "modern__sample",
      {
        inputResponses: { [key]: { role: "assistant", content: { type: "text", text: "4" }, model: "m" } },
        requestState: first.result!.requestState,
      },
      { sampling: {} },
    );
    expect(done.result?.content?.[0]?.text).toContain('"4"');
  });
});

describe("a session-based upstream's elicitation, as input_required for a 2026-07-28 agent", () => {
  it("holds the upstream call while the agent answers, and the retry gets the call's result", async () => {
    const first = await call(gatewayA, "legacy__ask_client");
    expect(first.result?.resultType).toBe("input_required");
    const [key, request] = only(first);
    expect(request).toMatchObject({ method: "elicitation/create", params: { message: "Your name?" } });
    const done = await call(gatewayA, "legacy__ask_client", {
      inputResponses: { [key]: { action: "accept", content: { name: "Grace" } } },
      requestState: first.result!.requestState,
    });
    expect(done.result?.resultType).toBe("complete");
    expect(done.result?.content?.[0]?.text).toBe('accept: {"name":"Grace"}');
    // Replayed: the question was answered, the call is over.
    const replay = await call(gatewayA, "legacy__ask_client", {
      inputResponses: { [key]: { action: "accept", content: { name: "Mallory" } } },
      requestState: first.result!.requestState,
    });
    expect(replay.error?.code).toBe(-32602);
  });

  it("asks again when the retry lacks the answer, and refuses another principal's retry", async () => {
    const first = await call(gatewayA, "legacy__ask_client");
    const [key] = only(first);
    const stolen = await call(gatewayB, "legacy__ask_client", {
      inputResponses: { [key]: { action: "accept", content: { name: "Eve" } } },
      requestState: first.result!.requestState,
    });
    expect(stolen.error?.code).toBe(-32602);
    const again = await call(gatewayA, "legacy__ask_client", {
      inputResponses: {},
      requestState: first.result!.requestState,
    });
    expect(again.result?.resultType).toBe("input_required");
    const [keyAgain] = only(again);
    expect(keyAgain).toBe(key);
    const done = await call(gatewayA, "legacy__ask_client", {
      inputResponses: { [key]: { action: "decline" } },
      requestState: again.result!.requestState,
    });
    expect(done.result?.content?.[0]?.text).toBe("decline: {}");
  });

  it("answers the retry with a tool error when the upstream hangs after the answer (its app's timeout), never a hang", async () => {
    const first = await call(gatewayA, "legacy__ask_then_hang");
    const [key] = only(first);
    const done = await call(gatewayA, "legacy__ask_then_hang", {
      inputResponses: { [key]: { action: "accept", content: {} } },
      requestState: first.result!.requestState,
    });
    expect(done.result?.isError).toBe(true);
    expect(done.result?.resultType).toBe("complete");
  });

  it("asks the agent at most 8 questions in one held call; the 9th is refused upstream", async () => {
    let reply = await call(gatewayA, "legacy__ask_repeatedly");
    let questions = 0;
    while (reply.result?.resultType === "input_required" && questions < 20) {
      questions++;
      const [key] = only(reply);
      reply = await call(gatewayA, "legacy__ask_repeatedly", {
        inputResponses: { [key]: { action: "accept", content: {} } },
        requestState: reply.result.requestState,
      });
    }
    expect(questions).toBe(8);
    expect(reply.result?.resultType).toBe("complete");
    expect(reply.result?.content?.[0]?.text).toContain("refused after 8");
  });

  it("refuses with -32021 when the request did not declare elicitation", async () => {
    const reply = await call(gatewayA, "legacy__ask_client", {}, {});
    expect(reply.error?.code).toBe(-32021);
  });

  it("ends a call the agent never answers at the app's timeout: the late retry gets a clear error, the upstream session serves on", async () => {
    const first = await call(gatewayA, "legacy__ask_client");
    const [key] = only(first);
    // A retry without the answer is asked again while the call is held; once the app's timeout
    // ends the call, it is refused as no longer held.
    let probe: Reply | undefined;
    for (let i = 0; i < 100; i++) {
      probe = await call(gatewayA, "legacy__ask_client", {
        inputResponses: {},
        requestState: first.result!.requestState,
      });
      if (probe.error) break;
      expect(probe.result?.resultType).toBe("input_required");
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(probe?.error?.message).toContain("no longer held");
    const late = await call(gatewayA, "legacy__ask_client", {
      inputResponses: { [key]: { action: "accept", content: { name: "Late" } } },
      requestState: first.result!.requestState,
    });
    expect(late.error?.code).toBe(-32602);
    expect(late.error?.message).toMatch(/no longer held|answered already/);
    const echo = await call(gatewayA, "legacy__echo", { arguments: { text: "still here" } });
    expect(echo.result?.content?.[0]?.text).toBe("still here");
  });
});
