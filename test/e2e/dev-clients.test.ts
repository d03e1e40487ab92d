// `npm run dev` itself — wrangler dev for both tiers, the Redis bridge, the demo upstreams —
// started the way a newcomer starts it (on free ports, with its own Durable Object storage and
// wrangler dev registry so it cannot meet another stack on this machine), then used by what the
// README tells people to run: `npm run agent`, the MCP Inspector's CLI mode, and mcp-remote
// (as the stdio server of an MCP client, signing the user in through the browser).
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signInWithBrowser } from "../../scripts/agent/browser-login.js";
import { readDevStackInfo, type DevStackInfo } from "../../scripts/dev-stack.js";
import { launchChromium } from "../helpers/browser.js";
import { ROOT } from "../helpers/build.js";
import { machineToken } from "../helpers/e2e-clients.js";
import { freePort } from "../helpers/workers.js";

const run = promisify(execFile);
const bin = (name: string) => realpathSync(join(ROOT, "node_modules", ".bin", name));

const scratch = mkdtempSync(join(tmpdir(), "e2e-dev-"));
const env: NodeJS.ProcessEnv = {
  ...process.env,
  DEV_STACK_FILE: join(scratch, "stack.json"),
  DEV_PERSIST_DIR: join(scratch, "state"),
  WRANGLER_REGISTRY_PATH: join(scratch, "registry"),
};
let dev: ChildProcess;
let devOutput = "";
let info: DevStackInfo;
let browser: Browser;

beforeAll(async () => {
  const ports = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort(), freePort()]);
  for (const [i, name] of [
    "GATEWAY_PORT",
    "AUTH_PORT",
    "DEMO_MCP_PORT",
    "DEMO_REST_PORT",
    "DEMO_AUDIT_PORT",
    "AGENT_PORT",
  ].entries())
    env[name] = String(ports[i]);
  // Its own process group, so that stopping it reaches npm, tsx and the script alike.
  dev = spawn("npm", ["run", "dev"], { cwd: ROOT, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  const up = new Promise<void>((resolve, reject) => {
    const collect = (chunk: Buffer) => {
      devOutput += chunk.toString();
      if (devOutput.includes("Ctrl-C stops everything.")) resolve();
    };
    dev.stdout!.on("data", collect);
    dev.stderr!.on("data", collect);
    dev.once("exit", (code) => reject(new Error(`npm run dev exited (${code}):\n${devOutput}`)));
  });
  [, browser] = await Promise.all([up, launchChromium()]);
  info = readDevStackInfo(env.DEV_STACK_FILE)!;
}, 180_000);
afterAll(async () => {
  await browser?.close();
  if (dev?.exitCode === null) {
    // SIGTERM is Ctrl-C's path: dev.ts stops wrangler (its own process groups), the bridge and the demo.
    const exited = once(dev, "exit");
    process.kill(-dev.pid!, "SIGTERM");
    const stopped = await Promise.race([
      exited.then(() => true),
      new Promise<false>((resolve) => setTimeout(resolve, 30_000, false)),
    ]);
    if (!stopped) process.kill(-dev.pid!, "SIGKILL");
  }
  rmSync(scratch, { recursive: true, force: true });
}, 60_000);

describe("npm run dev", () => {
  it("prints how to connect, with the agent demo, the Inspector and mcp-remote", () => {
    for (const line of [
      "npm run agent",
      `npx @modelcontextprotocol/inspector --cli ${info.mcp}`,
      `npx mcp-remote ${info.mcp}`,
      `client_id demo-agent, client_secret ${info.machineAgent.clientSecret}`,
    ]) {
      expect(devOutput).toContain(line);
    }
  });

  it("npm run agent walks through discovery, login, policy, token exchange, audit and revocation", async () => {
    const { stdout } = await run("npm", ["run", "agent"], { cwd: ROOT, env, timeout: 90_000 });
    expect(stdout).toContain(
      `WWW-Authenticate: Bearer resource_metadata="${info.gateway}/.well-known/oauth-protected-resource/mcp", scope="tools:read"`,
    );
    expect(stdout).toContain(`authorization_servers ["${info.auth}"]`);
    expect(stdout).toMatch(
      /client_id is the agent's metadata document URL: http:\/\/127\.0\.0\.1:\d+\/client-metadata\.json/,
    );
    expect(stdout).toContain("tokens: access token for sub demo");
    expect(stdout).toMatch(
      /demo__whoami: user demo, acting agent \{"sub":"http:\/\/127\.0\.0\.1:\d+\/client-metadata\.json"/,
    );
    expect(stdout).toContain("notes__create_note: denied by policy: this tool needs the tools:write scope");
    expect(stdout).toMatch(
      /notes__create_note: deny\/denied agent=\S+ user=demo reason="token lacks scope tools:write"/,
    );
    expect(stdout).toContain(
      'notes__create_note: created: {"id":1,"text":"written by the machine agent","author":"demo-agent"}',
    );
    expect(stdout).toMatch(
      /refused \d+\.\d s after revocation: 401, WWW-Authenticate: Bearer resource_metadata="[^"]+", scope="tools:read", error="invalid_token", error_description="the token is no longer active \(revoked\)"/,
    );
    expect(stdout).toContain("Done: discovery, login, policy, token exchange, audit and revocation, end to end.");
  }, 90_000);

  it("the MCP Inspector's CLI mode lists and calls tools with the machine agent's token", async () => {
    const token = await machineToken(info);
    // Its catalog and client configuration live under HOME: a fresh one per run.
    const inspectorEnv = { ...env, HOME: join(scratch, "inspector-home") };
    const inspector = (...args: string[]) =>
      run(
        process.execPath,
        [bin("mcp-inspector"), "--cli", info.mcp, "--header", `Authorization: Bearer ${token}`, ...args],
        { env: inspectorEnv, timeout: 60_000 },
      );
    const listed = JSON.parse((await inspector("--method", "tools/list")).stdout) as { tools: { name: string }[] };
    expect(listed.tools.map((tool) => tool.name)).toContain("notes__create_note");
    const called = JSON.parse(
      (await inspector("--method", "tools/call", "--tool-name", "demo__echo", "--tool-arg", "text=from the inspector"))
        .stdout,
    ) as CallToolResult;
    expect(called.content).toEqual([{ type: "text", text: "from the inspector" }]);
  }, 60_000);

  it("mcp-remote signs the user in through the browser and serves the gateway's tools over stdio", async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [
        bin("mcp-remote"),
        info.mcp,
        "--static-oauth-client-metadata",
        JSON.stringify({ scope: "openid tools:read" }),
      ],
      // BROWSER=true: the `open` package runs `true` instead of a desktop browser; Chromium follows
      // the URL mcp-remote prints, as the person would.
      env: { ...(env as Record<string, string>), MCP_REMOTE_CONFIG_DIR: join(scratch, "mcp-remote"), BROWSER: "true" },
      stderr: "pipe",
    });
    let log = "";
    let signIn: Promise<URL> | undefined;
    transport.stderr!.on("data", (chunk: Buffer) => {
      log += chunk.toString();
      const url = new RegExp(`(${info.auth}/authorize\\?\\S+)`).exec(log)?.[1];
      if (url && !signIn) {
        const authorization = new URL(url);
        signIn = signInWithBrowser(browser, authorization, info.user, authorization.searchParams.get("redirect_uri")!);
      }
    });
    const client = new Client({ name: "stdio-only-client", version: "1.0.0" });
    try {
      await client.connect(transport);
      expect(signIn).toBeDefined();
      expect((await signIn!).searchParams.get("code")).toEqual(expect.any(String));
      expect((await client.listTools()).tools.map((tool) => tool.name).sort()).toEqual([
        "demo__echo",
        "demo__whoami",
        "notes__list_notes",
        "notes__whoami",
      ]);
      const whoami = JSON.parse(
        ((await client.callTool({ name: "demo__whoami" })) as CallToolResult).content
          .map((c) => (c as { text: string }).text)
          .join(""),
      ) as { user: string };
      expect(whoami.user).toBe("demo");
    } finally {
      await client.close();
    }
  }, 60_000);
});
