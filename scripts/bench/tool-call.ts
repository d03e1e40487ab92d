// Scenario 3, a tools/call through the gateway (bearer check, session Durable Object, policy,
// token exchange or cached token, forward, audit) against the fast local upstream, beside the same
// call made directly to that upstream, and the same call in MCP 2026-07-28 (no session: the
// principal's context object). The difference is what the gateway adds. Two apps front the
// same upstream: `warm` reuses exchanged tokens (cache: true), `cold` exchanges on every call.
import { closedLoop, httpClient, type HttpClient, type LoadResult } from "./load.js";
import { callTool, modernAgent, openMcpSession, type McpSession } from "./mcp-client.js";
import { ms, rate, verdict, type Row, type ScenarioResult } from "./report.js";
import { TOOLS, type BenchStack } from "./stack.js";

const SERIAL_CALLS = 1_000;
const COLD_CALLS = 400;
const PARALLEL = 16;
const PARALLEL_CALLS = 3_000;

function run(
  http: HttpClient,
  sessions: McpSession[],
  tool: string,
  concurrency: number,
  n: number,
): Promise<LoadResult> {
  return closedLoop(concurrency, n, (i) => callTool(http, sessions[i % sessions.length]!, tool, `call ${i}`));
}

function check(result: LoadResult, what: string): LoadResult {
  if (result.errors)
    throw new Error(`${what}: ${result.errors} of ${result.requests} calls failed, first: ${result.firstError}`);
  return result;
}

export interface ToolCallFigures {
  warmPerSecond: number;
  direct: LoadResult;
}

export async function benchToolCall(stack: BenchStack): Promise<{ figures: ToolCallFigures; result: ScenarioResult }> {
  const http = httpClient(64);
  const token = await stack.agentToken();
  const gateway = `${stack.gatewayUrl}/mcp`;
  const direct = [await openMcpSession(http, stack.upstream.url, token)];
  const sessions = await Promise.all(Array.from({ length: PARALLEL }, () => openMcpSession(http, gateway, token)));
  const one = sessions.slice(0, 1);
  const modern = [modernAgent(gateway, token)];

  // Warm-up: JIT on every path, connection pools, the sessions' upstream sessions and first tokens.
  await run(http, direct, "echo", 4, 300);
  await run(http, sessions, TOOLS.warm, PARALLEL, 400);
  await run(http, one, TOOLS.cold, 1, 50);
  await run(http, modern, TOOLS.warm, 4, 300);

  // The platform's floor (bench-worker.ts): the request reaches a worker, which asks a Durable
  // Object and answers, with no gateway code; and the same with the object forwarding the call
  // to the upstream first.
  const floor = (kind: string) => async (i: number) => {
    const body = JSON.stringify({
      jsonrpc: "2.0",
      id: i,
      method: "tools/call",
      params: { name: "echo", arguments: { text: `floor ${i}` } },
    });
    const answer = await http.send(
      "POST",
      `${stack.benchUrl}/floor/${kind}`,
      {
        "Content-Type": "application/json",
        "Mcp-Session-Id": "floor",
        "X-Upstream": stack.upstream.url,
        Authorization: `Bearer ${token}`,
      },
      body,
    );
    return answer.status === 200 ? undefined : `HTTP ${answer.status}`;
  };
  await closedLoop(1, 200, floor("rpc"));
  await closedLoop(1, 200, floor("forward"));
  const floorRpc = check(await closedLoop(1, SERIAL_CALLS, floor("rpc")), "platform floor");
  const floorForward = check(await closedLoop(1, SERIAL_CALLS, floor("forward")), "platform floor (forward)");
  const directSerial = check(await run(http, direct, "echo", 1, SERIAL_CALLS), "direct calls");
  stack.audit.reset();
  const warm = check(await run(http, one, TOOLS.warm, 1, SERIAL_CALLS), "warm calls");
  const warmExchanges = stack.audit.counts().exchanges;
  stack.audit.reset();
  const modernWarm = check(await run(http, modern, TOOLS.warm, 1, SERIAL_CALLS), "warm calls, 2026-07-28");
  const modernParallel = check(
    await run(http, modern, TOOLS.warm, PARALLEL, PARALLEL_CALLS),
    "warm calls in parallel, 2026-07-28",
  );
  const modernExchanges = stack.audit.counts().exchanges / (SERIAL_CALLS + PARALLEL_CALLS);
  const cold = check(await run(http, one, TOOLS.cold, 1, COLD_CALLS), "cold calls");
  const directParallel = check(await run(http, direct, "echo", PARALLEL, PARALLEL_CALLS), "direct calls in parallel");
  const warmParallel = check(await run(http, sessions, TOOLS.warm, PARALLEL, PARALLEL_CALLS), "warm calls in parallel");
  http.close();

  const addedP50 = warm.p50Ms - directSerial.p50Ms;
  const addedP99 = warm.p99Ms - directSerial.p99Ms;
  /** A serial figure beside the direct call, with what it adds (p50, p99). */
  const serialRow = (measure: string, result: LoadResult): Row => ({
    scenario: "",
    measure,
    result: `${ms(result.p50Ms)} / ${ms(result.p99Ms)}`,
    limit: `direct ${ms(directSerial.p50Ms)} / ${ms(directSerial.p99Ms)}`,
    ratio: `+${ms(result.p50Ms - directSerial.p50Ms)} / +${ms(result.p99Ms - directSerial.p99Ms)}`,
  });
  const rows: Row[] = [
    {
      ...serialRow("tools/call, warm token cache, serial", warm),
      scenario: "3 gateway tool call",
      target: { text: "added p50 ≤ 1 ms, p99 ≤ 5 ms", verdict: verdict(addedP50 <= 1 && addedP99 <= 5) },
    },
    {
      ...serialRow("tools/call, warm, 2026-07-28 (principal's context), serial", modernWarm),
      target: {
        text: "p50 ≤ the 2025-11-25 session's + 10 %",
        verdict: verdict(modernWarm.p50Ms <= warm.p50Ms * 1.1),
      },
    },
    {
      scenario: "",
      measure: `tools/call, warm, 2026-07-28, ${PARALLEL} in flight on one principal`,
      result: `${rate(modernParallel.perSecond)}, ${ms(modernParallel.p50Ms)} / ${ms(modernParallel.p99Ms)}; ${modernExchanges.toFixed(3)} exchanges per call`,
      limit: `direct ${rate(directParallel.perSecond)}`,
      ratio: `${((modernParallel.perSecond / directParallel.perSecond) * 100).toFixed(0)} % of direct`,
      target: { text: "≤ 0.1 exchanges per call", verdict: verdict(modernExchanges <= 0.1) },
    },
    serialRow("platform floor: worker → Durable Object → answer", floorRpc),
    serialRow("platform floor: … → fetch upstream → answer", floorForward),
    serialRow("tools/call, cold (exchange on every call), serial", cold),
    {
      scenario: "",
      measure: `tools/call, warm, ${PARALLEL} sessions in parallel`,
      result: `${rate(warmParallel.perSecond)}, ${ms(warmParallel.p50Ms)} / ${ms(warmParallel.p99Ms)}`,
      limit: `direct ${rate(directParallel.perSecond)}, ${ms(directParallel.p50Ms)} / ${ms(directParallel.p99Ms)}`,
      ratio: `${((warmParallel.perSecond / directParallel.perSecond) * 100).toFixed(0)} % of direct`,
    },
  ];
  return {
    figures: { warmPerSecond: warmParallel.perSecond, direct: directSerial },
    result: {
      rows,
      data: {
        floorRpc,
        floorForward,
        directSerial,
        warm,
        warmExchangesPerCall: warmExchanges / SERIAL_CALLS,
        modernWarm,
        modernParallel,
        modernExchangesPerCall: modernExchanges,
        cold,
        directParallel,
        warmParallel,
      },
      notes: [
        "3: one agent session, calls one after the other (latency), then 16 sessions with one call in flight each (throughput); added = gateway percentile minus direct percentile. The upstream answers JSON from node:http in this process. The platform floor is what a Durable Object design pays here without any gateway code: a worker asking an object, and that object forwarding the call upstream with fetch.",
      ],
    },
  };
}
