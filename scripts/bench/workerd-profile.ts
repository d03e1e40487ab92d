// CPU profiles of the workers inside workerd, through its inspector (the Chrome DevTools
// protocol, as `wrangler dev` exposes it): `npm run bench -- --profile` records one per worker
// while the scenarios run, writes .cpuprofile files (open them in Chrome DevTools or VS Code) and
// prints the functions that took the most time of their own.
import { writeFile } from "node:fs/promises";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
  startTime: number;
  endTime: number;
}

export class InspectorSession {
  private nextId = 1;
  private readonly pending = new Map<number, (result: unknown) => void>();

  private constructor(private readonly socket: WebSocket) {
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
      if (message.id !== undefined) this.pending.get(message.id)?.(message.result);
    });
  }

  static async open(url: string): Promise<InspectorSession> {
    const socket = new WebSocket(url);
    await new Promise((resolve, reject) => {
      socket.addEventListener("open", resolve, { once: true });
      socket.addEventListener("error", reject, { once: true });
    });
    return new InspectorSession(socket);
  }

  send<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    this.socket.send(JSON.stringify({ id, method, params }));
    return new Promise((resolve) => this.pending.set(id, resolve as (result: unknown) => void));
  }

  close(): void {
    this.socket.close();
  }
}

export interface WorkerdProfiler {
  /** Stops every profile, writes `<prefix>-<worker>.cpuprofile`, and returns a summary per worker. */
  stop(prefix: string): Promise<string[]>;
}

/**
 * Starts sampling the named workers (e.g. "auth", "gateway") in workerd, whose inspector listens
 * on `port`. Every 200 µs: finer sampling slows the workers enough to change what is measured.
 */
export async function startWorkerdProfiler(port: number, workers: string[]): Promise<WorkerdProfiler> {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as {
    id: string;
    webSocketDebuggerUrl: string;
  }[];
  const sessions = await Promise.all(
    targets
      // User workers are core:user:<name>; Miniflare's own are named by id (core:entry, outbound:0, ...).
      .filter((t) => workers.includes(t.id.replace(/^core:user:/, "")) || workers.includes(t.id))
      .map(async (t) => ({
        title: t.id.replace(/^core:user:/, "").replace(/:/g, "-"),
        session: await InspectorSession.open(t.webSocketDebuggerUrl),
      })),
  );
  for (const { session } of sessions) {
    await session.send("Profiler.enable");
    await session.send("Profiler.setSamplingInterval", { interval: 200 });
    await session.send("Profiler.start");
  }
  return {
    async stop(prefix) {
      const summaries: string[] = [];
      for (const { title, session } of sessions) {
        const { profile } = await session.send<{ profile: CpuProfile }>("Profiler.stop");
        session.close();
        const file = `${prefix}-${title}.cpuprofile`;
        await writeFile(file, JSON.stringify(profile));
        summaries.push(`${title} (${file}):\n${summarize(profile)}`);
      }
      return summaries;
    },
  };
}

/** The functions with the most self time, and the share of time outside JavaScript. */
function summarize(profile: CpuProfile, top = 25): string {
  const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  const total = profile.samples?.length ?? 0;
  for (const id of profile.samples ?? []) {
    const frame = byNode.get(id)!.callFrame;
    const file = frame.url.split("/").pop() ?? "";
    const key = `${frame.functionName || "(anonymous)"} ${file}:${frame.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + 1);
  }
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([key, n]) => `  ${((100 * n) / Math.max(1, total)).toFixed(1).padStart(5)} %  ${key}`)
    .join("\n");
}
