// Scenario 9, memory soak (npm run bench -- --soak, a few minutes): does the gateway worker give
// back what a tool call and a session take? 50,000 warm tools/calls on 10 sessions, as many calls
// through the platform floor (no gateway code), then 5,000 sessions opened, called once and closed
// (DELETE), sampling after each round the workerd process's resident memory (/proc, all workers of
// the stack together: anonymous, file-backed and shared; its threads; its open SQLite databases)
// after a full garbage collection in every isolate that the load runs through (the gateway, the
// auth tier, the bench worker, and Miniflare's interceptors of their outgoing fetches), and the
// gateway isolate's JavaScript heap (HeapProfiler.collectGarbage and Runtime.getHeapUsage through
// workerd's inspector). Without the collections RSS measures when V8 chose to collect: the gateway
// isolate alone holds up to about 120 MiB of garbage between its own collections (docs/performance.md,
// "Memory"). Session rounds are sampled once the runtime has evicted the ended sessions' objects.
// Where gdb is installed, the allocator's split of the native heap (in use by the runtime, or freed
// and kept by the allocator) is read at the warm-ups and at the ends of the calls and the churn.
// The target (memory flat): RSS within 10 % of its value after warm-up, for the calls and
// for the sessions, each against its own warm-up. Sizes are parameters so that a test runs it small.
import { setTimeout as sleep } from "node:timers/promises";
import { closedLoop, httpClient, type HttpClient } from "./load.js";
import { callTool, openMcpSession, type McpSession } from "./mcp-client.js";
import {
  allocatorStats,
  isolatesProbe,
  kib,
  memoryBreakdown,
  mib,
  workerdPid,
  type AllocatorStats,
  type MemoryBreakdown,
} from "./process-probe.js";
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
  /** The longest wait for ended sessions' objects to be evicted before a churn sample. */
  evictionMs: number;
  /** Read the allocator's statistics with gdb (when installed) at four points of the run. */
  allocator: boolean;
}

/** What the issue's target names: 50,000 calls on 10 sessions; 5,000 sessions opened and closed. */
export const SOAK_SIZE: SoakSize = {
  sessions: 10,
  warmupCalls: 2_000,
  rounds: 5,
  callsPerRound: 10_000,
  churnWarmup: 200,
  churnRounds: 5,
  sessionsPerChurnRound: 1_000,
  idleMs: 10_000,
  evictionMs: 60_000,
  allocator: true,
};

interface Sample extends MemoryBreakdown {
  label: string;
  calls: number;
  sessionsOpened: number;
  /** The gateway isolate's used heap after a full collection. */
  heapUsed: number;
  /** Every probed isolate's heap after a full collection: used, and what V8 holds for it. */
  heapsUsed: number;
  heapsTotal: number;
  allocator?: AllocatorStats;
}

async function closeSession(http: HttpClient, session: McpSession): Promise<void> {
  const answer = await http.send("DELETE", session.url, session.headers);
  if (answer.status >= 300) throw new Error(`DELETE session failed: ${answer.status} ${answer.body}`);
}

const perUnit = (bytes: number, n: number) => kib(bytes / Math.max(1, n));
const over = (value: number, reference: number) => `${((value / reference - 1) * 100).toFixed(1)} % over warm`;
const delta = (to: number, from: number) => `${to >= from ? "+" : ""}${((to - from) / 2 ** 20).toFixed(1)} MiB`;
const split = (a?: AllocatorStats) => (a ? `in use ${mib(a.inUse)}, free lists ${mib(a.free)}` : "not read (no gdb)");

export async function benchSoak(
  stack: BenchStack,
  inspectorPort: number,
  log: (line: string) => void,
  size: SoakSize = SOAK_SIZE,
): Promise<ScenarioResult> {
  const pid = workerdPid();
  const http = httpClient(size.sessions);
  const token = await stack.agentToken();
  const gateway = `${stack.gatewayUrl}/mcp`;
  const sessions = await Promise.all(Array.from({ length: size.sessions }, () => openMcpSession(http, gateway, token)));
  const poke = (url: string) => () => http.send("GET", `${url}/soak-poke`, {});
  const floorBody = (id: number) =>
    JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "echo", arguments: { text: "f" } } });
  const floorHeaders = (session: string) => ({
    "Content-Type": "application/json",
    "Mcp-Session-Id": session,
    "X-Upstream": stack.upstream.url,
    Authorization: `Bearer ${token}`,
  });
  // Inspector targets: core:user:<worker>, and outbound:<n> for the n-th worker of the stack
  // (gateway, auth, auth-far, bench), through which Miniflare sends that worker's fetches.
  const heaps = await isolatesProbe(inspectorPort, {
    "core:user:gateway": poke(stack.gatewayUrl),
    "core:user:auth": poke(stack.authUrl),
    "core:user:bench": poke(stack.benchUrl),
    "outbound:0": () => callTool(http, sessions[0]!, TOOLS.warm, "soak poke"),
    "outbound:1": () => callTool(http, sessions[0]!, TOOLS.cold, "soak poke"),
    "outbound:3": () => http.send("POST", `${stack.benchUrl}/floor/forward`, floorHeaders("soak-poke"), floorBody(0)),
  });
  const samples: Sample[] = [];
  let calls = 0;
  let failedCalls = 0;
  let sessionsOpened = size.sessions;
  const sample = async (label: string, withAllocator = false) => {
    const collected = await heaps.heapsAfterGc();
    const all = [...collected.values()];
    const s: Sample = {
      label,
      calls,
      sessionsOpened,
      ...memoryBreakdown(pid, stack.doStorageDir),
      heapUsed: collected.get("core:user:gateway")!.used,
      heapsUsed: all.reduce((sum, h) => sum + h.used, 0),
      heapsTotal: all.reduce((sum, h) => sum + h.total, 0),
      ...(withAllocator && size.allocator ? { allocator: allocatorStats(pid) } : {}),
    };
    // While gdb held workerd stopped, the runtime may have closed the load's idle keep-alive
    // connections: drop them, so that the next round opens fresh ones instead of failing on them.
    if (s.allocator) http.close();
    samples.push(s);
    log(
      `  ${label}: ${calls} calls, ${sessionsOpened} sessions; RSS ${mib(s.rss)} (anon ${mib(s.anon)}, file ${mib(s.file)}, shmem ${mib(s.shmem)}), ${s.threads} threads, ${s.databases} open database files; gateway heap ${mib(s.heapUsed)}, all isolates ${mib(s.heapsUsed)} of ${mib(s.heapsTotal)}${s.allocator ? `; allocator ${split(s.allocator)}` : ""}`,
    );
    return s;
  };
  /** Waits (up to evictionMs) until no more databases are open than `open`: the ended objects are evicted. */
  const evicted = async (open: number) => {
    const deadline = Date.now() + size.evictionMs;
    while (memoryBreakdown(pid, stack.doStorageDir).databases > open && Date.now() < deadline) await sleep(1_000);
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
    const warm = await sample("after warm-up", true);
    let mid = warm;
    for (let round = 1; round <= size.rounds; round++) {
      await callRound(size.callsPerRound);
      const s = await sample(`calls round ${round}`, round === size.rounds);
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
        floorHeaders(`soak-${i % size.sessions}`),
        floorBody(i),
      );
      return answer.status === 200 ? undefined : `HTTP ${answer.status}`;
    });
    if (floor.errors) throw new Error(`soak floor calls failed: ${floor.firstError}`);
    const afterFloor = await sample(`floor: ${callsMade} calls`);
    await sleep(size.idleMs);
    const idle = await sample(`idle ${size.idleMs / 1000} s`);
    const openBefore = idle.databases;
    await churn(size.churnWarmup);
    await evicted(openBefore);
    const churnWarm = await sample(`churn warm-up (${size.churnWarmup} sessions)`, true);
    for (let round = 1; round <= size.churnRounds; round++) {
      await churn(size.sessionsPerChurnRound);
      await evicted(openBefore);
      await sample(`churn round ${round}`, round === size.churnRounds);
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
          for (const kind of ["open", "forward", "close"]) {
            const answer = await http.send(
              "POST",
              `${stack.benchUrl}/floor/${kind}`,
              floorHeaders(`soak-churn-${done + j}`),
              floorBody(j),
            );
            if (answer.status !== 200)
              throw new Error(`floor ${kind} failed: HTTP ${answer.status} ${answer.body.slice(0, 200)}`);
          }
        }),
      );
      floorObjects += batch;
    }
    await evicted(openBefore);
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
        measure:
          "where the calls' growth is: resident anonymous / file-backed / shared memory; threads; open database files",
        result: `${delta(afterCalls.anon, warm.anon)} / ${delta(afterCalls.file, warm.file)} / ${delta(afterCalls.shmem, warm.shmem)}; ${warm.threads} → ${afterCalls.threads} threads; ${warm.databases} → ${afterCalls.databases} databases`,
        limit: `every isolate's heap after GC ${mib(warm.heapsUsed)} → ${mib(afterCalls.heapsUsed)} (V8 holds ${mib(warm.heapsTotal)} → ${mib(afterCalls.heapsTotal)})`,
      },
      {
        scenario: "",
        measure: "the native heap (the allocator's statistics, through gdb): after warm-up → after the calls",
        result: `${split(warm.allocator)} → ${split(afterCalls.allocator)}`,
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
        measure:
          "where the sessions' growth is: resident anonymous / file-backed / shared memory; threads; open database files (ended objects evicted)",
        result: `${delta(last.anon, churnWarm.anon)} / ${delta(last.file, churnWarm.file)} / ${delta(last.shmem, churnWarm.shmem)}; ${churnWarm.threads} → ${last.threads} threads; ${churnWarm.databases} → ${last.databases} databases`,
        limit: `every isolate's heap after GC ${mib(churnWarm.heapsUsed)} → ${mib(last.heapsUsed)} (V8 holds ${mib(churnWarm.heapsTotal)} → ${mib(last.heapsTotal)})`,
      },
      {
        scenario: "",
        measure: "the native heap (the allocator's statistics, through gdb): churn warm-up → after the churn",
        result: `${split(churnWarm.allocator)} → ${split(last.allocator)}`,
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
        `9: RSS is the whole workerd process (auth, gateway and bench workers, and Miniflare's own), read after a full collection in the gateway, auth and bench isolates and the interceptors of their fetches; the gateway heap is its isolate's (its Durable Objects included). Session samples wait (up to ${size.evictionMs / 1000} s) for the ended sessions' objects to be evicted. Heap flat while RSS grows: the memory is held outside JavaScript; the allocator's split says whether the runtime still uses it or the allocator keeps it freed. Each target compares with its own warm-up sample (${size.warmupCalls} calls; ${size.churnWarmup} sessions opened and closed).`,
      ],
    };
  } finally {
    heaps.close();
    http.close();
  }
}
