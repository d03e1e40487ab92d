// Scenario 3, a tools/call through the gateway (bearer check, session Durable Object, policy,
// token exchange or cached token, forward, audit) against the fast local upstream, beside the same
// call made directly to that upstream, beside the platform's floors (a worker alone; a worker, a
// Durable Object and the same upstream, with no gateway code), and the same call in MCP 2026-07-28
// (no session: the principal's context object). Two apps front the same upstream: `warm` reuses
// exchanged tokens (cache: true), `cold` exchanges on every call.
import { closedLoop, httpClient, pairedSerial, type HttpClient, type LoadResult, type PairedResult } from "./load.js";
import { callTool, modernAgent, openMcpSession, type McpSession } from "./mcp-client.js";
import { ms, msAdded, rate, verdict, type Row, type ScenarioResult } from "./report.js";
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

function checkPair(result: PairedResult, what: string): PairedResult {
  check(result.a, what);
  check(result.b, what);
  return result;
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
  await closedLoop(1, 200, floor("none"));
  await closedLoop(1, 200, floor("rpc"));
  await closedLoop(1, 200, floor("forward"));
  const directCall = (i: number) => callTool(http, direct[0]!, "echo", `call ${i}`);
  const warmCall = (i: number) => callTool(http, one[0]!, TOOLS.warm, `call ${i}`);
  const coldCall = (i: number) => callTool(http, one[0]!, TOOLS.cold, `call ${i}`);
  // Each figure is paired call by call with what it is compared with (a, then b, SERIAL_CALLS
  // times): what b adds is the median of the pairs' differences, and each side's p99 is its own.
  const floorNone = checkPair(await pairedSerial(SERIAL_CALLS, directCall, floor("none")), "platform floor (worker)");
  const floorRpc = checkPair(await pairedSerial(SERIAL_CALLS, directCall, floor("rpc")), "platform floor (object)");
  const floorForward = checkPair(
    await pairedSerial(SERIAL_CALLS, directCall, floor("forward")),
    "platform floor (forward)",
  );
  stack.audit.reset();
  const warm = checkPair(await pairedSerial(SERIAL_CALLS, directCall, warmCall), "warm calls");
  const warmExchanges = stack.audit.counts().exchanges;
  const ownWork = checkPair(await pairedSerial(SERIAL_CALLS, floor("forward"), warmCall), "warm calls over the floor");
  // The same warm call in both eras, paired call by call: 2025-11-25 (a) against 2026-07-28 (b).
  const modernCall = (i: number) => callTool(http, modern[0]!, TOOLS.warm, `call ${i}`);
  const eras = checkPair(await pairedSerial(SERIAL_CALLS, warmCall, modernCall), "warm calls, both eras");
  stack.audit.reset();
  const modernParallel = check(
    await run(http, modern, TOOLS.warm, PARALLEL, PARALLEL_CALLS),
    "warm calls in parallel, 2026-07-28",
  );
  const modernExchanges = stack.audit.counts().exchanges / PARALLEL_CALLS;
  const cold = checkPair(await pairedSerial(COLD_CALLS, directCall, coldCall), "cold calls");
  const directParallel = check(await run(http, direct, "echo", PARALLEL, PARALLEL_CALLS), "direct calls in parallel");
  const warmParallel = check(await run(http, sessions, TOOLS.warm, PARALLEL, PARALLEL_CALLS), "warm calls in parallel");
  http.close();

  const both = (result: LoadResult) => `${ms(result.p50Ms)} / ${ms(result.p99Ms)}`;
  /** A serial figure beside the direct call it was paired with: each side's p50 / p99, and what it adds. */
  const serialRow = (measure: string, paired: PairedResult): Row => ({
    scenario: "",
    measure,
    result: both(paired.b),
    limit: `direct ${both(paired.a)}`,
    ratio: `${msAdded(paired.addedP50Ms)} at p50`,
  });
  const rows: Row[] = [
    { ...serialRow("direct call to the upstream (no worker)", warm), result: both(warm.a), limit: "", ratio: "" },
    serialRow("floor: worker alone → answer", floorNone),
    serialRow("floor: worker → Durable Object → answer", floorRpc),
    serialRow("floor: worker → Durable Object → fetch upstream → answer", floorForward),
    {
      ...serialRow("tools/call, warm token cache, serial", warm),
      target: { text: "added p50 ≤ 1 ms", verdict: verdict(warm.addedP50Ms <= 1) },
    },
    {
      scenario: "",
      measure: "gateway's own work: warm tools/call above the Durable Object → upstream floor",
      result: `${msAdded(ownWork.addedP50Ms)} at p50 (median of ${SERIAL_CALLS} pairs)`,
      limit: `floor ${both(ownWork.a)}; gateway ${both(ownWork.b)}`,
      ratio: `p50 ${(ownWork.b.p50Ms / ownWork.a.p50Ms).toFixed(2)}× the floor's`,
      target: { text: "p50 ≤ 0.3 ms", verdict: verdict(ownWork.addedP50Ms <= 0.3) },
    },
    {
      scenario: "",
      measure: "tools/call, warm, 2026-07-28 (principal's context) beside the 2025-11-25 session, serial",
      result: both(eras.b),
      limit: `2025-11-25 ${both(eras.a)}`,
      ratio: `${msAdded(eras.addedP50Ms)} at p50 (median of ${SERIAL_CALLS} pairs)`,
      target: {
        text: "not slower: added p50 ≤ 10 % of the session's",
        verdict: verdict(eras.addedP50Ms <= eras.a.p50Ms * 0.1),
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
    serialRow("tools/call, cold (exchange on every call), serial", cold),
    {
      scenario: "",
      measure: `tools/call, warm, ${PARALLEL} sessions in parallel`,
      result: `${rate(warmParallel.perSecond)}, ${both(warmParallel)}`,
      limit: `direct ${rate(directParallel.perSecond)}, ${both(directParallel)}`,
      ratio: `${((warmParallel.perSecond / directParallel.perSecond) * 100).toFixed(0)} % of direct`,
    },
  ];
  rows[0]!.scenario = "3 gateway tool call";
  return {
    figures: { warmPerSecond: warmParallel.perSecond, direct: warm.a },
    result: {
      rows,
      data: {
        floorNone,
        floorRpc,
        floorForward,
        warm,
        ownWork,
        warmExchangesPerCall: warmExchanges / SERIAL_CALLS,
        eras,
        modernParallel,
        modernExchangesPerCall: modernExchanges,
        cold,
        directParallel,
        warmParallel,
      },
      notes: [
        "3: one agent session, calls one after the other (latency), then 16 sessions with one call in flight each (throughput). Serial figures are paired call by call with what they are compared with (that call, then this one): each side's p50 / p99 is printed, and what a figure adds is the median of the pairs' differences, never a difference of percentiles. The upstream answers JSON from node:http in this process. The floors are what a Durable Object design pays here without any gateway code: a worker answering alone, a worker asking an object, and that object forwarding the call upstream with fetch. The gateway's own work is measured above the last.",
      ],
    },
  };
}
