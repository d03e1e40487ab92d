// What the memory and scale scenarios read about the workerd process that Miniflare started:
// its resident memory and CPU time from /proc (the whole process: every worker of the stack), the
// gateway isolate's JavaScript heap after a full garbage collection through workerd's inspector
// (the gateway's Durable Objects share its isolate), and the Durable Objects' SQLite files on disk.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
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

/** Opens the inspector of the gateway worker; `poke` wakes the isolate (see below). */
export async function gatewayHeapProbe(inspectorPort: number, poke: () => Promise<unknown>): Promise<HeapProbe> {
  const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json/list`)).json()) as {
    id: string;
    webSocketDebuggerUrl: string;
  }[];
  const target = targets.find((t) => t.id === "core:user:gateway");
  if (!target) throw new Error("the gateway worker has no inspector target");
  const inspector = await InspectorSession.open(target.webSocketDebuggerUrl);
  // workerd's inspector answers an idle isolate's commands only once the isolate runs again:
  // one cheap request to the gateway (a 404) does it.
  const ask = async <T>(method: string): Promise<T> => {
    const answer = inspector.send<T>(method);
    let answered = false;
    void answer.finally(() => (answered = true));
    while (!answered) await Promise.race([answer, poke().then(() => sleep(50))]);
    return answer;
  };
  return {
    async heapAfterGc() {
      await ask("HeapProfiler.collectGarbage");
      return (await ask<{ usedSize: number }>("Runtime.getHeapUsage")).usedSize;
    },
    close: () => inspector.close(),
  };
}

/** A request the gateway answers at once (404), to wake its isolate for the inspector. */
export const gatewayPoke = (http: HttpClient, gatewayUrl: string) => () =>
  http.send("GET", `${gatewayUrl}/soak-poke`, {});

export const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
export const kib = (bytes: number) => `${bytes >= 0 ? "+" : ""}${(bytes / 1024).toFixed(1)} KiB`;
