// npm run bench [-- --profile] [-- --no-build] [-- --only 2,3] [-- --out file.json] [-- --peers] [-- --soak] [-- --scale]
//
// Measures every hot path against its physical limit, in one run, on loopback: the tiers' real
// bundles in workerd (Miniflare) against the real Redis behind the Upstash-protocol bridge
// (scripts/bench/stack.ts). Prints one table, each figure beside the limit it is compared with and
// PASS/FAIL where a target is set (targets do not gate CI), and writes bench-results.json.
// docs/performance.md explains each scenario. --profile records CPU profiles of the auth and
// gateway workers through workerd's inspector (figures then run slower than usual).
import { mkdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { ROOT } from "../test/helpers/build.js";
import { freePort } from "../test/helpers/workers.js";
import { benchBurst } from "./bench/burst.js";
import { benchCrypto } from "./bench/crypto.js";
import { benchPeers } from "./bench/peers.js";
import { benchPolicy } from "./bench/policy.js";
import {
  describeMachine,
  formatMarkdown,
  formatTable,
  machineLine,
  type Row,
  type ScenarioResult,
} from "./bench/report.js";
import { benchScale } from "./bench/scale.js";
import { benchSessions } from "./bench/sessions.js";
import { benchSoak } from "./bench/soak.js";
import { BENCH_BUILD_DIR, startBenchStack, type BenchStack } from "./bench/stack.js";
import { benchStoreLatency } from "./bench/store-latency.js";
import { benchTokenExchange } from "./bench/token-exchange.js";
import { benchToolCall } from "./bench/tool-call.js";
import { startWorkerdProfiler, type WorkerdProfiler } from "./bench/workerd-profile.js";

const { values: args } = parseArgs({
  options: {
    profile: { type: "boolean", default: false },
    "no-build": { type: "boolean", default: false },
    // Scenario numbers to run (1 always runs: the others are compared with its limits).
    only: { type: "string" },
    out: { type: "string", default: join(ROOT, "bench-results.json") },
    // Scenario 8: the same jobs done by peer implementations in this run (scripts/bench/peers.ts).
    peers: { type: "boolean", default: false },
    // Scenario 9: memory across 50,000 warm calls and 5,000 sessions churned (scripts/bench/soak.ts).
    soak: { type: "boolean", default: false },
    // Scenario 10: 10,000 live sessions, CPU per call and bytes per session (scripts/bench/scale.ts).
    scale: { type: "boolean", default: false },
  },
});

const started = performance.now();
const log = (line: string) => console.log(line);
const inspectorPort = args.profile || args.soak || args.scale ? await freePort() : undefined;
log("npm run bench: bundling the workers and starting workerd, the Redis bridge and the upstream…");
const stack: BenchStack = await startBenchStack({
  ...(inspectorPort ? { inspectorPort } : {}),
  skipBuild: args["no-build"],
  log,
});
const stop = async (code: number) => {
  await stack.dispose().catch(() => undefined);
  process.exit(code);
};
process.once("SIGINT", () => void stop(130)).once("SIGTERM", () => void stop(143));

const machine = describeMachine(stack.versions);
log(`machine: ${machineLine(machine)}`);
if (machine.loadBefore > machine.cores)
  log(
    `warning: the machine is busy (load ${machine.loadBefore.toFixed(2)} on ${machine.cores} cores); figures will be low and noisy`,
  );

const results: Record<string, ScenarioResult> = {};
async function scenario<T extends { result: ScenarioResult } | ScenarioResult>(
  name: string,
  run: () => Promise<T>,
): Promise<T> {
  const t = performance.now();
  log(`\n${name}…`);
  const outcome = await run();
  const result = "result" in outcome ? outcome.result : (outcome as ScenarioResult);
  results[name] = result;
  log(formatTable(result.rows));
  log(`(${((performance.now() - t) / 1000).toFixed(1)} s)`);
  return outcome;
}

const only = args.only ? new Set(args.only.split(",").map((n) => Number(n.trim()))) : undefined;
const wanted = (n: number) => !only || only.has(n);

let profiler: WorkerdProfiler | undefined;
try {
  const crypto = await scenario("1 crypto limit", () => benchCrypto(stack));
  if (args.profile && inspectorPort) profiler = await startWorkerdProfiler(inspectorPort, ["auth", "gateway"]);
  if (wanted(2)) await scenario("2 token exchange", () => benchTokenExchange(stack, crypto.limits));
  const toolCall = wanted(3) ? await scenario("3 gateway tool call", () => benchToolCall(stack)) : undefined;
  const burst = wanted(4)
    ? await scenario("4 agent burst", () => benchBurst(stack, toolCall?.figures.warmPerSecond))
    : undefined;
  if (profiler) {
    const dir = join(BENCH_BUILD_DIR, "profiles");
    mkdirSync(dir, { recursive: true });
    log(
      `\nCPU profiles (scenarios 2-4):\n${(await profiler.stop(join(dir, new Date().toISOString().replace(/[:.]/g, "-")))).join("\n")}`,
    );
  }
  if (wanted(5)) await scenario("5 policy", () => benchPolicy(crypto.limits));
  if (wanted(6))
    await scenario("6 sessions", () => benchSessions(stack, crypto.limits.verify.ES256, burst?.sessionIds ?? []));
  if (wanted(7)) await scenario("7 store latency", () => benchStoreLatency(stack));
  if (args.peers) {
    const profileDir = args.profile ? join(BENCH_BUILD_DIR, "profiles") : undefined;
    if (profileDir) mkdirSync(profileDir, { recursive: true });
    await scenario("8 peers", () => benchPeers(stack, log, profileDir ? { profileDir } : {}));
  }
  if (args.soak && inspectorPort) await scenario("9 memory soak", () => benchSoak(stack, inspectorPort, log));
  // After the soak: its 10,000 sessions stay open to the end of the run.
  if (args.scale && inspectorPort) await scenario("10 scale", () => benchScale(stack, inspectorPort, log));
} catch (err) {
  console.error(`\nbenchmark failed: ${(err as Error).stack ?? String(err)}`);
  await stop(1);
}

machine.loadAfter = loadavg()[0]!;
const rows: Row[] = Object.values(results).flatMap((r) => r.rows);
log(`\n${"=".repeat(30)} npm run bench: every figure with its limit ${"=".repeat(30)}`);
log(`machine: ${machineLine(machine)} (after: ${machine.loadAfter.toFixed(2)})\n`);
log(formatTable(rows));
log("");
for (const note of Object.values(results).flatMap((r) => r.notes ?? [])) log(note);
const targets = rows.filter((r) => r.target);
const failed = targets.filter((r) => r.target!.verdict === "FAIL");
log(
  `\ntargets: ${targets.length - failed.length} of ${targets.length} PASS${failed.length ? `; FAIL: ${failed.map((r) => `${r.measure} (${r.target!.text})`).join("; ")}` : ""}`,
);

const durationSec = (performance.now() - started) / 1000;
writeFileSync(
  args.out,
  `${JSON.stringify({ date: new Date().toISOString(), durationSec, machine, rows, markdown: formatMarkdown(rows, machine), scenarios: Object.fromEntries(Object.entries(results).map(([name, r]) => [name, r.data])) }, null, 2)}\n`,
);
log(`wrote ${args.out} (${durationSec.toFixed(0)} s)`);
await stop(0);
