// The drills of npm run chaos (docs/operations/chaos.md), one function each: inject one fault into
// the running stack while the agents keep calling, end it, and read what it cost. Each returns its
// row of the table with the targets it is held to (the reliability targets of
// docs/reliability/*.md: no grant revoked by a fault, no audit event lost, no revoked token
// accepted after a store loss, no more calls failed by a runtime kill than were in flight, recovery
// without a manual restart).
import type { DevStackInfo } from "../dev-stack.js";
import { awaitAuditTrail } from "./audit-trail.js";
import type { DrillStack } from "./drill-stack.js";
import { readWindow, recoveredAt, seconds, type DrillRow, type Target } from "./drill-window.js";
import { machineToken, type MachineAgents } from "./machine-agents.js";
import { initializeMcp, postMcp } from "./mcp-client.js";
import type { UserGrant } from "./user-grant.js";

export interface DrillContext {
  stack: DrillStack;
  agents: MachineAgents;
  user: UserGrant;
  /** Shorter faults (the test's mode). */
  quick: boolean;
  log(line: string): void;
  /** Audited calls the collector lacked after the previous drill (so each drill counts its own). */
  missingBefore: number;
}

export interface Drill {
  name: string;
  run(ctx: DrillContext): Promise<DrillRow & { missing: number }>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const RECOVERY_DEADLINE_MS = 120_000;
const AUDIT_DEADLINE_MS = 120_000;

interface Injected {
  /** When the fault ended (for a kill: the kill itself; recovery is measured from here). */
  ended: number;
  /** Drill-specific observations, appended to what agents saw. */
  notes: string[];
  targets: Target[];
  /** At most this many calls may fail (a runtime kill: the calls in flight). */
  maxFailed?: number;
}

/** Runs one fault against the working stack and measures it: the frame every drill shares. */
async function measure(
  ctx: DrillContext,
  fault: string,
  inject: () => Promise<Injected>,
): Promise<DrillRow & { missing: number }> {
  const { agents, stack } = ctx;
  ctx.log(`drill: ${fault}`);
  const healthy = await agents.allSucceededSince(Date.now(), 60_000);
  if (!healthy) throw new Error(`the stack was not serving every agent before the drill "${fault}"`);
  const began = Date.now();
  const injected = await inject();
  // Served again: every agent has succeeded since the drill's own checks ended.
  const running = () => stack.running();
  const stableAt = await agents.allSucceededSince(Date.now(), RECOVERY_DEADLINE_MS, running);
  const windowEnd = stableAt ?? Date.now();
  const window = readWindow(agents.calls, agents.side, began, windowEnd);
  const back = stableAt === undefined ? undefined : recoveredAt(agents.calls, began, windowEnd, injected.ended);
  ctx.log(
    `  ${back === undefined ? "agents did not recover" : `every agent was served again ${seconds(back - injected.ended)} after the fault ended`}; checking the audit trail`,
  );
  const missing = await awaitAuditTrail(stack.info, agents.calls.slice(), AUDIT_DEADLINE_MS, running);
  const lost = missing === undefined ? undefined : Math.max(0, missing - ctx.missingBefore);
  const maxFailed = injected.maxFailed;
  const targets: Target[] = [
    ...injected.targets,
    ...(maxFailed === undefined
      ? []
      : [{ text: `calls failed ≤ in flight (${maxFailed})`, pass: window.failed <= maxFailed }]),
    { text: "0 audit events lost", pass: lost === 0 },
    { text: "recovered with no manual restart", pass: back !== undefined && stack.running() },
  ];
  return {
    fault,
    saw: [window.saw, ...injected.notes].join("; "),
    callsFailed: `${window.failed} of ${window.reached}${maxFailed === undefined ? "" : ` (in flight at the kill: ${maxFailed})`}`,
    eventsLost: lost === undefined ? "unknown (the collector stopped with npm run dev)" : String(lost),
    recover: !stack.running()
      ? "no: npm run dev stopped"
      : back === undefined
        ? `not within ${seconds(RECOVERY_DEADLINE_MS)}`
        : back === injected.ended
          ? "0 s (no call failed after it)"
          : seconds(back - injected.ended),
    targets,
    missing: missing ?? ctx.missingBefore,
  };
}

/** A refresh during the fault, retried with the same token; the grant must stand afterwards. */
async function refreshThrough(ctx: DrillContext, deadlineMs: number): Promise<{ note: string; target: Target }> {
  const outcome = await ctx.user.refresh(deadlineMs, () => ctx.stack.running());
  const tried = outcome.failures.length
    ? ` after ${outcome.failures.length} failed ${outcome.failures.length === 1 ? "try" : "tries"} (${[...new Set(outcome.failures)].join(", ")})`
    : "";
  const note = outcome.alive
    ? `user's refresh succeeded${tried}`
    : outcome.revoked
      ? `user's grant REVOKED${tried}`
      : `user's refresh did not succeed in ${seconds(deadlineMs)}${tried}`;
  return { note, target: { text: "0 grants revoked", pass: !outcome.revoked } };
}

/** How the gateway takes `token` now: "accepted" (authenticated: any answer but 401/5xx), "refused" (401), or the status. */
async function gatewayTakes(info: DevStackInfo, token: string): Promise<string> {
  // tools/list with no session: an authenticated request gets 400 (no session), so no session is made.
  const answer = await postMcp({
    url: info.mcp,
    token,
    body: { jsonrpc: "2.0", id: 1, method: "tools/list" },
    timeoutMs: 10_000,
  });
  if (answer.status === 401) return "refused";
  if (answer.status !== undefined && answer.status < 500) return "accepted";
  return answer.outcome;
}

async function revoke(info: DevStackInfo, token: string): Promise<void> {
  const { clientId, clientSecret } = info.machineAgent;
  const res = await fetch(`${info.auth}/revoke`, {
    method: "POST",
    headers: { Authorization: `Basic ${btoa(`${clientId}:${clientSecret}`)}` },
    body: new URLSearchParams({ token }),
  });
  if (!res.ok) throw new Error(`revocation failed: ${res.status}`);
}

/** Polls until `take(token)` is `want`, up to `ms`; the time it took, or undefined. */
async function until(info: DevStackInfo, token: string, want: string, ms: number): Promise<number | undefined> {
  const began = Date.now();
  while (Date.now() - began < ms) {
    if ((await gatewayTakes(info, token)) === want) return Date.now() - began;
    await sleep(250);
  }
  return undefined;
}

export const redisPaused: Drill = {
  name: "redis-pause",
  run: (ctx) => {
    const pauseMs = ctx.quick ? 3_000 : 8_000;
    return measure(ctx, `Redis paused (SIGSTOP) ${seconds(pauseMs)}`, async () => {
      ctx.stack.redis.pause();
      const refreshing = refreshThrough(ctx, pauseMs + 30_000);
      await sleep(pauseMs);
      ctx.stack.redis.resume();
      const ended = Date.now();
      const { note, target } = await refreshing;
      return { ended, notes: [note], targets: [target] };
    });
  },
};

export const redisRestartedEmpty: Drill = {
  name: "redis-empty",
  run: (ctx) =>
    measure(ctx, "Redis stopped and restarted empty", async () => {
      const { info } = ctx.stack;
      // A revoked token, refused before the loss; and a live one.
      const revoked = (await machineToken(info)).token;
      const live = (await machineToken(info)).token;
      if (!revoked || !live) throw new Error("no machine token before the store loss");
      await revoke(info, revoked);
      if ((await until(info, revoked, "refused", 15_000)) === undefined)
        throw new Error("the gateway still accepted a revoked token 15 s after its revocation");
      await ctx.stack.redis.restartEmpty();
      const ended = Date.now();
      // The gateway may hold an introspection answer for its interval (5 s in the dev config): ask for longer.
      let accepted = 0;
      const probes: string[] = [];
      for (const began = Date.now(); Date.now() - began < 8_000; await sleep(250)) {
        const taken = await gatewayTakes(info, revoked);
        probes.push(taken);
        if (taken === "accepted") accepted += 1;
      }
      const liveRefusedAfter = await until(info, live, "refused", 15_000);
      // The user's grant went with the data: signing in again is the design (docs/reliability/store-faults.md).
      const refreshed = await ctx.user.refresh(10_000);
      await ctx.user.signIn();
      return {
        ended,
        notes: [
          `revoked token: ${accepted} of ${probes.length} presentations accepted`,
          liveRefusedAfter === undefined
            ? "pre-loss live token still ACCEPTED after 15 s"
            : `pre-loss live token refused (within ${seconds(liveRefusedAfter + 8_000)})`,
          `user's refresh: ${refreshed.alive ? "still worked" : (refreshed.failures.at(-1) ?? "no answer")}; signed in again`,
        ],
        targets: [
          { text: "0 revoked tokens accepted", pass: accepted === 0 },
          { text: "pre-loss tokens refused", pass: liveRefusedAfter !== undefined },
        ],
      };
    }),
};

export const demoHostFrozen: Drill = {
  name: "sink-down",
  run: (ctx) => {
    const freezeMs = ctx.quick ? 8_000 : 30_000;
    return measure(
      ctx,
      `upstreams and audit sink hanging ${seconds(freezeMs)} (npm run dev's demo process frozen)`,
      async () => {
        const { info } = ctx.stack;
        // A session opened before the fault, to list tools during it.
        const token = (await machineToken(info)).token!;
        const opened = await initializeMcp(info.mcp, token, "chaos-lister", 10_000);
        if (!opened.sessionId) throw new Error(`the lister could not open a session: ${opened.outcome}`);
        await postMcp({
          url: info.mcp,
          token,
          sessionId: opened.sessionId,
          timeoutMs: 10_000,
          body: { jsonrpc: "2.0", method: "notifications/initialized" },
        });
        ctx.stack.freezeDemoHost();
        const began = Date.now();
        await sleep(1_000);
        const listStarted = Date.now();
        const listed = await postMcp({
          url: info.mcp,
          token,
          sessionId: opened.sessionId,
          timeoutMs: freezeMs,
          body: { jsonrpc: "2.0", id: 1, method: "tools/list" },
        });
        const listMs = Date.now() - listStarted;
        const tools = ((listed.result?.tools ?? []) as unknown[]).length;
        await sleep(Math.max(0, freezeMs - (Date.now() - began)));
        ctx.stack.thawDemoHost();
        const ended = Date.now();
        const answeredList = listed.outcome === "ok" && listMs < freezeMs - 1_000;
        return {
          ended,
          notes: [
            answeredList
              ? `tools/list answered in ${seconds(listMs)} (${tools} tools)`
              : `tools/list: ${listed.outcome} after ${seconds(listMs)}`,
          ],
          targets: [{ text: "tools/list answers during the hang", pass: answeredList }],
        };
      },
    );
  },
};

/** A tier's processes killed (wrangler, proxy runtime and worker runtime at once, as an OOM kill or a crashed host). */
function tierKilled(tier: "gateway" | "auth"): Drill {
  return {
    name: `${tier}-kill`,
    run: (ctx) =>
      measure(ctx, `${tier === "gateway" ? "gateway" : "auth tier"} runtime killed (SIGKILL)`, async () => {
        const mark = ctx.stack.outputLength();
        const ended = Date.now();
        const { killed, goneAt } = await ctx.stack.killTier(tier);
        const notes = [`${killed} processes killed`];
        const targets: Target[] = [];
        if (tier === "auth") {
          const { note, target } = await refreshThrough(ctx, RECOVERY_DEADLINE_MS);
          notes.push(note);
          targets.push(target);
        }
        await ctx.agents.allSucceededSince(ended, RECOVERY_DEADLINE_MS, () => ctx.stack.running());
        // In flight at the kill: sent before the tier's last process was gone, not answered before the signal.
        const inFlight = ctx.agents.calls.filter((c) => c.reached && c.started <= goneAt && c.ended >= ended).length;
        notes.push(`${inFlight} calls in flight`);
        const said = ctx.stack.outputSince(mark);
        if (said.includes("is answering again")) notes.push("npm run dev restarted it");
        const stopped = /\[dev\] (.*stopping the stack.*)/.exec(said);
        if (stopped) notes.push(`npm run dev: "${stopped[1]}"`);
        if (/keys are unavailable/.test(said)) notes.push("gateway: the authorization server's keys are unavailable");
        return { ended, notes, targets, ...(tier === "gateway" ? { maxFailed: inFlight } : {}) };
      }),
  };
}

export const gatewayKilled = tierKilled("gateway");
export const authKilled = tierKilled("auth");

/** In the order they run: the auth tier's kill last, since a stack that does not survive it ends the run. */
export const DRILLS: Drill[] = [redisPaused, redisRestartedEmpty, demoHostFrozen, gatewayKilled, authKilled];
