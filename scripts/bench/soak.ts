// Scenario 9, memory soak (npm run bench -- --soak, a few minutes): does the gateway worker give
// back what a tool call and a session take? 50,000 warm tools/calls on 10 sessions, as many calls
// through the platform floor (no gateway code), then 5,000 sessions opened, called once and closed
// (DELETE), sampling after each round the workerd process's resident memory (/proc, all workers of
// the stack together) and the gateway isolate's JavaScript heap after a full garbage collection
// (HeapProfiler.collectGarbage and Runtime.getHeapUsage through workerd's inspector). Memory that
// grows with the heap is held by JavaScript objects; memory that grows beside a flat heap is held
// by the runtime (native buffers, storage, the allocator keeping freed pages).
// The target (issue: memory flat): RSS within 10 % of its value after warm-up, for the calls and
// for the sessions, each against its own warm-up. Sizes are parameters so that a test runs it small.
import { setTimeout as sleep } from "node:timers/promises";
import { closedLoop, httpClient, type HttpClient } from "./load.js";
import { callTool, openMcpSession, type McpSession } from "./mcp-client.js";
import { gatewayHeapProbe, gatewayPoke, kib, mib, rssBytes, workerdPid } from "./process-probe.js";
import { verdict, type Row, type ScenarioResult } from "./report.js";
import { TOOLS, type BenchStack } from "./stack.js";

export interface SoakSize {
  /** Sessions the calls go to (and sessions opened at once while churning). */
  sessions: number;
  warmupCalls: number;
  rounds: number;
  callsPerRound: number;
  /** Sessions opened and closed before the churn's reference sample (its warm-up). */
  churnWarmup: number;
  churnRounds: number;
  sessionsPerChurnRound: number;
  /** Idle pause before the churn, to see whether the runtime gives memory back. */
  idleMs: number;
}

/** What the target names: 50,000 calls on 10 sessions; 5,000 sessions opened and closed. */
export const SOAK_SIZE: SoakSize = {
  sessions: 10,
  warmupCalls: 2_000,
  rounds: 5,
  callsPerRound: 10_000,
  churnWarmup: 200,
  churnRounds: 5,
  sessionsPerChurnRound: 1_000,
  idleMs: 10_000,
};

interface Sample {
  label: string;
  calls: number;
  sessionsOpened: number;
  rss: number;
  heapUsed: number;
}

async function closeSession(http: HttpClient, session: McpSession): Promise<void> {
  const answer = await http.send("DELETE", session.url, session.headers);
  if (answer.status >= 300) throw new Error(`DELETE session failed: ${answer.status} ${answer.body}`);
}

const perUnit = (bytes: number, n: number) => kib(bytes / Math.max(1, n));
const over = (value: number, reference: number) => `${((value / reference - 1) * 100).toFixed(1)} % over warm`;

export async function benchSoak(
  stack: BenchStack,
  inspectorPort: number,
  log: (line: string) => void,
  size: SoakSize = SOAK_SIZE,
): Promise<ScenarioResult> {
  const pid = workerdPid();
  const http = httpClient(size.sessions);
  const heap = await gatewayHeapProbe(inspectorPort, gatewayPoke(http, stack.gatewayUrl));
  const token = await stack.agentToken();
  const gateway = `${stack.gatewayUrl}/mcp`;
  const sessions = await Promise.all(Array.from({ length: size.sessions }, () => openMcpSession(http, gateway, token)));
  const samples: Sample[] = [];
  let calls = 0;
  let failedCalls = 0;
  let sessionsOpened = size.sessions;
  const sample = async (label: string) => {
    const heapUsed = await heap.heapAfterGc();
    const s = { label, calls, sessionsOpened, rss: rssBytes(pid), heapUsed };
    samples.push(s);
    log(`  ${label}: ${calls} calls, ${sessionsOpened} sessions; RSS ${mib(s.rss)}, gateway heap ${mib(heapUsed)}`);
    return s;
  };
  const callRound = async (n: number) => {
    const result = await closedLoop(size.sessions, n, (i) =>
      callTool(http, sessions[i % size.sessions]!, TOOLS.warm, `soak ${calls + i}`),
    );
    // A rare store timeout on a loaded machine (the tool token's exchange) is counted, not fatal.
    if (result.errors > n / 100) throw new Error(`soak calls failed: ${result.firstError}`);
    if (result.errors) log(`  ${result.errors} of ${n} calls failed: ${result.firstError}`);
    failedCalls += result.errors;
    calls += n;
  };
  const churn = async (n: number) => {
    let failed = 0;
    for (let done = 0; done < n; done += size.sessions) {
      const batch = Math.min(size.sessions, n - done);
      const opened = await Promise.all(Array.from({ length: batch }, () => openMcpSession(http, gateway, token)));
      const errors = (await Promise.all(opened.map((s, j) => callTool(http, s, TOOLS.warm, `churn ${j}`)))).filter(
        (e) => e !== undefined,
      );
      failed += errors.length;
      failedCalls += errors.length;
      if (failed > n / 100 + 1) throw new Error(`churn calls failed: ${errors[0]}`);
      await Promise.all(opened.map((s) => closeSession(http, s)));
      sessionsOpened += batch;
    }
  };

  try {
    await callRound(size.warmupCalls); // warm-up: JIT, pools, every session's upstream session and token
    const warm = await sample("after warm-up");
    let mid = warm;
    for (let round = 1; round <= size.rounds; round++) {
      await callRound(size.callsPerRound);
      const s = await sample(`calls round ${round}`);
      if (round === Math.ceil(size.rounds / 2)) mid = s;
    }
    const afterCalls = samples.at(-1)!;
    const callsMade = afterCalls.calls - warm.calls;
    // The platform alone, as many calls again: the bench worker asks a Durable Object that forwards
    // to the same upstream (scenario 3's floor), with no gateway code and no audit line.
    const floor = await closedLoop(size.sessions, callsMade, async (i) => {
      const answer = await http.send(
        "POST",
        `${stack.benchUrl}/floor/forward`,
        {
          "Content-Type": "application/json",
          "Mcp-Session-Id": `soak-${i % size.sessions}`,
          "X-Upstream": stack.upstream.url,
          Authorization: `Bearer ${token}`,
        },
        JSON.stringify({
          jsonrpc: "2.0",
          id: i,
          method: "tools/call",
          params: { name: "echo", arguments: { text: "f" } },
        }),
      );
      return answer.status === 200 ? undefined : `HTTP ${answer.status}`;
    });
    if (floor.errors) throw new Error(`soak floor calls failed: ${floor.firstError}`);
    const afterFloor = await sample(`floor: ${callsMade} calls`);
    await sleep(size.idleMs);
    const idle = await sample(`idle ${size.idleMs / 1000} s`);
    await churn(size.churnWarmup);
    const churnWarm = await sample(`churn warm-up (${size.churnWarmup} sessions)`);
    for (let round = 1; round <= size.churnRounds; round++) {
      await churn(size.sessionsPerChurnRound);
      await sample(`churn round ${round}`);
    }
    const last = samples.at(-1)!;
    const churned = last.sessionsOpened - churnWarm.sessionsOpened;
    const churnMid = samples.find((s) => s.label === `churn round ${Math.ceil(size.churnRounds / 2)}`) ?? churnWarm;
    // The platform alone, as many objects again: each bench-worker object stores a key of a new
    // session's size and sets an alarm, forwards one call to the upstream, then deletes its alarm
    // and its keys, as a session's DELETE does (no gateway code).
    let floorObjects = 0;
    for (let done = 0; done < churned; done += size.sessions) {
      const batch = Math.min(size.sessions, churned - done);
      await Promise.all(
        Array.from({ length: batch }, async (_, j) => {
          const id = { "Mcp-Session-Id": `soak-churn-${done + j}` };
          for (const kind of ["open", "forward", "close"]) {
            const answer = await http.send(
              "POST",
              `${stack.benchUrl}/floor/${kind}`,
              {
                ...id,
                "Content-Type": "application/json",
                "X-Upstream": stack.upstream.url,
                Authorization: `Bearer ${token}`,
              },
              JSON.stringify({
                jsonrpc: "2.0",
                id: j,
                method: "tools/call",
                params: { name: "echo", arguments: { text: "f" } },
              }),
            );
            if (answer.status !== 200)
              throw new Error(`floor ${kind} failed: HTTP ${answer.status} ${answer.body.slice(0, 200)}`);
          }
        }),
      );
      floorObjects += batch;
    }
    const afterFloorChurn = await sample(`floor churn: ${floorObjects} objects`);
    const firstHalf = mid.calls - warm.calls;
    const secondHalf = afterCalls.calls - mid.calls;

    const rows: Row[] = [
      {
        scenario: "9 memory soak",
        measure: `workerd RSS, ${callsMade.toLocaleString("en-US")} warm calls on ${size.sessions} sessions`,
        result: `${mib(warm.rss)} → ${mib(afterCalls.rss)} (${perUnit(afterCalls.rss - warm.rss, callsMade)} per call)`,
        limit: `gateway heap after GC ${mib(warm.heapUsed)} → ${mib(afterCalls.heapUsed)} (${perUnit(afterCalls.heapUsed - warm.heapUsed, callsMade)} per call)`,
        ratio: over(afterCalls.rss, warm.rss),
        target: { text: "RSS within 10 % of warm", verdict: verdict(afterCalls.rss <= warm.rss * 1.1) },
      },
      {
        scenario: "",
        measure: `plateau? RSS per call over the first ${firstHalf.toLocaleString("en-US")} calls / the last ${secondHalf.toLocaleString("en-US")}`,
        result: `${perUnit(mid.rss - warm.rss, firstHalf)} / ${perUnit(afterCalls.rss - mid.rss, secondHalf)} per call`,
        limit: `heap after GC ${perUnit(mid.heapUsed - warm.heapUsed, firstHalf)} / ${perUnit(afterCalls.heapUsed - mid.heapUsed, secondHalf)} per call`,
      },
      {
        scenario: "",
        measure: `workerd RSS, as many calls again through the platform floor (no gateway code)`,
        result: `${mib(afterCalls.rss)} → ${mib(afterFloor.rss)} (${perUnit(afterFloor.rss - afterCalls.rss, callsMade)} per call); idle ${size.idleMs / 1000} s: ${mib(idle.rss)}`,
        limit: `gateway calls above: ${perUnit(afterCalls.rss - warm.rss, callsMade)} per call`,
      },
      {
        scenario: "",
        measure: `workerd RSS, ${churned.toLocaleString("en-US")} sessions opened, called once and closed (DELETE)`,
        result: `${mib(churnWarm.rss)} → ${mib(last.rss)} (${perUnit(last.rss - churnWarm.rss, churned)} per session)`,
        limit: `gateway heap after GC ${mib(churnWarm.heapUsed)} → ${mib(last.heapUsed)} (${perUnit(last.heapUsed - churnWarm.heapUsed, churned)} per session)`,
        ratio: over(last.rss, churnWarm.rss),
        target: { text: "RSS within 10 % of warm", verdict: verdict(last.rss <= churnWarm.rss * 1.1) },
      },
      {
        scenario: "",
        measure: `plateau? RSS per session over the first ${(churnMid.sessionsOpened - churnWarm.sessionsOpened).toLocaleString("en-US")} sessions / the last ${(last.sessionsOpened - churnMid.sessionsOpened).toLocaleString("en-US")}`,
        result: `${perUnit(churnMid.rss - churnWarm.rss, churnMid.sessionsOpened - churnWarm.sessionsOpened)} / ${perUnit(last.rss - churnMid.rss, last.sessionsOpened - churnMid.sessionsOpened)} per session`,
        limit: `heap after GC ${perUnit(churnMid.heapUsed - churnWarm.heapUsed, churnMid.sessionsOpened - churnWarm.sessionsOpened)} / ${perUnit(last.heapUsed - churnMid.heapUsed, last.sessionsOpened - churnMid.sessionsOpened)} per session`,
      },
      {
        scenario: "",
        measure: `workerd RSS, as many Durable Objects opened, called once and closed through the platform floor (no gateway code)`,
        result: `${mib(last.rss)} → ${mib(afterFloorChurn.rss)} (${perUnit(afterFloorChurn.rss - last.rss, floorObjects)} per object)`,
        limit: `gateway sessions above: ${perUnit(last.rss - churnWarm.rss, churned)} per session`,
      },
    ];
    return {
      rows,
      data: { size, samples, failedCalls },
      notes: [
        `9: RSS is the whole workerd process (auth, gateway and bench workers); the heap is the gateway isolate's (its Durable Objects included) after a full collection. Heap flat while RSS grows: the memory is held outside JavaScript. Each target compares with its own warm-up sample (${size.warmupCalls} calls; ${size.churnWarmup} sessions opened and closed).`,
      ],
    };
  } finally {
    heap.close();
    http.close();
  }
}
