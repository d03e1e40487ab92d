// The pure parts of `npm run dev`'s stack handling: its arguments, where a stack's wrangler dev
// registry lives, and forgetting the registry entry a dead wrangler left behind (which would keep a
// restarted tier out of the registry, and the gateway's AUTH binding dialing a dead runtime).
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { forgetDeadRegistration, workerName } from "../../scripts/dev-registry.js";
import { devRegistryPath, parseDevArgs } from "../../scripts/dev-stack.js";
import { ROOT } from "../helpers/build.js";
import { closedPort } from "../helpers/redis.js";

const registry = mkdtempSync(join(tmpdir(), "dev-registry-"));
afterAll(() => rmSync(registry, { recursive: true, force: true }));

/** A registry entry as wrangler writes it, naming `port` as the runtime's debug port. */
function entry(worker: string, port: number): string {
  const file = join(registry, worker);
  writeFileSync(
    file,
    JSON.stringify(
      {
        debugPortAddress: `127.0.0.1:${port}`,
        defaultEntrypointService: `core:user:${worker}`,
        userWorkerService: `core:user:${worker}`,
        instanceId: "a-dead-or-alive-wrangler",
      },
      null,
      2,
    ),
  );
  return file;
}

describe("npm run dev's arguments", () => {
  it("runs everything by default, and one part with --only auth|gateway|demo", () => {
    expect(parseDevArgs([])).toEqual({ only: "all" });
    expect(parseDevArgs(["--only", "auth"])).toEqual({ only: "auth" });
    expect(parseDevArgs(["--only=gateway"])).toEqual({ only: "gateway" });
    expect(parseDevArgs(["--only", "demo"])).toEqual({ only: "demo" });
  });

  it("refuses another part or argument with the usage", () => {
    expect(() => parseDevArgs(["--only", "redis"])).toThrow("usage: npm run dev [-- --only auth|gateway|demo]");
    expect(() => parseDevArgs(["--only"])).toThrow("--only takes auth, gateway or demo");
    expect(() => parseDevArgs(["--gateway"])).toThrow("unknown argument --gateway");
  });
});

describe("a stack's wrangler dev registry", () => {
  it("is the stack's own, in its storage directory, unless WRANGLER_REGISTRY_PATH names one", () => {
    expect(devRegistryPath({}, "/checkout/.wrangler/state")).toBe("/checkout/.wrangler/state/registry");
    expect(devRegistryPath({ WRANGLER_REGISTRY_PATH: "/elsewhere" }, "/checkout/.wrangler/state")).toBe("/elsewhere");
  });

  it("names each tier's worker as its wrangler configuration does", () => {
    expect(workerName(readFileSync(join(ROOT, "wrangler.auth.toml"), "utf8"))).toBe("ai-identity-auth");
    expect(workerName(readFileSync(join(ROOT, "wrangler.gateway.toml"), "utf8"))).toBe("ai-identity-gateway");
  });

  it("forgets an entry whose runtime is gone, so a restarted tier can register at once", async () => {
    const file = entry("ai-identity-auth", await closedPort());
    expect(await forgetDeadRegistration(registry, "ai-identity-auth")).toBe(true);
    expect(existsSync(file)).toBe(false);
  });

  it("keeps an entry whose runtime still listens (another stack sharing the registry)", async () => {
    const server = createServer().listen(0, "127.0.0.1");
    await once(server, "listening");
    try {
      const file = entry("ai-identity-gateway", (server.address() as AddressInfo).port);
      expect(await forgetDeadRegistration(registry, "ai-identity-gateway")).toBe(false);
      expect(existsSync(file)).toBe(true);
    } finally {
      server.close();
    }
  });

  it("leaves a registry without the entry, or with one being written, alone", async () => {
    expect(await forgetDeadRegistration(registry, "no-such-worker")).toBe(false);
    writeFileSync(join(registry, "half-written"), '{"debugPortAd');
    expect(await forgetDeadRegistration(registry, "half-written")).toBe(false);
  });
});
