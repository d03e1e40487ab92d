// A private redis-server on a free loopback port, with no persistence, so that a drill (npm run chaos,
// and the store-loss spec) can freeze it (SIGSTOP), kill it and start it again empty without touching
// anybody else's Redis (docs/operations/chaos.md). npm run dev reaches it through the drill's Upstash-protocol bridge.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { Redis } from "ioredis";
import { freePort } from "../free-port.js";

export interface RedisServer {
  url: string;
  /** Freezes the server: connections stay open, nothing answers (a stalled or swapping host). */
  pause(): void;
  resume(): void;
  /** Kills the server and starts a new, empty one on the same port; resolves once it answers. */
  restartEmpty(): Promise<void>;
  stop(): Promise<void>;
}

async function answers(url: string): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1_000,
  });
  // A refused connection is the answer "no", not an error to report.
  client.on("error", () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

export async function startRedisServer(): Promise<RedisServer> {
  if (spawnSync("redis-server", ["--version"]).status !== 0) {
    throw new Error(
      "redis-server is not installed (Debian/Ubuntu: apt-get install -y redis-server; macOS: brew install redis)",
    );
  }
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let server: ChildProcess | undefined;

  const start = async () => {
    server = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      { stdio: "ignore" },
    );
    const deadline = Date.now() + 10_000;
    while (!(await answers(url))) {
      if (Date.now() > deadline) throw new Error(`redis-server did not start on port ${port}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const kill = async () => {
    const current = server;
    if (!current || current.exitCode !== null || current.signalCode !== null) return;
    const exited = once(current, "exit");
    current.kill("SIGKILL");
    await exited;
  };
  const signal = (name: NodeJS.Signals) => void server?.kill(name);

  await start();
  return {
    url,
    pause: () => signal("SIGSTOP"),
    resume: () => signal("SIGCONT"),
    async restartEmpty() {
      await kill();
      await start();
    },
    stop: kill,
  };
}
