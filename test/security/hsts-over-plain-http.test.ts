// Attack surface: both tiers sent Strict-Transport-Security on plain-http answers, which RFC 6797
// §7.2 forbids (an HSTS host MUST NOT include it in responses over non-secure transport: an
// attacker on the path could inject or strip it anyway, and a local http run would pin
// localhost to https). It is sent only when the request reached the tier over https.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authConfig } from "../helpers/auth-config.js";
import { GATEWAY_CLIENT, gatewayConfig } from "../helpers/gateway-stack.js";
import { startAuthWorker, startGatewayWorker, type RunningWorker } from "../helpers/workers.js";

let auth: RunningWorker;
let gateway: RunningWorker;
beforeAll(async () => {
  auth = await startAuthWorker({ config: (url) => authConfig(url) });
  gateway = await startGatewayWorker({ auth, config: gatewayConfig(auth.url), bindings: GATEWAY_CLIENT.bindings });
});
afterAll(() => Promise.all([gateway.dispose(), auth.dispose()]));

describe("Strict-Transport-Security", () => {
  it("is not sent by the auth tier over plain http, on answers or errors", async () => {
    for (const path of ["/.well-known/openid-configuration", "/status", "/no-such-endpoint", "/login"]) {
      const res = await auth.fetch(path);
      await res.body?.cancel();
      expect(res.headers.get("Strict-Transport-Security"), path).toBeNull();
      // The other security headers stay.
      expect(res.headers.get("X-Content-Type-Options"), path).toBe("nosniff");
    }
  });

  it("is not sent by the gateway tier over plain http, on answers or errors", async () => {
    for (const path of ["/.well-known/oauth-protected-resource", "/status", "/mcp", "/no-such-endpoint"]) {
      const res = await gateway.fetch(path);
      await res.body?.cancel();
      expect(res.headers.get("Strict-Transport-Security"), path).toBeNull();
      expect(res.headers.get("X-Content-Type-Options"), path).toBe("nosniff");
    }
  });

  it("is sent by both tiers when the request came over https", async () => {
    for (const worker of [auth, gateway]) {
      const res = await worker.mf.dispatchFetch("https://tier.example.test/status");
      await res.arrayBuffer();
      expect(res.headers.get("Strict-Transport-Security")).toBe("max-age=15552000; includeSubDomains");
    }
  });
});
