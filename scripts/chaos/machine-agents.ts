// The drill's load: machine agents (the dev stack's client_credentials client, RFC 6749 §4.4) that
// each hold an MCP session on the gateway and call its whoami tools, paced, without pause for the
// whole run, reacting as a well-behaved agent does: a 401 gets a new token (RFC 6750 §3.1), a 404
// on the session opens a new one (MCP 2025-11-25 "Session Management"), a refused connection is
// tried again shortly (nothing was sent). Every tools/call is recorded with its outcome, so each
// drill reads what agents saw in its own time window.
import type { DevStackInfo } from "../dev-stack.js";
import { initializeMcp, postMcp } from "./mcp-client.js";

export interface CallRecord {
  agent: number;
  started: number;
  ended: number;
  /** "ok" or what went wrong (mcp-client.ts). */
  outcome: string;
  /** The request reached the gateway (a refused connection sent nothing). */
  reached: boolean;
  /** The gateway answered a JSON-RPC message: it handled the call, and audits it. */
  answered: boolean;
  sessionId: string;
}

/** Requests other than tools/call an agent made: tokens, session openings. */
export interface SideRecord {
  at: number;
  what: "token" | "initialize";
  outcome: string;
}

export interface MachineAgents {
  calls: CallRecord[];
  side: SideRecord[];
  /** tools/call requests sent and not yet answered, now. */
  inFlight(): number;
  /**
   * Resolves once every agent has completed a successful call that started after `since` (with the
   * time of the last of them), or with undefined after `deadlineMs` or once `worthWaiting` says no.
   */
  allSucceededSince(since: number, deadlineMs: number, worthWaiting?: () => boolean): Promise<number | undefined>;
  stop(): Promise<void>;
}

/** Agents' pace: one call per agent every PACE_MS, well inside the dev stack's call limits (600 a minute a session, 1200 a principal). */
const PACE_MS = 400;
const CALL_TIMEOUT_MS = 60_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function machineToken(
  info: DevStackInfo,
  timeoutMs = 10_000,
): Promise<{ token?: string; outcome: string }> {
  const { clientId, clientSecret } = info.machineAgent;
  try {
    const res = await fetch(`${info.auth}/token`, {
      method: "POST",
      headers: { Authorization: `Basic ${btoa(`${clientId}:${clientSecret}`)}` },
      body: new URLSearchParams({
        grant_type: "client_credentials",
        resource: info.mcp,
        scope: "tools:read tools:write",
      }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await res.json().catch(() => ({}))) as { access_token?: string; error?: string };
    return body.access_token
      ? { token: body.access_token, outcome: "ok" }
      : { outcome: `HTTP ${res.status}${body.error ? ` ${body.error}` : ""}` };
  } catch (err) {
    const code = (err as { cause?: { code?: string } }).cause?.code;
    return {
      outcome:
        (err as Error).name === "TimeoutError"
          ? "timeout"
          : code === "ECONNREFUSED"
            ? "connection refused"
            : "connection reset",
    };
  }
}

export function startMachineAgents(info: DevStackInfo, count: number): MachineAgents {
  const calls: CallRecord[] = [];
  const side: SideRecord[] = [];
  let inFlight = 0;
  let stopped = false;

  async function agent(n: number): Promise<void> {
    let token: string | undefined;
    let sessionId: string | undefined;
    let tools: string[] = [];
    let next = 0;
    while (!stopped) {
      const began = Date.now();
      if (!token) {
        const got = await machineToken(info);
        side.push({ at: began, what: "token", outcome: got.outcome });
        token = got.token;
        if (!token) await sleep(500);
        continue;
      }
      if (!sessionId) {
        const opened = await initializeMcp(info.mcp, token, `chaos-agent-${n}`, CALL_TIMEOUT_MS);
        side.push({ at: began, what: "initialize", outcome: opened.outcome });
        if (opened.outcome !== "ok" || !opened.sessionId) {
          if (opened.status === 401) token = undefined;
          await sleep(500);
          continue;
        }
        await postMcp({
          url: info.mcp,
          token,
          sessionId: opened.sessionId,
          timeoutMs: CALL_TIMEOUT_MS,
          body: { jsonrpc: "2.0", method: "notifications/initialized" },
        });
        const listed = await postMcp({
          url: info.mcp,
          token,
          sessionId: opened.sessionId,
          timeoutMs: CALL_TIMEOUT_MS,
          body: { jsonrpc: "2.0", id: 1, method: "tools/list" },
        });
        tools = ((listed.result?.tools ?? []) as { name: string }[])
          .map((t) => t.name)
          .filter((name) => name.endsWith("whoami"));
        if (tools.length === 0) {
          // Every app late or failing: try the session again shortly.
          await sleep(500);
          continue;
        }
        sessionId = opened.sessionId;
      }
      const tool = tools[next++ % tools.length]!;
      inFlight += 1;
      const answer = await postMcp({
        url: info.mcp,
        token,
        sessionId,
        timeoutMs: CALL_TIMEOUT_MS,
        body: { jsonrpc: "2.0", id: 2 + next, method: "tools/call", params: { name: tool, arguments: {} } },
      });
      inFlight -= 1;
      calls.push({
        agent: n,
        started: began,
        ended: Date.now(),
        outcome: answer.outcome,
        reached: answer.reached,
        answered: answer.answered,
        sessionId,
      });
      if (answer.status === 401) token = undefined;
      if (answer.status === 404) sessionId = undefined;
      await sleep(Math.max(answer.reached ? 0 : 250, PACE_MS - (Date.now() - began)));
    }
  }

  const running = Array.from({ length: count }, (_, n) => agent(n));
  return {
    calls,
    side,
    inFlight: () => inFlight,
    async allSucceededSince(since, deadlineMs, worthWaiting = () => true) {
      const deadline = Date.now() + deadlineMs;
      while (Date.now() < deadline && worthWaiting()) {
        const firsts = Array.from(
          { length: count },
          (_, n) => calls.find((c) => c.agent === n && c.started >= since && c.outcome === "ok")?.ended,
        );
        if (firsts.every((at) => at !== undefined)) return Math.max(...(firsts as number[]));
        await sleep(100);
      }
      return undefined;
    },
    async stop() {
      stopped = true;
      // A call held by a frozen or dead stack ends with the stack: no need to wait for its timeout.
      await Promise.race([Promise.all(running), sleep(5_000)]);
    },
  };
}
