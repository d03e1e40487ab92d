#!/usr/bin/env node
// Runs a command under Node >= 22.12 (wrangler 4 and vitest 5 refuse older ones).
// This file itself must run on any Node from 18 on, with no dependencies: it is the
// first thing `npm run dev` / `npm test` execute on a machine whose own Node is older.
// When the system Node is too old, Node 22 comes from the npm registry's `node` package
// (a real binary), installed once into .tools/, and its bin folder is put first on PATH
// so every child (wrangler, vitest, workerd's helpers) runs under it.
import { spawnSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const MIN = [22, 12];
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const toolsDir = join(root, ".tools");
const toolsBin = join(toolsDir, "node_modules", "node", "bin");

function isRecentEnough(version) {
  const [major, minor] = version.replace(/^v/, "").split(".").map(Number);
  return major > MIN[0] || (major === MIN[0] && minor >= MIN[1]);
}

function versionOf(nodeBinary) {
  const r = spawnSync(nodeBinary, ["--version"], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : null;
}

function ensureNodeBin() {
  if (isRecentEnough(process.version)) return dirname(process.execPath);
  const local = join(toolsBin, "node");
  const existing = existsSync(local) ? versionOf(local) : null;
  if (existing && isRecentEnough(existing)) return toolsBin;
  process.stderr.write(
    `Node ${process.version} is older than ${MIN.join(".")}; installing Node 22 from the npm registry into .tools/ (once)...\n`,
  );
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const r = spawnSync(
    npm,
    ["install", "--prefix", toolsDir, "--no-save", "--no-package-lock", "--no-audit", "--no-fund", "node@22"],
    { stdio: ["ignore", "inherit", "inherit"] },
  );
  const installed = existsSync(local) ? versionOf(local) : null;
  if (r.status !== 0 || !installed || !isRecentEnough(installed)) {
    process.stderr.write(
      "Could not install Node 22 from the npm registry. Install Node >= 22.12 yourself (https://nodejs.org) and retry.\n",
    );
    process.exit(1);
  }
  process.stderr.write(`Using ${installed} from .tools/\n`);
  return toolsBin;
}

const [command, ...args] = process.argv.slice(2);
if (!command) {
  process.stderr.write("usage: node scripts/node22.mjs <command> [args...]\n");
  process.exit(2);
}
const bin = ensureNodeBin();
const sep = process.platform === "win32" ? ";" : ":";
const env = { ...process.env, PATH: `${bin}${sep}${process.env.PATH ?? ""}` };
const child = spawn(command, args, { stdio: "inherit", env });
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => child.kill(signal));
}
child.on("exit", (code, signal) => {
  if (signal) process.kill(process.pid, signal);
  else process.exit(code ?? 1);
});
child.on("error", (err) => {
  process.stderr.write(`Cannot run ${command}: ${err.message}\n`);
  process.exit(127);
});
