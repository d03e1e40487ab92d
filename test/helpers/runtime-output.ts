// Every workerd runtime the tests start writes its output (the workers' logs) to a file here,
// beside the secrets it was given, so that the global teardown can prove that no log line of
// any test run carries a bearer token, a client secret or a signing key. SHOW_WORKER_LOGS=1
// echoes the output to the terminal as well.
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { BUILD_DIR } from "./build.js";

/**
 * One directory per test run (test runs may overlap on one machine): the global setup names it
 * in the environment, which the test workers inherit.
 */
const RUN_DIR_VARIABLE = "AIG_RUNTIME_OUTPUT_DIR";

/** A JWT (header.payload.signature, both JSON parts base64url of "{"), as bearer tokens are. */
const JWT = /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}/;

let runtimes = 0;

/** The private parts of a JWK set (SIGNING_KEYS), which must never be logged. */
export function privateKeyParts(jwks: string): string[] {
  const { keys } = JSON.parse(jwks) as { keys: { d?: string }[] };
  return keys.flatMap((key) => (key.d ? [key.d] : []));
}

/**
 * Miniflare's handleRuntimeStdio for a new runtime, recording its output and its secrets;
 * `onOutput` also receives the output (e.g. for a test that expects a log line).
 */
export function captureRuntimeOutput(
  tier: string,
  secrets: string[],
  onOutput?: (text: string) => void,
): { handleRuntimeStdio?: (stdout: Readable, stderr: Readable) => void } {
  const dir = process.env[RUN_DIR_VARIABLE];
  if (!dir && !onOutput) return {};
  let file: ReturnType<typeof createWriteStream> | undefined;
  if (dir) {
    mkdirSync(dir, { recursive: true });
    const base = join(dir, `${tier}-${process.pid}-${++runtimes}`);
    writeFileSync(`${base}.secrets.json`, JSON.stringify(secrets.filter((s) => s.length >= 8)));
    file = createWriteStream(`${base}.log`);
  }
  return {
    handleRuntimeStdio(stdout, stderr) {
      for (const stream of [stdout, stderr]) {
        stream.on("data", (chunk: Buffer) => {
          file?.write(chunk);
          onOutput?.(chunk.toString("utf8"));
          if (process.env.SHOW_WORKER_LOGS) process.stderr.write(chunk);
        });
      }
    },
  };
}

/** Starts this run's capture (global setup). */
export function startRuntimeOutput(): void {
  process.env[RUN_DIR_VARIABLE] = join(BUILD_DIR, "runtime-output", `${process.pid}-${Date.now()}`);
}

/** Ends this run's capture (global teardown): the findings, and the directory is removed when there are none. */
export function finishRuntimeOutput(): { runtimes: number; findings: string[] } {
  const dir = process.env[RUN_DIR_VARIABLE];
  if (!dir || !existsSync(dir)) return { runtimes: 0, findings: [] };
  const runtimes = readdirSync(dir).filter((f) => f.endsWith(".log")).length;
  const findings = credentialsIn(dir);
  if (!findings.length) rmSync(dir, { recursive: true, force: true });
  return { runtimes, findings };
}

/** What credentials the captured output holds: one line per runtime and kind, never the value. */
function credentialsIn(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const findings: string[] = [];
  for (const name of readdirSync(dir).filter((f) => f.endsWith(".log"))) {
    const text = readFileSync(join(dir, name), "utf8");
    const secrets = JSON.parse(readFileSync(join(dir, name.replace(/\.log$/, ".secrets.json")), "utf8")) as string[];
    if (JWT.test(text)) findings.push(`${join(dir, name)}: a JWT (bearer token)`);
    if (secrets.some((secret) => text.includes(secret)))
      findings.push(`${join(dir, name)}: one of the secrets the runtime was given`);
  }
  return findings;
}
