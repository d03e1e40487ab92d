// The memory soak (scenario 9) and the scale scenario (10) of `npm run bench` at a tiny size, so
// that their code keeps running between the rare long runs: a real bench stack (workerd through
// Miniflare, the Redis bridge, the fast upstream), 20 sessions and 200 calls. Only that they run
// and produce their rows is checked: no figure and no timing is asserted.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  allocatorStats,
  cpuSeconds,
  memoryBreakdown,
  sqliteFiles,
  workerdPid,
} from "../../scripts/bench/process-probe.js";
import { benchScale } from "../../scripts/bench/scale.js";
import { benchSoak } from "../../scripts/bench/soak.js";
import { startBenchStack, type BenchStack } from "../../scripts/bench/stack.js";
import { freePort } from "../helpers/workers.js";

describe("bench scenarios 9 and 10 at a tiny size", () => {
  let stack: BenchStack;
  let inspectorPort: number;
  const lines: string[] = [];
  const log = (line: string) => lines.push(line);

  beforeAll(async () => {
    inspectorPort = await freePort();
    stack = await startBenchStack({ inspectorPort, log });
  }, 180_000);
  afterAll(async () => {
    await stack?.dispose();
  });

  it("finds the workerd it started and reads its CPU time and the Durable Objects' files", () => {
    const pid = workerdPid();
    expect(cpuSeconds(pid)).toBeGreaterThan(0);
    expect(sqliteFiles(stack.doStorageDir)).toBeInstanceOf(Map);
    const memory = memoryBreakdown(pid, stack.doStorageDir);
    expect(memory.anon + memory.file + memory.shmem).toBe(memory.rss);
    expect(memory.file).toBeGreaterThan(0); // workerd's own binary
    expect(memory.threads).toBeGreaterThan(0);
  });

  it("reads the allocator's split of workerd's native heap through gdb, or reports that it cannot", () => {
    const stats = allocatorStats(workerdPid());
    if (stats === undefined) return; // no gdb on this machine: the soak's rows then say "not read"
    expect(stats.inUse).toBeGreaterThan(0);
    expect(stats.resident).toBeGreaterThanOrEqual(stats.inUse + stats.free);
  }, 120_000);

  it("soak: calls, the floor and session churn, with RSS, where it grew and heaps after GC in its rows", async () => {
    const result = await benchSoak(stack, inspectorPort, log, {
      sessions: 4,
      warmupCalls: 20,
      rounds: 2,
      callsPerRound: 100,
      churnWarmup: 4,
      churnRounds: 2,
      sessionsPerChurnRound: 8,
      idleMs: 0,
      evictionMs: 5_000,
      allocator: false,
    });
    expect(result.rows.map((r) => r.measure)).toEqual([
      expect.stringContaining("200 warm calls on 4 sessions"),
      expect.stringContaining("where the calls' growth is"),
      expect.stringContaining("the native heap"),
      expect.stringContaining("plateau?"),
      expect.stringContaining("platform floor"),
      expect.stringContaining("16 sessions opened, called once and closed"),
      expect.stringContaining("where the sessions' growth is"),
      expect.stringContaining("the native heap"),
      expect.stringContaining("plateau?"),
      expect.stringContaining("Durable Objects opened, called once and closed through the platform floor"),
    ]);
    for (const row of result.rows.filter((r) => !r.measure.startsWith("the native heap")))
      expect(row.result).toMatch(/MiB|KiB/);
    // Without gdb the allocator's split is said to be missing, not made up.
    expect(result.rows[2]!.result).toContain("not read");
    expect(result.rows.filter((r) => r.target).map((r) => r.target!.verdict)).toHaveLength(2);
    expect(result.rows[0]!.limit).toContain("heap after GC");
    const samples = result.data.samples as { heapUsed: number; heapsUsed: number; rss: number; anon: number }[];
    expect(samples.every((s) => s.heapUsed > 0 && s.heapsUsed > s.heapUsed && s.rss >= s.anon && s.anon > 0)).toBe(
      true,
    );
  }, 180_000);

  it("scale: live sessions over several principals, CPU per call beside the floor's, and bytes per session", async () => {
    const result = await benchScale(stack, inspectorPort, log, {
      hot: 4,
      live: 20,
      calls: 200,
      concurrency: 4,
      principals: 3,
    });
    expect(result.rows.map((r) => r.measure)).toEqual([
      expect.stringContaining("open 20 sessions over 3 principals"),
      expect.stringContaining("workerd CPU per warm call on 4 sessions"),
      expect.stringContaining("floor: workerd CPU per call, worker → Durable Object → upstream on 4 objects"),
      expect.stringContaining("memory per live session"),
      expect.stringContaining("floor: workerd RSS per Durable Object alone"),
      expect.stringContaining("storage per live session"),
      expect.stringContaining("round robin"),
    ]);
    expect(result.rows[1]!.target?.verdict).toMatch(/^(PASS|FAIL)$/);
    // Every live session has its object's SQLite file on disk.
    expect((result.data.storage as { filesAdded: number }).filesAdded).toBeGreaterThanOrEqual(20);
    // An agent the stack does not have is refused plainly.
    await expect(stack.agentToken(99)).rejects.toThrow(/no bench agent 99/);
  }, 180_000);
});
