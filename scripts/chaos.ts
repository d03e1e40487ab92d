// npm run chaos [-- --quick] [-- --only redis-pause,gateway-kill]: the operator's drill
// (docs/operations/chaos.md). Starts its own `npm run dev` stack on free loopback ports, with a
// private redis-server behind its own Upstash-protocol bridge; keeps machine agents calling tools
// through the gateway and a user's refresh-token grant alive; injects each fault in turn (Redis
// paused, Redis restarted empty, upstreams and audit sink hanging, the gateway's and the auth
// tier's runtimes killed); and prints one table: fault, what agents saw, calls failed, audit
// events lost, time to recover, and the reliability targets (docs/reliability/*.md). Exits 1 when
// a target is missed, 2 when the drill itself could not run. Loopback only, bounded in time.
import { parseArgs } from "node:util";
import { startDrillStack, type DrillStack } from "./chaos/drill-stack.js";
import type { DrillRow } from "./chaos/drill-window.js";
import { DRILLS } from "./chaos/drills.js";
import { startMachineAgents, type MachineAgents } from "./chaos/machine-agents.js";
import { allPass, formatTable } from "./chaos/table.js";
import { startUserGrant } from "./chaos/user-grant.js";

const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string" },
    agents: { type: "string", default: "4" },
  },
});

const log = (line: string) => console.log(`[chaos] ${line}`);
const only = args.only?.split(",").map((name) => name.trim());
const unknown = only?.filter((name) => !DRILLS.some((d) => d.name === name)) ?? [];
if (unknown.length) {
  console.error(`unknown drill ${unknown.join(", ")}; drills: ${DRILLS.map((d) => d.name).join(", ")}`);
  process.exit(2);
}
// At one call each every 400 ms, 6 agents make up to 900 calls a minute, within the dev
// configuration's 1,200 per principal (they all are the one machine client); beyond it calls would
// be refused by design, not by a fault.
const agentCount = Number(args.agents);
if (!Number.isInteger(agentCount) || agentCount < 1 || agentCount > 6) {
  console.error("--agents takes a whole number from 1 to 6");
  process.exit(2);
}
const drills = DRILLS.filter((d) => !only || only.includes(d.name));
// The whole run is bounded: a stack that neither recovers nor fails within this ends the drill.
const LIMIT_MS = (args.quick ? 8 : 15) * 60_000;

let stack: DrillStack | undefined;
let agents: MachineAgents | undefined;
const rows: DrillRow[] = [];
const began = Date.now();

async function finish(code: number): Promise<never> {
  await agents?.stop();
  // npm run dev's output is kept for a run that missed a target or could not finish.
  await stack?.stop(code !== 0);
  process.exit(code);
}

const watchdog = setTimeout(() => {
  log(`the drill did not finish within ${LIMIT_MS / 60_000} minutes; stopping`);
  if (rows.length) console.log(formatTable(rows));
  void finish(2);
}, LIMIT_MS);
process.on("SIGINT", () => {
  if (rows.length) console.log(formatTable(rows));
  void finish(130);
});

try {
  stack = await startDrillStack(log);
  const user = await startUserGrant(stack.info);
  agents = startMachineAgents(stack.info, agentCount);
  log(
    `${agentCount} machine agents calling tools through ${stack.info.mcp}; a user's refresh grant held by a registered public client`,
  );
  let missingBefore = 0;
  for (const drill of drills) {
    if (!stack.running()) {
      log(`npm run dev has stopped; the drills left (${drill.name} on) cannot run`);
      break;
    }
    const row = await drill.run({ stack, agents, user, quick: args.quick, log, missingBefore });
    missingBefore = row.missing;
    rows.push(row);
    log(`  ${row.targets.every((t) => t.pass) ? "PASS" : "FAIL"}: ${row.saw}`);
  }
} catch (err) {
  log(`the drill could not run: ${(err as Error).message}`);
  if (stack) log(`npm run dev's output: ${stack.logFile}`);
  if (rows.length) console.log(formatTable(rows));
  clearTimeout(watchdog);
  await finish(2);
}

clearTimeout(watchdog);
const total = agents!.calls.filter((c) => c.reached).length;
console.log("");
console.log(formatTable(rows));
console.log("");
const complete = rows.length === drills.length;
const passed = complete && allPass(rows);
log(
  `${rows.length} of ${drills.length} drills, ${total} tool calls in ${((Date.now() - began) / 1000).toFixed(0)} s: ${passed ? "every target met" : "TARGETS MISSED"}`,
);
if (!passed) log(`npm run dev's output: ${stack!.logFile}`);
await finish(passed ? 0 : 1);
