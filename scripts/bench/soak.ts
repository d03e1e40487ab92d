// Scenario 9, memory soak (npm run bench -- --soak, about a minute): does the gateway worker give
// back what a tool call takes? Warm tools/calls on 10 sessions, then sessions opened and closed,
// sampling after each round the workerd process's resident memory (/proc, all workers of the
// stack together) and the gateway isolate's JavaScript heap after a full garbage collection
// (HeapProfiler.collectGarbage and Runtime.getHeapUsage through workerd's inspector). Memory that
// grows with the heap is held by JavaScript objects; memory that grows beside a flat heap is held
// by the runtime (native buffers, storage, the allocator keeping freed pages).
import { readdirSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { closedLoop, httpClient, type HttpClient } from "./load.js";
import { callTool, openMcpSession, type McpSession } from "./mcp-client.js";
import { verdict, type Row, type ScenarioResult } from "./report.js";
import { TOOLS, type BenchStack } from "./stack.js";
import { InspectorSession } from "./workerd-profile.js";

const SESSIONS = 10;
const ROUNDS = 4;
const CALLS_PER_ROUND = 2_500;
const CHURN_ROUNDS = 2;
const SESSIONS_PER_CHURN = 250;

/** The workerd process that Miniflare started from this process. */
function workerdPid(): number {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const [, comm, rest] = /^\d+ \((.*)\) (.*)$/s.exec(stat) ?? [];
      const ppid = Number(rest?.split(" ")[1]);
      if (comm === "workerd" && ppid === process.pid) return Number(entry);
    } catch {
      // The process ended while we looked.
    }
  }
  throw new Error("no workerd child process found");
}

const rssBytes = (pid: number) =>
  Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) * 1024;

interface Sample {
  label: string;
  calls: number;
  sessionsOpened: number;
  rss: number;
  heapUsed: number;
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

async function closeSession(http: HttpClient, session: McpSession): Promise<void> {
  const answer = await http.send("DELETE", session.url, session.headers);
  if (answer.status >= 300) throw new Error(`DELETE session failed: ${answer.status} ${answer.body}`);
}

export async function benchSoak(
  stack: BenchStack,
  inspectorPort: number,
  log: (line: string) => void,
): Promise<ScenarioResult> {
  const pid = workerdPid();
  const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json/list`)).json()) as {
    id: string;
    webSocketDebuggerUrl: string;
  }[];
  const target = targets.find((t) => t.id === "core:user:gateway");
  if (!target) throw new Error("the gateway worker has no inspector target");
  const inspector = await InspectorSession.open(target.webSocketDebuggerUrl);
  const http = httpClient(SESSIONS);
  const token = await stack.agentToken();
  const gateway = `${stack.gatewayUrl}/mcp`;
  const sessions = await Promise.all(Array.from({ length: SESSIONS }, () => openMcpSession(http, gateway, token)));
  const samples: Sample[] = [];
  let calls = 0;
  let sessionsOpened = SESSIONS;
  // workerd's inspector answers an idle isolate's commands only once the isolate runs again:
  // one cheap request to the gateway (a 404) does it.
  const poke = () => http.send("GET", `${stack.gatewayUrl}/soak-poke`, {});
  const ask = async <T>(method: string): Promise<T> => {
    const answer = inspector.send<T>(method);
    let answered = false;
    void answer.finally(() => (answered = true));
    while (!answered) await Promise.race([answer, poke().then(() => sleep(50))]);
    return answer;
  };
  const sample = async (label: string) => {
    await ask("HeapProfiler.collectGarbage");
    const { usedSize } = await ask<{ usedSize: number }>("Runtime.getHeapUsage");
    samples.push({ label, calls, sessionsOpened, rss: rssBytes(pid), heapUsed: usedSize });
    log(
      `  ${label}: ${calls} calls, ${sessionsOpened} sessions; RSS ${mib(rssBytes(pid))}, gateway heap ${mib(usedSize)}`,
    );
  };
  const callRound = async (n: number) => {
    const result = await closedLoop(SESSIONS, n, (i) =>
      callTool(http, sessions[i % SESSIONS]!, TOOLS.warm, `soak ${calls + i}`),
    );
    if (result.errors) throw new Error(`soak calls failed: ${result.firstError}`);
    calls += n;
  };

  await callRound(1_000); // warm-up: JIT, pools, every session's upstream session and token
  await sample("after warm-up");
  const warm = samples[0]!;
  for (let round = 1; round <= ROUNDS; round++) {
    await callRound(CALLS_PER_ROUND);
    await sample(`calls round ${round}`);
  }
  // The platform alone, as many calls again: the bench worker asks a Durable Object that forwards
  // to the same upstream (scenario 3's floor), with no gateway code and no audit line.
  const beforeFloor = calls;
  const floor = await closedLoop(SESSIONS, ROUNDS * CALLS_PER_ROUND, async (i) => {
    const answer = await http.send(
      "POST",
      `${stack.benchUrl}/floor/forward`,
      {
        "Content-Type": "application/json",
        "Mcp-Session-Id": `soak-${i % SESSIONS}`,
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
  await sample(`floor: ${ROUNDS * CALLS_PER_ROUND} calls`);
  calls = beforeFloor;
  await sleep(10_000);
  await sample("idle 10 s");
  for (let round = 1; round <= CHURN_ROUNDS; round++) {
    for (let i = 0; i < SESSIONS_PER_CHURN; i += SESSIONS) {
      const opened = await Promise.all(Array.from({ length: SESSIONS }, () => openMcpSession(http, gateway, token)));
      await Promise.all(opened.map((s, j) => callTool(http, s, TOOLS.warm, `churn ${j}`)));
      await Promise.all(opened.map((s) => closeSession(http, s)));
      sessionsOpened += SESSIONS;
    }
    await sample(`churn round ${round}`);
  }
  inspector.close();
  http.close();

  const afterCalls = samples.find((s) => s.label === `calls round ${ROUNDS}`)!;
  const afterFloor = samples.find((s) => s.label.startsWith("floor"))!;
  const floorPerCall = (afterFloor.rss - afterCalls.rss) / (ROUNDS * CALLS_PER_ROUND);
  const idle = samples.find((s) => s.label === "idle 10 s")!;
  const last = samples.at(-1)!;
  const callsMade = afterCalls.calls - warm.calls;
  const perCall = (afterCalls.rss - warm.rss) / callsMade;
  const heapPerCall = (afterCalls.heapUsed - warm.heapUsed) / callsMade;
  const churned = last.sessionsOpened - idle.sessionsOpened;
  const rows: Row[] = [
    {
      scenario: "9 memory soak",
      measure: `workerd RSS, ${callsMade.toLocaleString("en-US")} warm calls on ${SESSIONS} sessions`,
      result: `${mib(warm.rss)} → ${mib(afterCalls.rss)} (${perCall >= 0 ? "+" : ""}${kib(perCall)} per call); idle 10 s: ${mib(idle.rss)}`,
      limit: `gateway JS heap after GC ${mib(warm.heapUsed)} → ${mib(afterCalls.heapUsed)} (${kib(heapPerCall)} per call)`,
      ratio: `${((afterCalls.rss / warm.rss - 1) * 100).toFixed(1)} % over warm`,
      target: { text: "RSS within 10 % of warm", verdict: verdict(afterCalls.rss <= warm.rss * 1.1) },
    },
    {
      scenario: "",
      measure: `workerd RSS, as many calls again through the platform floor (no gateway code)`,
      result: `${mib(afterCalls.rss)} → ${mib(afterFloor.rss)} (${floorPerCall >= 0 ? "+" : ""}${kib(floorPerCall)} per call)`,
      limit: `gateway calls above: ${kib(perCall)} per call`,
    },
    {
      scenario: "",
      measure: `workerd RSS, ${churned} sessions opened, called once and closed`,
      result: `${mib(idle.rss)} → ${mib(last.rss)} (${kib((last.rss - idle.rss) / Math.max(1, churned))} per session)`,
      limit: `gateway JS heap after GC ${mib(idle.heapUsed)} → ${mib(last.heapUsed)}`,
      ratio: `${((last.rss / warm.rss - 1) * 100).toFixed(1)} % over warm`,
      target: { text: "RSS within 10 % of warm", verdict: verdict(last.rss <= warm.rss * 1.1) },
    },
  ];
  return {
    rows,
    data: { samples },
    notes: [
      "9: RSS is the whole workerd process (auth, gateway and bench workers); the heap is the gateway isolate's (its Durable Objects included) after a full collection. Heap flat while RSS grows: the memory is held outside JavaScript.",
    ],
  };
}
