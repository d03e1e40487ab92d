// Builds both workers once with the same bundler deploys use (`wrangler deploy --dry-run`),
// checks that a real Redis answers, and starts one Upstash-protocol bridge for all test files.
import { randomBytes } from "node:crypto";
import type { TestProject } from "vitest/node";
import { buildWorkers } from "./helpers/build.js";
import { finishRuntimeOutput, startRuntimeOutput } from "./helpers/runtime-output.js";
import { startRedisBridge, type RedisBridge } from "../scripts/redis-bridge.js";
import { REDIS_URL, requireRedis } from "./helpers/redis.js";
import { generateSigningKey } from "../scripts/keys.js";
import { generateValueKey } from "../src/auth/store/value-encryption.js";

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

export async function setup(project: TestProject) {
  startRuntimeOutput();
  await Promise.all([requireRedis(), buildWorkers()]);
  const token = randomBytes(24).toString("base64url");
  bridge = await startRedisBridge({ redisUrl: REDIS_URL, token, port: 0 });
  project.provide("bridgeUrl", bridge.url);
  project.provide("bridgeToken", token);
  project.provide("signingKeys", JSON.stringify({ keys: [await generateSigningKey("ES256")] }));
  project.provide("redisEncryptionKey", generateValueKey());
}

export async function teardown() {
  await bridge?.close();
  // No log line of any runtime in this run may carry a credential (docs/observability.md).
  const { runtimes, findings } = finishRuntimeOutput();
  console.log(`checked the logs of ${runtimes} workerd runtimes for credentials: ${findings.length ? "FOUND" : "none"}`);
  if (findings.length) throw new Error(`worker logs carry credentials:\n  ${findings.join("\n  ")}`);
}
