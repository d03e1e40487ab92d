// Scenario 10, live sessions at scale (npm run bench -- --scale, a few minutes): what 10,000 live
// MCP sessions cost the gateway. Warm tools/calls on the same 10 sessions are measured twice, alone
// and once 10,000 more sessions are open, as CPU seconds of the workerd process (utime + stime from
// /proc/<pid>/stat) per call; the target (issue: 10,000 live sessions) is ≤ 1.2× the 10-session
// figure. The platform's floor for the same calls (a worker, a Durable Object, fetch to the
// upstream; no gateway code) is measured beside each, so a growth both show is the runtime's.
// Each live session's cost is reported too: the gateway isolate's heap after a full
// collection and workerd's RSS, each divided by the sessions opened, and the Durable Objects' SQLite
// files added on disk per session. The sessions are spread over the bench's agents (BENCH_AGENTS
// principals), as many agents' sessions would be. A last row calls every live session once, round
// robin (each call then finds a cold object and no cached tool token). Sizes are parameters so that
// a test runs it small.
import { performance } from "node:perf_hooks";
import { closedLoop, httpClient, type LoadResult } from "./load.js";
import { callTool, openMcpSession, type McpSession } from "./mcp-client.js";
import {
  cpuSeconds,
  gatewayHeapProbe,
  gatewayPoke,
  mib,
  openFiles,
  rssBytes,
  sqliteFiles,
  workerdPid,
} from "./process-probe.js";
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
  /** Principals (bench agents) the live sessions are spread over; at most BENCH_AGENTS. */
  principals: number;
}

export const SCALE_SIZE: ScaleSize = { hot: 10, live: 10_000, calls: 5_000, concurrency: 16, principals: BENCH_AGENTS };

interface CpuRun {
  load: LoadResult;
  cpuSecondsPerCall: number;
}

const bytes = (n: number) => `${Math.round(n).toLocaleString("en-US")} B`;
const µs = (seconds: number) => `${(seconds * 1e6).toFixed(0)} µs`;

/** What the SQLite files grew by between two listings, and how many files are new. */
function addedBytes(before: Map<string, number>, after: Map<string, number>): { bytes: number; files: number } {
  let bytes = 0;
  let files = 0;
  for (const [path, n] of after) {
    const was = before.get(path);
    if (was === undefined) files++;
    bytes += n - (was ?? 0);
  }
  return { bytes, files };
}

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
  const agents = Math.min(BENCH_AGENTS, Math.max(1, size.principals));
  const tokens = await Promise.all(Array.from({ length: agents }, (_, i) => stack.agentToken(i)));
  const hot = await Promise.all(Array.from({ length: size.hot }, () => openMcpSession(http, gateway, tokens[0])));

  const measure = async (label: string, sessions: McpSession[]): Promise<CpuRun> => {
    const before = cpuSeconds(pid);
    const load = await closedLoop(size.hot, size.calls, (i) =>
      callTool(http, sessions[i % sessions.length]!, TOOLS.warm, `scale ${i}`),
    );
    const cpuSecondsPerCall = (cpuSeconds(pid) - before) / size.calls;
    // On a loaded machine a call now and then meets a store timeout (the tool token's exchange):
    // counted and shown, not a reason to throw the run away; more than 1 % is.
    if (load.errors > size.calls / 100) throw new Error(`scale calls (${label}) failed: ${load.firstError}`);
    log(
      `  ${label}: ${rate(load.perSecond)}, workerd CPU ${µs(cpuSecondsPerCall)} per call${load.errors ? `; ${load.errors} failed: ${load.firstError}` : ""}`,
    );
    return { load, cpuSecondsPerCall };
  };

  // The platform's floor for the same calls (bench-worker.ts): a worker asks one of `size.hot`
  // Durable Objects, which forwards the call to the upstream with fetch; no gateway code. Measured
  // beside each gateway figure, so that what the live sessions cost the runtime itself shows apart
  // from what they cost the gateway's code.
  const floorCall = (i: number) =>
    http
      .send(
        "POST",
        `${stack.benchUrl}/floor/forward`,
        {
          "Content-Type": "application/json",
          "Mcp-Session-Id": `scale-floor-${i % size.hot}`,
          "X-Upstream": stack.upstream.url,
          Authorization: `Bearer ${tokens[0]}`,
        },
        JSON.stringify({
          jsonrpc: "2.0",
          id: i,
          method: "tools/call",
          params: { name: "echo", arguments: { text: "x" } },
        }),
      )
      .then((answer) => (answer.status === 200 ? undefined : `HTTP ${answer.status}`));
  const measureFloor = async (label: string): Promise<CpuRun> => {
    const before = cpuSeconds(pid);
    const load = await closedLoop(size.hot, size.calls, floorCall);
    const cpuSecondsPerCall = (cpuSeconds(pid) - before) / size.calls;
    if (load.errors > size.calls / 100) throw new Error(`floor calls (${label}) failed: ${load.firstError}`);
    log(`  floor, ${label}: ${rate(load.perSecond)}, workerd CPU ${µs(cpuSecondsPerCall)} per call`);
    return { load, cpuSecondsPerCall };
  };

  try {
    await closedLoop(size.hot, Math.min(2_000, size.calls), (i) =>
      callTool(http, hot[i % size.hot]!, TOOLS.warm, `warm ${i}`),
    ); // warm-up: JIT, pools, each hot session's upstream session and tool token
    await closedLoop(size.hot, Math.min(2_000, size.calls), floorCall);
    const alone = await measure(`${size.hot} sessions`, hot);
    const floorAlone = await measureFloor(`${size.hot} objects`);
    const heapBefore = await heap.heapAfterGc();
    const rssBefore = rssBytes(pid);
    const fdsBefore = openFiles(pid);
    const filesBefore = sqliteFiles(stack.doStorageDir);

    const live: McpSession[] = [];
    // Sessions opened per second, per tenth of the sessions: does opening slow down as they add up?
    const tenths: number[] = [];
    let tenthStarted = performance.now();
    const tenth = Math.max(1, Math.floor(size.live / 10));
    const opening = await closedLoop(size.concurrency, size.live, async (i) => {
      live.push(await openMcpSession(http, gateway, tokens[i % agents]));
      if (live.length % tenth === 0) {
        tenths.push((tenth / (performance.now() - tenthStarted)) * 1000);
        tenthStarted = performance.now();
        log(`  ${live.length} sessions opened (${rate(tenths.at(-1)!)} over the last ${tenth})`);
      }
      return undefined;
    });
    if (opening.errors) throw new Error(`opening sessions failed: ${opening.firstError}`);
    const heapAfter = await heap.heapAfterGc();
    const rssAfter = rssBytes(pid);
    const fdsAfter = openFiles(pid);
    const filesAfter = sqliteFiles(stack.doStorageDir);
    const { bytes: added, files: addedFiles } = addedBytes(filesBefore, filesAfter);
    log(
      `  ${size.live} sessions live: heap ${mib(heapBefore)} → ${mib(heapAfter)}, RSS ${mib(rssBefore)} → ${mib(rssAfter)}, SQLite +${mib(added)} in ${addedFiles} files, open files ${fdsBefore} → ${fdsAfter}`,
    );

    const crowded = await measure(`${size.hot} sessions beside ${size.live} live`, hot);
    const floorCrowded = await measureFloor(`${size.hot} objects beside ${size.live} live sessions`);
    const floorRatio = floorCrowded.cpuSecondsPerCall / floorAlone.cpuSecondsPerCall;
    const heapLater = await heap.heapAfterGc();
    // The platform alone: Durable Objects of the bench worker, each storing one key of a new
    // session's size and setting an alarm, with no gateway code, measured right after they open
    // (all still in memory; most sessions' objects were evicted by the time their figure is read).
    // Opened last, so memory the sessions freed is there for them to reuse. An object in memory
    // holds three open files (database, WAL, shared memory): half as many objects as sessions keeps
    // the process under its open-file limit.
    const floorObjects = Math.max(1, Math.floor(size.live / 2));
    const floorBefore = { rss: rssBytes(pid), files: sqliteFiles(stack.doStorageDir) };
    const floorOpening = await closedLoop(size.concurrency, floorObjects, async (i) => {
      const answer = await http.send("POST", `${stack.benchUrl}/floor/open`, { "Mcp-Session-Id": `scale-${i}` }, "{}");
      return answer.status === 200 ? undefined : `HTTP ${answer.status}: ${answer.body.slice(0, 200)}`;
    });
    if (floorOpening.errors) throw new Error(`opening floor objects failed: ${floorOpening.firstError}`);
    const floorRss = rssBytes(pid) - floorBefore.rss;
    const floorStorage = addedBytes(floorBefore.files, sqliteFiles(stack.doStorageDir));
    const fdsAfterFloor = openFiles(pid);
    log(
      `  ${floorObjects} floor objects: RSS +${mib(floorRss)}, SQLite +${mib(floorStorage.bytes)}, ${fdsAfterFloor} open files`,
    );

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
          limit: `first tenth ${rate(tenths[0] ?? 0)}, last tenth ${rate(tenths.at(-1) ?? 0)}`,
        },
        {
          scenario: "",
          measure: `workerd CPU per warm call on ${size.hot} sessions: alone / beside ${size.live.toLocaleString("en-US")} live`,
          result: `${µs(alone.cpuSecondsPerCall)} / ${µs(crowded.cpuSecondsPerCall)} per call${alone.load.errors + crowded.load.errors ? ` (${alone.load.errors + crowded.load.errors} calls failed)` : ""}`,
          limit: `${rate(alone.load.perSecond)} / ${rate(crowded.load.perSecond)}`,
          ratio: `${ratio.toFixed(2)}×`,
          target: { text: "≤ 1.2× the 10-session figure", verdict: verdict(ratio <= 1.2) },
        },
        {
          scenario: "",
          measure: `floor: workerd CPU per call, worker → Durable Object → upstream on ${size.hot} objects (no gateway code): alone / beside the same ${size.live.toLocaleString("en-US")} live sessions`,
          result: `${µs(floorAlone.cpuSecondsPerCall)} / ${µs(floorCrowded.cpuSecondsPerCall)} per call`,
          limit: `${rate(floorAlone.load.perSecond)} / ${rate(floorCrowded.load.perSecond)}; gateway above ${ratio.toFixed(2)}×`,
          ratio: `${floorRatio.toFixed(2)}×`,
        },
        {
          scenario: "",
          measure: `memory per live session (gateway heap after GC; workerd RSS)`,
          result: `${bytes((heapAfter - heapBefore) / size.live)}; ${bytes((rssAfter - rssBefore) / size.live)}`,
          limit: `heap ${mib(heapBefore)} → ${mib(heapAfter)} (${mib(heapLater)} after the calls); RSS ${mib(rssBefore)} → ${mib(rssAfter)}`,
        },
        {
          scenario: "",
          measure: `floor: workerd RSS per Durable Object alone (one key, an alarm; no gateway code), ${floorObjects.toLocaleString("en-US")} objects`,
          result: bytes(floorRss / floorObjects),
          limit: `gateway session above: ${bytes((rssAfter - rssBefore) / size.live)}; open files ${fdsBefore} → ${fdsAfter} after the sessions, ${fdsAfterFloor} after the floor's objects`,
        },
        {
          scenario: "",
          measure: "storage per live session (Durable Objects' SQLite files added)",
          result: bytes(added / size.live),
          limit: `${mib(added)} in ${addedFiles} new files; floor object ${bytes(floorStorage.bytes / floorObjects)}`,
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
        openingPerSecondByTenth: tenths,
        alone,
        crowded,
        floorCpu: { alone: floorAlone, crowded: floorCrowded },
        spread: { ...spread, exchanges: spreadExchanges },
        memory: { heapBefore, heapAfter, heapLater, rssBefore, rssAfter },
        openFiles: { beforeSessions: fdsBefore, afterSessions: fdsAfter, afterFloor: fdsAfterFloor },
        storage: { bytesAdded: added, filesAdded: addedFiles },
        floor: { objects: floorObjects, opening: floorOpening, rssAdded: floorRss, storageAdded: floorStorage },
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
