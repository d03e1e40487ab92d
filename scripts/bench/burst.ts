// Scenario 4, an agent burst: 20 sessions, each firing 50 calls of one tool within one second
// (a call every 20 ms, sessions staggered by 1 ms), started on schedule whatever the answers do
// (an open loop, so a slow gateway shows as latency, not as a politely slower client). Sessions are
// opened (initialize, tools/list) before the burst, as clients do; their token caches start cold.
//
// Token exchanges per tool call come from the gateway's own audit events (`token_cached: false`
// marks a call that needed a fresh exchange), read from the worker log.
import { setTimeout as sleep } from "node:timers/promises";
import { httpClient, openLoop } from "./load.js";
import { callTool, openMcpSession } from "./mcp-client.js";
import { ms, rate, verdict, type ScenarioResult } from "./report.js";
import { TOOLS, type BenchStack } from "./stack.js";

const SESSIONS = 20;
const CALLS_PER_SESSION = 50;
const WINDOW_MS = 1_000;

export async function benchBurst(
  stack: BenchStack,
  warmCapacityPerSecond: number | undefined,
): Promise<{ sessionIds: string[]; result: ScenarioResult }> {
  const http = httpClient(SESSIONS * CALLS_PER_SESSION);
  const token = await stack.agentToken();
  const sessions = await Promise.all(
    Array.from({ length: SESSIONS }, () => openMcpSession(http, `${stack.gatewayUrl}/mcp`, token)),
  );
  const offsets: number[] = [];
  const owners: number[] = [];
  for (let call = 0; call < CALLS_PER_SESSION; call++) {
    for (let s = 0; s < SESSIONS; s++) {
      offsets.push((call * WINDOW_MS) / CALLS_PER_SESSION + s);
      owners.push(s);
    }
  }
  stack.audit.reset();
  const burst = await openLoop(offsets, (i) => callTool(http, sessions[owners[i]!]!, TOOLS.warm, `burst ${i}`));
  http.close();
  // Audit lines reach Node through workerd's stdout, shortly after the answers.
  for (let waited = 0; stack.audit.counts().calls < burst.requests && waited < 3_000; waited += 50) await sleep(50);
  const audit = stack.audit.counts();
  const calls = SESSIONS * CALLS_PER_SESSION;
  const exchangesPerCall = audit.exchanges / calls;
  const offered = (calls / WINDOW_MS) * 1000;
  return {
    sessionIds: sessions.map((s) => s.id),
    result: {
      rows: [
        {
          scenario: "4 agent burst",
          measure: `${SESSIONS} sessions × ${CALLS_PER_SESSION} calls in ${WINDOW_MS / 1000} s`,
          result: `${rate(burst.perSecond)}, ${ms(burst.p50Ms)} / ${ms(burst.p99Ms)}`,
          limit: `offered ${rate(offered)}${warmCapacityPerSecond ? `; warm capacity ${rate(warmCapacityPerSecond)} (3)` : ""}`,
          ratio: `${burst.errors} errors`,
          target: { text: "0 errors", verdict: verdict(burst.errors === 0) },
        },
        {
          scenario: "",
          measure: "token exchanges per tool call",
          result: `${exchangesPerCall.toFixed(3)} (${audit.exchanges} for ${calls} calls)`,
          limit: `1 per session = ${(SESSIONS / calls).toFixed(3)}`,
          target: { text: "≤ 0.1", verdict: verdict(exchangesPerCall <= 0.1 && audit.calls === calls) },
        },
      ],
      data: { burst, audit, exchangesPerCall, offeredPerSecond: offered },
      notes: [
        "4: exchanges counted from the gateway's audit events (token_cached: false), every one of the 1,000 calls accounted for.",
      ],
    },
  };
}
