// Scenario 10, live sessions at scale (npm run bench -- --scale, a few minutes): what 10,000 live
// MCP sessions cost the gateway. Warm tools/calls on the same 10 sessions are measured twice, alone
// and once 10,000 more sessions are open, as CPU seconds of the workerd process (utime + stime from
// /proc/<pid>/stat) per call; the target (issue: 10,000 live sessions) is ≤ 1.2× the 10-session
// figure. Each live session's cost is reported too: the gateway isolate's heap after a full
// collection and workerd's RSS, each divided by the sessions opened, and the Durable Objects' SQLite
// files added on disk per session. The sessions are spread over the bench's agents (BENCH_AGENTS
// principals), as many agents' sessions would be. A last row calls every live session once, round
// robin (each call then finds a cold object and no cached tool token). Sizes are parameters so that
// a test runs it small.
import { closedLoop, httpClient, type LoadResult } from "./load.js";
import { callTool, openMcpSession, type McpSession } from "./mcp-client.js";
import { cpuSeconds, gatewayHeapProbe, gatewayPoke, mib, rssBytes, sqliteFiles, workerdPid } from "./process-probe.js";
import { rate, verdict, type ScenarioResult } from "./report.js";
import { BENCH_AGENTS, TOOLS, type BenchStack } from "./stack.js";

export interface ScaleSize {
  /** The sessions the calls are measured on. */
  hot: number;
  /** Sessions opened beside them and left live. */
  live: number;
  /** Calls per measurement. */
  calls: number;
  /** Sessions opened at once. */
  concurrency: number;
}

export const SCALE_SIZE: ScaleSize = { hot: 10, live: 10_000, calls: 5_000, concurrency: 16 };

interface CpuRun {
  load: LoadResult;
  cpuSecondsPerCall: number;
}

const bytes = (n: number) => `${Math.round(n).toLocaleString("en-US")} B`;
const µs = (seconds: number) => `${(seconds * 1e6).toFixed(0)} µs`;

export async function benchScale(
  stack: BenchStack,
  inspectorPort: number,
  log: (line: string) => void,
  size: ScaleSize = SCALE_SIZE,
): Promise<ScenarioResult> {
  const pid = workerdPid();
  const http = httpClient(Math.max(size.hot, size.concurrency));
  const heap = await gatewayHeapProbe(inspectorPort, gatewayPoke(http, stack.gatewayUrl));
  const gateway = `${stack.gatewayUrl}/mcp`;
  const agents = Math.min(BENCH_AGENTS, Math.max(1, Math.ceil(size.live / 1_000)));
  const tokens = await Promise.all(Array.from({ length: agents }, (_, i) => stack.agentToken(i)));
  const hot = await Promise.all(Array.from({ length: size.hot }, () => openMcpSession(http, gateway, tokens[0])));

  const measure = async (label: string, sessions: McpSession[]): Promise<CpuRun> => {
    const before = cpuSeconds(pid);
    const load = await closedLoop(size.hot, size.calls, (i) =>
      callTool(http, sessions[i % sessions.length]!, TOOLS.warm, `scale ${i}`),
    );
    const cpuSecondsPerCall = (cpuSeconds(pid) - before) / size.calls;
    if (load.errors) throw new Error(`scale calls (${label}) failed: ${load.firstError}`);
    log(`  ${label}: ${rate(load.perSecond)}, workerd CPU ${µs(cpuSecondsPerCall)} per call`);
    return { load, cpuSecondsPerCall };
  };

  try {
    await closedLoop(size.hot, Math.min(2_000, size.calls), (i) =>
      callTool(http, hot[i % size.hot]!, TOOLS.warm, `warm ${i}`),
    ); // warm-up: JIT, pools, each hot session's upstream session and tool token
    const alone = await measure(`${size.hot} sessions`, hot);
    const heapBefore = await heap.heapAfterGc();
    const rssBefore = rssBytes(pid);
    const filesBefore = sqliteFiles(stack.doStorageDir);

    const live: McpSession[] = [];
    const opening = await closedLoop(size.concurrency, size.live, async (i) => {
      live.push(await openMcpSession(http, gateway, tokens[i % agents]));
      if ((i + 1) % 1_000 === 0) log(`  ${i + 1} sessions opened`);
      return undefined;
    });
    if (opening.errors) throw new Error(`opening sessions failed: ${opening.firstError}`);
    const heapAfter = await heap.heapAfterGc();
    const rssAfter = rssBytes(pid);
    const filesAfter = sqliteFiles(stack.doStorageDir);
    let added = 0;
    let addedFiles = 0;
    for (const [path, n] of filesAfter) {
      const was = filesBefore.get(path);
      if (was === undefined) addedFiles++;
      added += n - (was ?? 0);
    }
    log(
      `  ${size.live} sessions live: heap ${mib(heapBefore)} → ${mib(heapAfter)}, RSS ${mib(rssBefore)} → ${mib(rssAfter)}, SQLite +${mib(added)} in ${addedFiles} files`,
    );

    const crowded = await measure(`${size.hot} sessions beside ${size.live} live`, hot);
    const heapLater = await heap.heapAfterGc();
    stack.audit.reset();
    const spread = await measure(`round robin over ${size.live} live sessions`, live);
    const spreadExchanges = stack.audit.counts().exchanges;
    const ratio = crowded.cpuSecondsPerCall / alone.cpuSecondsPerCall;

    return {
      rows: [
        {
          scenario: "10 scale",
          measure: `open ${size.live.toLocaleString("en-US")} sessions over ${agents} principals, concurrency ${size.concurrency}`,
          result: `${rate(opening.perSecond)} (initialize, initialized, tools/list)`,
          limit: `${size.live.toLocaleString("en-US")} live at once`,
        },
        {
          scenario: "",
          measure: `workerd CPU per warm call on ${size.hot} sessions: alone / beside ${size.live.toLocaleString("en-US")} live`,
          result: `${µs(alone.cpuSecondsPerCall)} / ${µs(crowded.cpuSecondsPerCall)} per call`,
          limit: `${rate(alone.load.perSecond)} / ${rate(crowded.load.perSecond)}`,
          ratio: `${ratio.toFixed(2)}×`,
          target: { text: "≤ 1.2× the 10-session figure", verdict: verdict(ratio <= 1.2) },
        },
        {
          scenario: "",
          measure: `memory per live session (gateway heap after GC; workerd RSS)`,
          result: `${bytes((heapAfter - heapBefore) / size.live)}; ${bytes((rssAfter - rssBefore) / size.live)}`,
          limit: `heap ${mib(heapBefore)} → ${mib(heapAfter)} (${mib(heapLater)} after the calls); RSS ${mib(rssBefore)} → ${mib(rssAfter)}`,
        },
        {
          scenario: "",
          measure: "storage per live session (Durable Objects' SQLite files added)",
          result: bytes(added / size.live),
          limit: `${mib(added)} in ${addedFiles} new files`,
        },
        {
          scenario: "",
          measure: `one call to each live session, round robin (cold object, tool token exchanged)`,
          result: `${µs(spread.cpuSecondsPerCall)} per call, ${rate(spread.load.perSecond)}`,
          limit: `${(spreadExchanges / size.calls).toFixed(2)} exchanges per call`,
          ratio: `${(spread.cpuSecondsPerCall / alone.cpuSecondsPerCall).toFixed(2)}× the 10-session figure`,
        },
      ],
      data: {
        size,
        agents,
        opening,
        alone,
        crowded,
        spread: { ...spread, exchanges: spreadExchanges },
        memory: { heapBefore, heapAfter, heapLater, rssBefore, rssAfter },
        storage: { bytesAdded: added, filesAdded: addedFiles },
      },
      notes: [
        "10: CPU is the whole workerd process's (utime + stime, every worker and thread) divided by the calls, so the bench and auth workers' share is in it; heap is the gateway isolate's after a full collection (its Durable Objects included), taken right after the sessions were opened; storage is the size of the SQLite files (WAL included) the sessions added.",
      ],
    };
  } finally {
    heap.close();
    http.close();
  }
}
