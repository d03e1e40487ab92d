// First, in seconds, whether this machine has what the selected test files need (Chromium, a
// Redis, redis-server: test/helpers/prerequisites.ts), with the command that installs what is
// missing. Then builds both workers once with the same bundler deploys use (`wrangler deploy
// --dry-run`) and starts one Upstash-protocol bridge for all test files.
import { randomBytes } from "node:crypto";
import type { TestProject } from "vitest/node";
import { generateSigningKey } from "../scripts/keys.js";
import { startRedisBridge, type RedisBridge } from "../scripts/redis-bridge.js";
import { generateValueKey } from "../src/auth/store/value-encryption.js";
import { buildWorkers } from "./helpers/build.js";
import { missingPrerequisites, missingReport, redisAnswers } from "./helpers/prerequisites.js";
import { REDIS_URL } from "./helpers/redis.js";
import { finishRuntimeOutput, startRuntimeOutput } from "./helpers/runtime-output.js";

declare module "vitest" {
  export interface ProvidedContext {
    bridgeUrl: string;
    bridgeToken: string;
    /** A private JWK set (SIGNING_KEYS) made for this run. */
    signingKeys: string;
    /** The Redis value key that config/auth.yaml names (REDIS_ENCRYPTION_KEY_K1), made for this run. */
    redisEncryptionKey: string;
  }
}

let bridge: RedisBridge | undefined;

/** The test files of this run: those the command line names (npm test -- test/x.test.ts), else all. */
async function selectedFiles(project: TestProject): Promise<string[]> {
  // Vitest keeps the command line's file filters here; it has no public getter for them.
  const filters = (project.vitest as unknown as { filenamePattern?: string[] }).filenamePattern ?? [];
  const specifications = await project.vitest.globTestSpecifications(filters);
  return [...new Set(specifications.map((specification) => specification.moduleId))];
}

export async function setup(project: TestProject) {
  const missing = await missingPrerequisites(await selectedFiles(project));
  if (missing.length) {
    // The report is the whole message: a stack trace into this file would only hide it.
    const error = new Error(missingReport(missing));
    error.stack = error.message;
    throw error;
  }
  startRuntimeOutput();
  await buildWorkers();
  const token = randomBytes(24).toString("base64url");
  // No selected file needs Redis when none answers (checked above): no bridge then.
  const redis = new URL(REDIS_URL);
  if (await redisAnswers(redis.hostname, Number(redis.port || 6379)))
    bridge = await startRedisBridge({ redisUrl: REDIS_URL, token, port: 0 });
  project.provide("bridgeUrl", bridge?.url ?? "");
  project.provide("bridgeToken", token);
  project.provide("signingKeys", JSON.stringify({ keys: [await generateSigningKey("ES256")] }));
  project.provide("redisEncryptionKey", generateValueKey());
}

export async function teardown() {
  await bridge?.close();
  // No log line of any runtime in this run may carry a credential (docs/observability.md).
  const { runtimes, findings } = finishRuntimeOutput();
  console.log(
    `checked the logs of ${runtimes} workerd runtimes for credentials: ${findings.length ? "FOUND" : "none"}`,
  );
  if (findings.length) throw new Error(`worker logs carry credentials:\n  ${findings.join("\n  ")}`);
}
