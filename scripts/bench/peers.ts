// Scenario 8, peers in the same run (npm run bench -- --peers): the place for the figures that put
// each tier beside another implementation of the same job on this machine, so that every figure in
// docs/performance.md is a ratio against a peer or a limit. Not measured yet: each peer needs its
// devDependency and a worker (or process) started beside the tiers in stack.ts, and reports rows
// here, each with the figure of this project it is compared with.
import type { Row, ScenarioResult } from "./report.js";
import type { BenchStack } from "./stack.js";

/** Each peer, and which of this project's figures (scenario and measurement) it sits beside. */
export const PEERS = [
  { peer: "@cloudflare/workers-oauth-provider, Miniflare's local KV", beside: "2: code, refresh and token exchange" },
  { peer: "@cloudflare/workers-oauth-provider, in-memory KV", beside: "2: auth worker CPU per request" },
  { peer: "oidc-provider (panva), JWT access tokens", beside: "2: client credentials" },
  { peer: "agents' McpAgent serving the same echo tool", beside: "3: warm tools/call, latency and throughput" },
] as const;

export function benchPeers(_stack: BenchStack): Promise<ScenarioResult> {
  const rows: Row[] = PEERS.map(({ peer, beside }, i) => ({
    scenario: i === 0 ? "8 peers" : "",
    measure: peer,
    result: "not measured: not built yet",
    limit: beside,
  }));
  return Promise.resolve({
    rows,
    data: { measured: false },
    notes: [
      "8: peers are not part of this bench yet (docs/performance.md, Peers); every figure above is against a limit.",
    ],
  });
}
