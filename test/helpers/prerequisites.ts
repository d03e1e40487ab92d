// What the test files need from the machine beyond node_modules — a Chromium for the browser
// sign-ins, a Redis at REDIS_URL for the tiers' store, redis-server for the drills that run Redis
// of their own — and which of them the files of this run need. test/global-setup.ts checks them
// before it builds anything, so a fresh machine learns in the first seconds what to install and
// how (docs/dev-stack.md), rather than from suites failing one by one a minute later.
// A file needs what any module it imports (its relative imports, transitively) needs.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { dirname, join, relative } from "node:path";

const ROOT = join(import.meta.dirname, "..", "..");

export interface Prerequisite {
  /** What is missing, as the report names it. */
  name: string;
  /** Whether a test file (its source, or a module it imports) needs it. */
  neededBy: (source: string, path: string) => boolean;
  /** Whether this machine has it. */
  present: () => Promise<boolean>;
  /** How to get it. */
  install: string;
}

/** Whether something at host:port answers a Redis PING (NOAUTH is an answer too). */
export function redisAnswers(host: string, port: number, timeoutMs = 2_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(timeoutMs);
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.once("data", (data) => {
      socket.destroy();
      resolve(/^(\+PONG|-NOAUTH)/.test(data.toString()));
    });
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Whether `command --version` runs. */
export function commandRuns(command: string): boolean {
  return spawnSync(command, ["--version"], { stdio: "ignore" }).status === 0;
}

export function prerequisites(env: NodeJS.ProcessEnv = process.env): Prerequisite[] {
  const chromium = env.CHROMIUM_PATH ?? "/usr/bin/chromium";
  const redisUrl = new URL(env.REDIS_URL ?? "redis://127.0.0.1:6379");
  return [
    {
      name: `Chromium at ${chromium} (the browser sign-in tests drive it with playwright-core, which downloads no browser)`,
      neededBy: (_, path) => path.endsWith("test/helpers/browser.ts"),
      present: async () => existsSync(chromium),
      install:
        "sudo apt-get install -y chromium   (Debian/Ubuntu), or set CHROMIUM_PATH to a Chromium or Chrome binary",
    },
    {
      name: `a Redis answering at ${redisUrl.host} (the auth tier's store, through the test run's Upstash bridge)`,
      neededBy: (source, path) =>
        path.endsWith("test/helpers/redis.ts") ||
        /inject\("bridge(Url|Token)"\)/.test(source) ||
        /"run", "dev"/.test(source),
      present: () => redisAnswers(redisUrl.hostname, Number(redisUrl.port || 6379)),
      install:
        "sudo apt-get install -y redis-server && redis-server --daemonize yes --save '' --appendonly no   (macOS: brew install redis), or set REDIS_URL",
    },
    {
      name: "redis-server (the store drills start and stop Redis servers of their own)",
      neededBy: (_, path) => path.endsWith("scripts/chaos/redis-server.ts"),
      present: async () => commandRuns("redis-server"),
      install: "sudo apt-get install -y redis-server   (macOS: brew install redis)",
    },
  ];
}

/** `file` and every module it imports by a relative specifier, transitively (TypeScript sources). */
export function importClosure(file: string): Map<string, string> {
  const found = new Map<string, string>();
  const pending = [file];
  while (pending.length) {
    const path = pending.pop()!;
    if (found.has(path) || !existsSync(path)) continue;
    const source = readFileSync(path, "utf8");
    found.set(path, source);
    for (const [, specifier] of source.matchAll(/(?:from|import\()\s*["'](\.{1,2}\/[^"']+)["']/g)) {
      const target = join(dirname(path), specifier!);
      pending.push(target.endsWith(".js") ? `${target.slice(0, -3)}.ts` : target);
    }
  }
  return found;
}

export interface Missing {
  prerequisite: Prerequisite;
  /** The test files that need it, relative to the repository. */
  files: string[];
}

/** The prerequisites that `files` need and this machine lacks. */
export async function missingPrerequisites(
  files: string[],
  list: Prerequisite[] = prerequisites(),
): Promise<Missing[]> {
  const missing: Missing[] = [];
  for (const prerequisite of list) {
    const needing = files.filter((file) =>
      [...importClosure(file)].some(([path, source]) => prerequisite.neededBy(source, path)),
    );
    if (needing.length && !(await prerequisite.present()))
      missing.push({ prerequisite, files: needing.map((file) => relative(ROOT, file)) });
  }
  return missing;
}

/** The report for what is missing: each prerequisite, the command that installs it, and a few files that need it. */
export function missingReport(missing: Missing[]): string {
  const lines = ["This machine lacks what the selected tests need:"];
  for (const { prerequisite, files } of missing) {
    const shown = files.slice(0, 3).join(", ") + (files.length > 3 ? ` and ${files.length - 3} more` : "");
    lines.push(`  - ${prerequisite.name}`, `      install: ${prerequisite.install}`, `      needed by: ${shown}`);
  }
  lines.push("Install it and run npm test again (or run only the test files that do not need it).");
  return lines.join("\n");
}
