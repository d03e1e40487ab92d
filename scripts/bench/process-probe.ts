// What the memory and scale scenarios read about the workerd process that Miniflare started:
// its resident memory and CPU time from /proc (the whole process: every worker of the stack; proc(5)
// for the fields of /proc/<pid>/status: resident anonymous, file-backed and shared memory), the
// gateway isolate's JavaScript heap after a full garbage collection through workerd's inspector
// (the gateway's Durable Objects share its isolate), and the Durable Objects' SQLite files on disk.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { HttpClient } from "./load.js";
import { InspectorSession } from "./workerd-profile.js";

/** The workerd process that Miniflare started from this process. */
export function workerdPid(): number {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const [comm, fields] = statFields(entry);
      if (comm === "workerd" && Number(fields[1]) === process.pid) return Number(entry);
    } catch {
      // The process ended while we looked.
    }
  }
  throw new Error("no workerd child process found");
}

/** The command name and the fields after it of /proc/<pid>/stat (proc(5): state is the first). */
function statFields(pid: number | string): [string, string[]] {
  const [, comm, rest] = /^\d+ \((.*)\) (.*)$/s.exec(readFileSync(`/proc/${pid}/stat`, "utf8")) ?? [];
  return [comm ?? "", (rest ?? "").split(" ")];
}

export const rssBytes = (pid: number) =>
  Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) * 1024;

/** The process's open file descriptors (each Durable Object's SQLite database holds one or more). */
export const openFiles = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

/**
 * Where the resident memory is (proc(5), /proc/<pid>/status): anonymous (the allocator's heap and
 * V8's pages), file-backed (the workerd binary's pages; an mmapped database would count here or as
 * shared) and shared (tmpfs or shared mappings, e.g. a SQLite `-shm` file); the threads; and the
 * open file descriptors that point into `dir` (the Durable Objects' SQLite files: one per open
 * database, so a count of the objects still loaded).
 */
export interface MemoryBreakdown {
  rss: number;
  anon: number;
  file: number;
  shmem: number;
  threads: number;
  databases: number;
}

export function memoryBreakdown(pid: number, dir: string): MemoryBreakdown {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(status)?.[1] ?? 0) * 1024;
  let databases = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith(dir)) databases++;
    } catch {
      // Closed while we looked.
    }
  }
  return {
    rss: kb("VmRSS"),
    anon: kb("RssAnon"),
    file: kb("RssFile"),
    shmem: kb("RssShmem"),
    threads: Number(/^Threads:\s+(\d+)$/m.exec(status)?.[1] ?? 0),
    databases,
  };
}

let ticksPerSecond: number | undefined;

/** CPU seconds the process has used so far, user plus system, all threads (utime + stime). */
export function cpuSeconds(pid: number): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  const [, fields] = statFields(pid);
  // proc(5): utime and stime are fields 14 and 15; fields[0] here is field 3 (state).
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

/** The Durable Objects' SQLite files (WAL and journal beside each included) and their sizes. */
export function sqliteFiles(dir: string): Map<string, number> {
  const files = new Map<string, number>();
  for (const path of readdirSync(dir, { recursive: true, encoding: "utf8" })) {
    if (!/\.sqlite(-wal|-shm|-journal)?$/.test(path)) continue;
    try {
      files.set(path, statSync(join(dir, path)).size);
    } catch {
      // Deleted while we looked (a session that ended).
    }
  }
  return files;
}

export interface HeapProbe {
  /** The gateway isolate's used heap after a full collection, in bytes. */
  heapAfterGc(): Promise<number>;
  close(): void;
}

export interface IsolatesProbe {
  /**
   * A full collection in every isolate, then each one's used heap and the heap V8 holds for it
   * (used plus free space not yet returned), in bytes, by inspector target.
   */
  heapsAfterGc(): Promise<Map<string, { used: number; total: number }>>;
  close(): void;
}

/**
 * Opens the inspector of each named isolate (workerd's inspector targets: `core:user:<worker>`
 * for a worker, `outbound:<n>` for the n-th worker's outgoing-fetch interceptor that Miniflare
 * adds). workerd's inspector answers an idle isolate's commands only once the isolate runs
 * again: `pokes` holds, per target, a cheap request that makes it run.
 */
export async function isolatesProbe(
  inspectorPort: number,
  pokes: Record<string, () => Promise<unknown>>,
): Promise<IsolatesProbe> {
  const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json/list`)).json()) as {
    id: string;
    webSocketDebuggerUrl: string;
  }[];
  const sessions = new Map<string, { inspector: InspectorSession; poke: () => Promise<unknown> }>();
  for (const [id, poke] of Object.entries(pokes)) {
    const target = targets.find((t) => t.id === id);
    if (!target) throw new Error(`workerd's inspector has no target ${id}`);
    sessions.set(id, { inspector: await InspectorSession.open(target.webSocketDebuggerUrl), poke });
  }
  const ask = async <T>(inspector: InspectorSession, poke: () => Promise<unknown>, method: string): Promise<T> => {
    const answer = inspector.send<T>(method);
    let answered = false;
    void answer.finally(() => (answered = true));
    // A poke that fails (a connection the runtime closed) is only retried.
    while (!answered)
      await Promise.race([
        answer,
        poke().then(
          () => sleep(50),
          () => sleep(50),
        ),
      ]);
    return answer;
  };
  return {
    async heapsAfterGc() {
      const heaps = new Map<string, { used: number; total: number }>();
      for (const [id, { inspector, poke }] of sessions) {
        await ask(inspector, poke, "HeapProfiler.collectGarbage");
        const usage = await ask<{ usedSize: number; totalSize: number }>(inspector, poke, "Runtime.getHeapUsage");
        heaps.set(id, { used: usage.usedSize, total: usage.totalSize });
      }
      return heaps;
    },
    close: () => sessions.forEach(({ inspector }) => inspector.close()),
  };
}

/** Opens the inspector of the gateway worker; `poke` wakes the isolate (see isolatesProbe). */
export async function gatewayHeapProbe(inspectorPort: number, poke: () => Promise<unknown>): Promise<HeapProbe> {
  const probe = await isolatesProbe(inspectorPort, { "core:user:gateway": poke });
  return {
    heapAfterGc: async () => (await probe.heapsAfterGc()).get("core:user:gateway")!.used,
    close: () => probe.close(),
  };
}

/** A request the gateway answers at once (404), to wake its isolate for the inspector. */
export const gatewayPoke = (http: HttpClient, gatewayUrl: string) => () =>
  http.send("GET", `${gatewayUrl}/soak-poke`, {});

export const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
export const kib = (bytes: number) => `${bytes >= 0 ? "+" : ""}${(bytes / 1024).toFixed(1)} KiB`;

/**
 * The allocator's own account of the native heap, in bytes. workerd is linked with TCMalloc, not
 * glibc's malloc (its binary defines `malloc`, and `malloc_stats` prints TCMalloc's page), so glibc
 * settings such as MALLOC_ARENA_MAX do not apply to it. `inUse` is what the runtime has allocated
 * and not freed; the free lists are memory freed by the runtime that TCMalloc keeps resident for
 * reuse instead of returning it to the system.
 */
export interface AllocatorStats {
  inUse: number;
  /** Page heap, central, transfer and thread cache free lists together. */
  free: number;
  /** Everything resident that TCMalloc holds: in use, free lists and its metadata. */
  resident: number;
}

/**
 * Reads TCMalloc's statistics from the workerd process with gdb (MallocExtension's text-proto
 * statistics, written into a buffer in the process and copied out): undefined when gdb is not
 * installed or cannot attach. gdb stops the process for a few seconds while it reads its symbols;
 * take it between rounds, never while load is running.
 */
export function allocatorStats(pid: number): AllocatorStats | undefined {
  const out = join(tmpdir(), `aig-tcmalloc-${pid}-${Date.now()}.txt`);
  try {
    execFileSync(
      "gdb",
      [
        "-batch",
        "-nx",
        "-p",
        String(pid),
        "-ex",
        "set $buf = (char *) ((void *(*)(unsigned long)) malloc)(1048576)",
        "-ex",
        "set $n = ((int (*)(char *, int)) MallocExtension_Internal_GetStatsInPbtxt)($buf, 1048576)",
        "-ex",
        `dump binary memory ${out} $buf $buf + $n`,
        "-ex",
        "call ((void (*)(void *)) free)($buf)",
      ],
      { stdio: "ignore", timeout: 120_000 },
    );
    const text = readFileSync(out, "utf8");
    const field = (name: string) => Number(new RegExp(`\\b${name}: (\\d+)`).exec(text)?.[1] ?? Number.NaN);
    const free = ["page_heap_freelist", "central_cache_freelist", "transfer_cache_freelist", "thread_cache_freelists"]
      .map(field)
      .reduce((a, b) => a + b, 0);
    const stats = { inUse: field("in_use_by_app"), free, resident: field("actual_mem_used") };
    return Object.values(stats).every(Number.isFinite) ? stats : undefined;
  } catch {
    return undefined;
  } finally {
    rmSync(out, { force: true });
  }
}
