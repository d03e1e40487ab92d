// The stack as `npm run dev` composes it (scripts/dev-stack.ts): config/auth.dev.yaml and
// config/gateway.dev.yaml, the demo upstreams and audit collector (scripts/demo-upstreams.ts), the
// Redis bridge, and both tiers in workerd — here through Miniflare, from the bundles the global
// setup built, on free ports, so that several test files can run one each. Clients reach it at
// http://localhost:<port> exactly as they reach `npm run dev`. The gateway's Durable Object storage
// is a directory of the stack's own, so its runtime can be replaced in the middle of a session;
// with `authInstances: 2` the auth tier is two runtimes behind a round-robin front.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDemoUpstreams, type DemoUpstreams } from "../../scripts/demo-upstreams.js";
import {
  devAuditToken,
  devClientSecrets,
  devConfigs,
  devStackInfo,
  type DevPorts,
  type DevStackInfo,
} from "../../scripts/dev-stack.js";
import { startFront, type Front } from "./e2e-front.js";
import { freePort, startAuthWorker, startGatewayWorker, type RunningWorker } from "./workers.js";

export interface E2eStack {
  ports: DevPorts;
  /** What `npm run dev` would print and write for clients (URLs, demo user, machine agent). */
  info: DevStackInfo;
  demo: DemoUpstreams;
  /** The auth tier's runtimes (one, or the two behind `front`). */
  authInstances: RunningWorker[];
  front?: Front;
  gateway: RunningWorker;
  /** Stops the gateway's runtime and starts a new one on the same port and storage. */
  replaceGateway(): Promise<void>;
  dispose(): Promise<void>;
}

export interface E2eStackOptions {
  authInstances?: 1 | 2;
}

export async function startE2eStack(options: E2eStackOptions = {}): Promise<E2eStack> {
  const [gateway, auth, mcp, rest, audit, agent] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const ports: DevPorts = { gateway, auth, mcp, rest, audit, agent };
  const issuer = `http://localhost:${ports.auth}`;
  const configs = devConfigs(ports);
  const secrets = devClientSecrets();
  const auditToken = devAuditToken();
  const info = devStackInfo(ports, secrets, auditToken);
  const storage = mkdtempSync(join(tmpdir(), "e2e-gateway-"));

  const demo = await startDemoUpstreams({
    issuer,
    mcpPort: ports.mcp,
    restPort: ports.rest,
    auditPort: ports.audit,
    auditToken,
  });
  const authOptions = { config: configs.auth, bindings: secrets };
  let authInstances: RunningWorker[];
  let front: Front | undefined;
  if (options.authInstances === 2) {
    authInstances = await Promise.all([startAuthWorker(authOptions), startAuthWorker(authOptions)]);
    front = await startFront({ port: ports.auth, backends: authInstances.map((instance) => instance.url) });
  } else {
    authInstances = [await startAuthWorker({ ...authOptions, port: ports.auth })];
  }
  // The gateway's AUTH binding reaches the auth tier where clients do: the front, or the one runtime.
  const authForGateway: RunningWorker = front
    ? { ...authInstances[0]!, url: `http://127.0.0.1:${ports.auth}` }
    : authInstances[0]!;
  const startGateway = () =>
    startGatewayWorker({
      auth: authForGateway,
      config: configs.gateway,
      port: ports.gateway,
      persistDir: storage,
      bindings: { GATEWAY_CLIENT_SECRET: secrets.GATEWAY_CLIENT_SECRET, AUDIT_SINK_AUTH: `Bearer ${auditToken}` },
    });

  const stack: E2eStack = {
    ports,
    info,
    demo,
    authInstances,
    ...(front ? { front } : {}),
    gateway: await startGateway(),
    async replaceGateway() {
      await stack.gateway.dispose();
      stack.gateway = await startGateway();
    },
    async dispose() {
      await stack.gateway.dispose();
      await Promise.all(authInstances.map((instance) => instance.dispose().catch(() => undefined)));
      await front?.close();
      await demo.close();
      rmSync(storage, { recursive: true, force: true });
    },
  };
  return stack;
}
