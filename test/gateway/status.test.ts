import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GATEWAY_CLIENT, gatewayConfig } from "../helpers/gateway-stack.js";
import { startAuthWorker, startGatewayWorker, type RunningWorker } from "../helpers/workers.js";

describe("gateway tier GET /status", () => {
  let auth: RunningWorker;
  let gateway: RunningWorker;
  let alone: RunningWorker;
  beforeAll(async () => {
    auth = await startAuthWorker();
    [gateway, alone] = await Promise.all([
      startGatewayWorker({ auth, config: gatewayConfig(auth.url), bindings: GATEWAY_CLIENT.bindings }),
      startGatewayWorker({ config: gatewayConfig(auth.url), bindings: GATEWAY_CLIENT.bindings }),
    ]);
  });
  afterAll(() => Promise.all([gateway.dispose(), alone.dispose(), auth.dispose()]));

  it("answers 200 with tier, version and the auth tier reached through the AUTH binding", async () => {
    const res = await gateway.fetch("/status");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      status: "ok",
      tier: "gateway",
      version: expect.any(String),
      config: expect.stringMatching(/^sha256:[\w-]{16}$/),
      auth: "ok",
      policy: { defaultDecision: "allow", bundled: expect.any(Array), policies: [] },
    });
  });

  it("stays up but reports degraded when the auth tier does not answer", async () => {
    const res = await alone.fetch("/status");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "degraded", auth: "unreachable" });
  });

  it("answers an unknown path with a JSON-RPC shaped 404", async () => {
    const res = await gateway.fetch("/nope");
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32000 } });
  });
});

describe("gateway tier with a bad configuration", () => {
  let gateway: RunningWorker;
  beforeAll(async () => {
    gateway = await startGatewayWorker({
      config:
        "mcpProvider:\n  resource: http://gateway.test/mcp\n  authorization: { oauth: { servers: [{ issuer: http://auth.test, tokenValidation: { expectedAudiences: [x] } }] } }\n  transports:\n    stream:\n      session: { timeout: soon }\n      maxRequestBytes: lots\n",
    });
  });
  afterAll(() => gateway.dispose());

  it("answers /status and /mcp with 500 naming each bad field", async () => {
    for (const res of [await gateway.fetch("/status"), await gateway.fetch("/mcp", { method: "POST", body: "{}" })]) {
      expect(res.status).toBe(500);
      const body = (await res.json()) as { error: { data: { issues: { path: string }[] } } };
      expect(body.error.data.issues.map((i) => i.path).sort()).toEqual([
        "mcpProvider.transports.stream.maxRequestBytes",
        "mcpProvider.transports.stream.session.timeout",
      ]);
    }
  });
});
