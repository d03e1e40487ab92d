// CPU time of one process (all its threads), read from /proc/<pid>/stat: utime + stime (proc(5),
// fields 14 and 15, in clock ticks). Scenario 8 divides what a worker's own workerd process spent
// across a run by the requests it answered, so that neither the load generator, the Redis bridge
// nor Redis is counted. Linux only.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      ticksPerSecond = 100; // USER_HZ on every mainstream Linux build.
    }
  }
  return ticksPerSecond;
}

/** The fields after the command name, which is in parentheses and may itself contain spaces. */
function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** CPU seconds (user + system) the process has used so far. */
export function cpuSeconds(pid: number): number {
  const fields = statFields(pid);
  // statFields starts at field 3 (state): utime is field 14, stime field 15.
  return (Number(fields[11]) + Number(fields[12])) / clockTicks();
}

/** Child processes of this process named `name` (e.g. the workerd each Miniflare starts). */
export function childPids(name: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      if (comm === name && Number(statFields(Number(entry))[1]) === process.pid) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

/** Runs `work` and returns its result with the CPU seconds `pid` spent meanwhile. */
export async function measureCpu<T>(pid: number, work: () => Promise<T>): Promise<{ result: T; cpuSec: number }> {
  const before = cpuSeconds(pid);
  const result = await work();
  return { result, cpuSec: cpuSeconds(pid) - before };
}
