import { defineConfig } from "vitest/config";

// Tests run in Node and drive the real workers in workerd through Miniflare's API
// (docs/testing.md; docs/decisions.md says why), so the test environment itself is plain Node.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: workerd processes are heavy, keep parallel files modest.
    maxWorkers: 2,
    // Worker logs are kept for failing tests only, so a red run shows what the runtime said.
    silent: "passed-only",
  },
});
