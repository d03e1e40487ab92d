// What both conformance specs run the suite against: the conformance upstream
// (e2e-conformance-server.ts) directly, and the gateway proxying it as its only app with no
// namespace prefix, behind a loopback front that adds the bearer token the runner does not send
// (docs/testing.md, "Conformance"). Also the suite's checks.json entries and what counts as failed.
import { startConformanceServer } from "./e2e-conformance-server.js";
import { startFront } from "./e2e-front.js";
import { startStack } from "./gateway-stack.js";
import { freePort } from "./workers.js";

/** One check of a scenario, as the runner writes it to checks.json. */
export interface Check {
  id: string;
  status: "SUCCESS" | "FAILURE" | "WARNING" | "INFO" | "SKIPPED";
  errorMessage?: string;
}

/** A scenario passes when it ran and none of its checks failed (INFO and WARNING are advice). */
export const failures = (checks: Check[] | undefined) =>
  checks === undefined
    ? ["the scenario did not run"]
    : checks.filter((c) => c.status === "FAILURE").map((c) => `${c.id}: ${c.errorMessage ?? ""}`);

export interface ConformanceTarget {
  /** The upstream's own MCP endpoint. */
  directUrl: string;
  /** The gateway's MCP endpoint, through the token-adding front. */
  gatewayUrl: string;
  close(): Promise<void>;
}

export async function startConformanceTarget(): Promise<ConformanceTarget> {
  const upstream = await startConformanceServer();
  // The front is the gateway's public address here, so browsers' Origin for it is the gateway's own.
  const frontPort = await freePort();
  const stack = await startStack({
    stream: { allowedOrigins: [`http://localhost:${frontPort}`] },
    apps: [
      {
        name: "conformance",
        type: "mcpProxy",
        toolNamespace: "",
        upstream: { stream: { url: upstream.url } },
        timeout: "5s",
      },
    ],
  });
  const front = await startFront({
    backends: [stack.gateway.url],
    port: frontPort,
    headers: { Authorization: `Bearer ${await stack.token()}` },
  });
  return {
    directUrl: upstream.url,
    gatewayUrl: `${front.url}/mcp`,
    async close() {
      await front.close();
      await stack.dispose();
      await upstream.close();
    },
  };
}
