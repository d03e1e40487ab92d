// `npm run chaos -- --quick` (scripts/chaos.ts, docs/operations/chaos.md) end to end: it starts its
// own `npm run dev` stack with a private Redis, runs its drills with shorter faults against real
// workerd, real Redis and the real demo upstreams, prints the table and exits 0 only when every
// target is met. The pure parts (the loopback rule, the drill window's bookkeeping, the table) are
// specified in-process below.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { afterAll, describe, expect, it } from "vitest";
import { readWindow, recoveredAt } from "../../scripts/chaos/drill-window.js";
import { assertLoopback, isLoopbackHost } from "../../scripts/chaos/loopback.js";
import type { CallRecord } from "../../scripts/chaos/machine-agents.js";
import { allPass, formatTable } from "../../scripts/chaos/table.js";
import { ROOT } from "../helpers/build.js";

const call = (started: number, outcome: string, reached = true): CallRecord => ({
  agent: 0,
  started,
  ended: started + 1,
  outcome,
  reached,
  answered: reached && outcome !== "HTTP 503 temporarily_unavailable",
  sessionId: "s",
});

describe("npm run chaos: its rules", () => {
  it("drives loopback hosts only", () => {
    for (const host of ["localhost", "127.0.0.1", "127.8.9.1", "[::1]", "api.localhost"])
      expect(isLoopbackHost(host), host).toBe(true);
    for (const host of ["example.com", "10.0.0.1", "192.168.1.2", "[::ffff:10.0.0.1]", "localhost.example.com"])
      expect(isLoopbackHost(host), host).toBe(false);
    expect(() => assertLoopback("https://gateway.example.com/mcp")).toThrow(
      /loopback targets only; refusing https:\/\/gateway\.example\.com\/mcp/,
    );
  });

  it("counts as failed only calls that reached the gateway, and says what the others saw", () => {
    const calls = [
      call(10, "ok"),
      call(20, "HTTP 503 temporarily_unavailable"),
      call(30, "HTTP 503 temporarily_unavailable"),
      call(40, "connection refused", false),
      call(50, "connection lost (ECONNRESET)"),
      call(99, "timeout"),
    ];
    const window = readWindow(calls, [{ at: 25, what: "token", outcome: "HTTP 503 temporarily_unavailable" }], 15, 60);
    expect(window).toEqual({
      reached: 3,
      failed: 3,
      refused: 1,
      saw: "calls: HTTP 503 temporarily_unavailable ×2, connection lost (ECONNRESET) ×1; connection refused ×1 (not sent; retried); new tokens: HTTP 503 temporarily_unavailable ×1",
    });
  });

  it("times recovery from the fault's end to each agent's first success after its last failure", () => {
    const agentCall = (agent: number, started: number, outcome: string): CallRecord => ({
      ...call(started, outcome),
      agent,
    });
    // Agent 0 fails twice (the second time after the fault ended at 100) and is back at 151; agent 1 never fails.
    const calls = [
      agentCall(0, 50, "HTTP 503 temporarily_unavailable"),
      agentCall(1, 60, "ok"),
      agentCall(0, 120, "connection refused"),
      agentCall(0, 130, "ok"),
      agentCall(0, 140, "HTTP 401 invalid_token"),
      agentCall(0, 150, "ok"),
      agentCall(1, 150, "ok"),
    ];
    expect(recoveredAt(calls, 0, 200, 100)).toBe(151);
    // Back before the fault ended, and nobody failed after it: recovered at its end.
    expect(
      recoveredAt(
        [agentCall(0, 50, "HTTP 503 temporarily_unavailable"), agentCall(1, 60, "ok"), agentCall(0, 70, "ok")],
        0,
        200,
        100,
      ),
    ).toBe(100);
  });

  it("prints one Markdown row a fault, and passes only when every target does", () => {
    const row = {
      fault: "Redis paused",
      saw: "calls: all succeeded",
      callsFailed: "0 of 12",
      eventsLost: "0",
      recover: "1.0 s",
      targets: [{ text: "0 grants revoked", pass: true }],
    };
    expect(formatTable([row]).split("\n")).toEqual([
      "| fault | what agents saw | calls failed | events lost | time to recover | targets |",
      "| --- | --- | --- | --- | --- | --- |",
      "| Redis paused | calls: all succeeded | 0 of 12 | 0 | 1.0 s | PASS 0 grants revoked |",
    ]);
    expect(allPass([row])).toBe(true);
    expect(allPass([row, { ...row, targets: [{ text: "0 audit events lost", pass: false }] }])).toBe(false);
  });
});

// Every drill, named so that a new one is added here on purpose (each costs the suite tens of seconds).
const DRILLS = "redis-pause,redis-empty,sink-down,gateway-kill,auth-kill";

describe("npm run chaos -- --quick", () => {
  let chaos: ChildProcess | undefined;
  // A run cut short by the test's timeout: SIGINT makes npm run chaos stop its stack.
  afterAll(async () => {
    if (!chaos?.pid || chaos.exitCode !== null || chaos.signalCode !== null) return;
    const exited = once(chaos, "exit");
    process.kill(-chaos.pid, "SIGINT");
    await exited;
  }, 90_000);

  it(
    "runs its drills against its own npm run dev stack, prints the table and meets every target",
    { timeout: 600_000 },
    async () => {
      const child = spawn("npm", ["run", "chaos", "--", "--quick", "--only", DRILLS], {
        cwd: ROOT,
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
      });
      chaos = child;
      let output = "";
      child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
      const [code] = (await once(child, "exit")) as [number | null];
      expect(output).toContain("| fault | what agents saw | calls failed | events lost | time to recover | targets |");
      for (const fault of [
        "Redis paused",
        "Redis stopped and restarted empty",
        "upstreams and audit sink hanging",
        "gateway runtime killed",
      ])
        expect(output).toContain(`| ${fault}`);
      expect(output, output).not.toContain("FAIL ");
      expect(code, output).toBe(0);
    },
  );
});
