// A client_id that is a URL makes the auth tier fetch it (client ID metadata documents). The dev
// configuration (config/auth.dev.yaml, what `npm run dev` runs) must not turn that into a way to
// make the tier request any port on the machine it runs on — Redis's own, an admin API —
// but only the origin where `npm run agent` serves its document
// (clientIdMetadataDocuments.allowedLoopbackOrigins, http://127.0.0.1:<AGENT_PORT>).
// Whether a client_id resolved shows at the token endpoint (test/helpers/client-probe.ts).
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { devClientSecrets, devConfigs, type DevPorts } from "../../scripts/dev-stack.js";
import { KNOWN_CLIENT, tokenEndpointAnswer, UNKNOWN_CLIENT } from "../helpers/client-probe.js";
import { freePort, sharedRedis, startAuthWorker, type RunningWorker } from "../helpers/workers.js";

const REDIRECT = "http://127.0.0.1:9/callback";

/** A loopback HTTP server that serves a valid metadata document at /client-metadata.json and counts requests. */
async function documentServer(port = 0): Promise<{ origin: string; hits: () => number; close(): Promise<void> }> {
  let hits = 0;
  const server: Server = createServer((req, res) => {
    hits++;
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    res.writeHead(200, { "Content-Type": "application/json" }).end(
      JSON.stringify({
        client_id: `${origin}${req.url}`,
        client_name: "Local agent",
        redirect_uris: [REDIRECT],
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
        token_endpoint_auth_method: "none",
      }),
    );
  });
  server.listen(port, "127.0.0.1");
  await once(server, "listening");
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits: () => hits,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

let ports: DevPorts;
let auth: RunningWorker;
let agent: Awaited<ReturnType<typeof documentServer>>;
let internal: Awaited<ReturnType<typeof documentServer>>;

beforeAll(async () => {
  const [gateway, authPort, mcp, rest, audit, agentPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  ports = { gateway, auth: authPort, mcp, rest, audit, agent: agentPort };
  [agent, internal] = await Promise.all([documentServer(ports.agent), documentServer()]);
  auth = await startAuthWorker({ config: devConfigs(ports).auth, port: ports.auth, bindings: devClientSecrets() });
});
afterAll(async () => {
  await auth?.dispose();
  await Promise.all([agent?.close(), internal?.close()]);
});

describe("the dev auth tier and loopback client_id URLs", () => {
  it("fetches the metadata document of the agent's own origin", async () => {
    expect(await tokenEndpointAnswer(auth, `${agent.origin}/client-metadata.json`, REDIRECT)).toEqual(KNOWN_CLIENT);
    expect(agent.hits()).toBe(1);
  });

  it("refuses a client_id on another loopback port without fetching it", async () => {
    for (const host of ["127.0.0.1", "localhost"]) {
      const clientId = `http://${host}:${new URL(internal.origin).port}/client-metadata.json`;
      expect(await tokenEndpointAnswer(auth, clientId, REDIRECT), clientId).toEqual(UNKNOWN_CLIENT);
    }
    expect(internal.hits()).toBe(0);
  });

  it("refuses a client_id on Redis's port, the Redis bridge's or the tier's own", async () => {
    const redisPort = new URL(process.env.REDIS_URL ?? "redis://127.0.0.1:6379").port || "6379";
    for (const clientId of [
      `http://127.0.0.1:${redisPort}/client-metadata.json`,
      `${new URL(sharedRedis().url).origin}/client-metadata.json`,
      `http://127.0.0.1:${ports.auth}/status`,
      `http://[::1]:${ports.agent}/client-metadata.json`,
      `https://127.0.0.1:${ports.agent}/client-metadata.json`,
    ]) {
      expect(await tokenEndpointAnswer(auth, clientId, REDIRECT), clientId).toEqual(UNKNOWN_CLIENT);
    }
  });
});
