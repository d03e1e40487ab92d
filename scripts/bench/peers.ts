// Scenario 8, peers in the same run (npm run bench -- --peers): each tier beside another
// implementation of the same job on this machine, as ratios (docs/performance.md, Peers).
//
//   auth tier (alone in its own workerd) ─┬─ workers-oauth-provider, Miniflare's local KV (own workerd)
//   code, refresh, token exchange (c16)    └─ workers-oauth-provider, KV swapped for a Map (own workerd)
//   auth tier, client credentials         ── oidc-provider, JWT access tokens (own Node process)
//   gateway, warm tools/call (16 sessions) ── agents' McpAgent serving the same echo tool (own workerd)
//
// Every figure is taken over HTTP on loopback by the same load generator, the sides taking turns round
// by round, and CPU per request is what the side's own process spent across its run (utime + stime from
// /proc) divided by the requests it answered: not the load generator, the Redis bridge or Redis.
// The peers are built from the installed devDependencies (scripts/bench/peers/), only when --peers
// is given, so that `npm run bench` without it builds and starts nothing more.
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { Redis } from "@upstash/redis/cloudflare";
import { Store } from "../../src/auth/store/store.js";
import { authConfig, confidentialClient, GATEWAY_RESOURCE } from "../../test/helpers/auth-config.js";
import { GATEWAY_CLIENT } from "../../test/helpers/gateway-stack.js";
import { startStoreFaultProxy } from "../../test/helpers/store-fault-proxy.js";
import { freePort, workerOptions } from "../../test/helpers/workers.js";
import { generateSigningKey } from "../keys.js";
import {
  closedLoop,
  httpClient,
  median,
  pairedSerial,
  type HttpClient,
  type LoadResult,
  type Operation,
} from "./load.js";
import { openMcpSession, type McpSession } from "./mcp-client.js";
import { childPids, measureCpu } from "./peers/process-cpu.js";
import {
  basic,
  codeForm,
  echoCall,
  exchangeForm,
  pkcePair,
  refreshForm,
  tokenRequest,
  type TokenAnswer,
} from "./peers/requests.js";
import {
  buildPeers,
  startAlone,
  startFloor,
  startMcpAgentPeer,
  startOAuthProviderPeer,
  startOidcProviderPeer,
  type PeerProcess,
} from "./peers/start.js";
import { ms, rate, verdict, type Row, type ScenarioResult } from "./report.js";
import { BENCH_BUILD_DIR, TOOLS, UPSTREAM_AUDIENCE, type BenchStack } from "./stack.js";
import { startWorkerdProfiler } from "./workerd-profile.js";

const CONCURRENCY = 16;
const WARMUP = 100;
/** Requests per closed loop; each auth loop runs AUTH_ROUNDS times per side, rounds alternating sides. */
const AUTH_N = { code: 600, refresh: 600, exchange: 1000, clientCredentials: 600 } as const;
const AUTH_ROUNDS = 3;
const MCP_ROUNDS = 3;
const MCP_CALLS = 1500;
const MCP_SERIAL = 600;
const REDIRECT_URI = "http://127.0.0.1/cb";
const SCOPE = "tools:read tools:write";

/** What one side did in one run: its load figures and its own process's CPU per request. */
interface Measured {
  load: LoadResult;
  cpuMsPerRequest: number;
}

/** An OAuth server that can be driven through code, refresh and exchange the same way. */
interface AuthSide {
  process: PeerProcess;
  tokenEndpoint: string;
  /** `n` fresh authorization codes for `client`, issued before the measured run. */
  codes(n: number): Promise<string[]>;
  /** The client that redeems codes and refreshes. */
  client: string;
  /** The client, and the form, of a token exchange of `subject`. */
  exchange(subject: string): { client: string; form: Record<string, string> };
  /** A subject token for exchanges: what a session presents on every call. */
  subject(): Promise<string>;
  verifier: string;
}

async function measure(http: HttpClient, pid: number, n: number, op: Operation): Promise<Measured> {
  const { result: load, cpuSec } = await measureCpu(pid, () => closedLoop(CONCURRENCY, n, op));
  if (load.errors) throw new Error(`${load.errors} of ${load.requests} failed, first: ${load.firstError}`);
  return { load, cpuMsPerRequest: (cpuSec * 1000) / load.requests };
}

/** Each figure's median over rounds (throughput, p50, p99 and CPU per request, each on its own). */
function medianRound(rounds: Measured[]): Measured {
  const of = (pick: (m: Measured) => number) => median(rounds.map(pick));
  return {
    load: {
      ...rounds[0]!.load,
      requests: rounds.reduce((sum, m) => sum + m.load.requests, 0),
      perSecond: of((m) => m.load.perSecond),
      p50Ms: of((m) => m.load.p50Ms),
      p99Ms: of((m) => m.load.p99Ms),
    },
    cpuMsPerRequest: of((m) => m.cpuMsPerRequest),
  };
}

const asError = (work: Promise<unknown>) =>
  work.then(
    () => undefined,
    (err: unknown) => (err as Error).message,
  );

type AuthOp = "code" | "refresh" | "exchange";

/**
 * Readies one side for the three closed loops: its codes issued, WARMUP of them redeemed (JIT, key
 * import, connections), whose refresh tokens seed the refresh loop (each request rotates one family
 * and puts its successor back), and WARMUP exchanges of its subject token. Returns the loops.
 */
async function prepareAuth(
  http: HttpClient,
  side: AuthSide,
): Promise<Record<AuthOp, (round: number) => Promise<Measured>>> {
  const endpoint = side.tokenEndpoint;
  const codes = await side.codes(WARMUP + AUTH_ROUNDS * AUTH_N.code);
  const families: string[] = [];
  await closedLoop(CONCURRENCY, WARMUP, async (i) => {
    const answer = await tokenRequest(http, endpoint, side.client, codeForm(codes[i]!, REDIRECT_URI, side.verifier));
    families.push(answer.refresh_token!);
    return undefined;
  });
  const exchange = side.exchange(await side.subject());
  const exchangeOp = () => asError(tokenRequest(http, endpoint, exchange.client, exchange.form));
  await closedLoop(CONCURRENCY, WARMUP, exchangeOp);
  return {
    code: (round) =>
      measure(http, side.process.pid, AUTH_N.code, (i) => {
        const code = codes[WARMUP + round * AUTH_N.code + i]!;
        return asError(tokenRequest(http, endpoint, side.client, codeForm(code, REDIRECT_URI, side.verifier)));
      }),
    refresh: () =>
      measure(http, side.process.pid, AUTH_N.refresh, async () => {
        const token = families.shift()!;
        try {
          const answer: TokenAnswer = await tokenRequest(http, endpoint, side.client, refreshForm(token));
          families.push(answer.refresh_token ?? token);
          return undefined;
        } catch (err) {
          return (err as Error).message;
        }
      }),
    exchange: () => measure(http, side.process.pid, AUTH_N.exchange, exchangeOp),
  };
}

/** This project's auth tier alone in a workerd of its own, on the bench's Redis bridge. */
async function ownAuth(
  stack: BenchStack,
  log: (line: string) => void,
  http: HttpClient,
  pkce: { verifier: string; challenge: string },
  redisUrl = stack.redis.url,
  inspectorPort?: number,
) {
  const web = confidentialClient("bench-web", {
    grantTypes: ["authorization_code", "refresh_token"],
    redirectUris: [REDIRECT_URI],
  });
  const agent = confidentialClient("bench-agent", { grantTypes: ["client_credentials"] });
  const gatewayClient = { ...GATEWAY_CLIENT.app, allowedAudiences: [UPSTREAM_AUDIENCE] };
  const key = await generateSigningKey("ES256");
  // The issuer names the worker's own port, which startAlone picks.
  let issuer = "";
  const worker = await startAlone(
    (port: number) => {
      issuer = `http://127.0.0.1:${port}`;
      return {
        ...workerOptions("auth", BENCH_BUILD_DIR),
        name: "auth-alone",
        bindings: {
          UPSTASH_REDIS_REST_URL: redisUrl,
          UPSTASH_REDIS_REST_TOKEN: stack.redis.token,
          SIGNING_KEYS: JSON.stringify({ keys: [key] }),
          AUTH_CONFIG: authConfig(issuer, { resources: [GATEWAY_RESOURCE], apps: [gatewayClient, web.app, agent.app] }),
          ...GATEWAY_CLIENT.bindings,
          ...web.bindings,
          ...agent.bindings,
        },
      };
    },
    log,
    inspectorPort ? { inspectorPort } : {},
  );
  const ownStore = new Store(new Redis({ ...stack.redis, automaticDeserialization: false, enableTelemetry: false }));
  const side: AuthSide = {
    process: worker,
    tokenEndpoint: `${worker.url}/token`,
    client: basic(web.client.clientId, web.client.secret),
    verifier: pkce.verifier,
    async codes(n) {
      // Written with the tier's own store code, as its consent step writes them (src/auth/ui/interaction.ts).
      const codes = Array.from({ length: n }, () => randomBytes(32).toString("base64url"));
      const authTime = Math.floor(Date.now() / 1000);
      for (let i = 0; i < n; i += 50)
        await Promise.all(
          codes.slice(i, i + 50).map((code) =>
            ownStore.saveCode(
              code,
              {
                clientId: web.client.clientId,
                redirectUri: REDIRECT_URI,
                sub: `bench-${randomBytes(6).toString("base64url")}`,
                scope: SCOPE,
                resource: [GATEWAY_RESOURCE],
                codeChallenge: pkce.challenge,
                authTime,
                claims: {},
              },
              10 * 60_000,
            ),
          ),
        );
      return codes;
    },
    async subject() {
      const answer = await tokenRequest(
        http,
        `${worker.url}/token`,
        basic(agent.client.clientId, agent.client.secret),
        { grant_type: "client_credentials", resource: GATEWAY_RESOURCE, scope: SCOPE },
      );
      return answer.access_token!;
    },
    // As the gateway exchanges a session's token (scenario 2): for the upstream's audience.
    exchange: (subject) => ({
      client: `Basic ${btoa(`${GATEWAY_CLIENT.client.clientId}:${GATEWAY_CLIENT.client.secret}`)}`,
      form: exchangeForm(subject, { audience: UPSTREAM_AUDIENCE, expires_in: "5" }),
    }),
  };
  return { worker, web, agent, issuer, side };
}

/** A store request's command name(s), from its body: one command, or a pipeline / transaction of several. */
function commandName(body: string): string {
  try {
    const parsed = JSON.parse(body) as unknown[];
    if (Array.isArray(parsed[0]))
      return `[${(parsed as unknown[][]).map((c) => String(c[0]).toUpperCase()).join(" ")}]`;
    return String(parsed[0]).toUpperCase();
  } catch {
    return "?";
  }
}

/**
 * The store requests one request of each kind sends, one at a time, through a counting proxy in
 * front of the bridge (a second copy of the tier, after the measured runs): what the CPU gap
 * against the in-memory peer is made of, each request being a `fetch` from the worker.
 */
async function storeRequestsPerOp(
  stack: BenchStack,
  log: (line: string) => void,
  http: HttpClient,
  pkce: { verifier: string; challenge: string },
): Promise<Record<AuthOp | "clientCredentials", { perRequest: number; commands: Record<string, number> }>> {
  const K = 20;
  const proxy = await startStoreFaultProxy(stack.redis.url);
  const own = await ownAuth(stack, log, http, pkce, proxy.url);
  try {
    const { side } = own;
    const codes = await side.codes(K + 1);
    const exchange = side.exchange(await side.subject());
    const ccAuth = basic(own.agent.client.clientId, own.agent.client.secret);
    const ccForm = { grant_type: "client_credentials", resource: GATEWAY_RESOURCE, scope: SCOPE };
    const families: string[] = [];
    const ops: Record<AuthOp | "clientCredentials", (i: number) => Promise<unknown>> = {
      code: async (i) => {
        const answer = await tokenRequest(
          http,
          side.tokenEndpoint,
          side.client,
          codeForm(codes[i]!, REDIRECT_URI, pkce.verifier),
        );
        families.push(answer.refresh_token!);
      },
      refresh: async (i) => {
        const answer = await tokenRequest(http, side.tokenEndpoint, side.client, refreshForm(families[i]!));
        families[i] = answer.refresh_token!;
      },
      exchange: () => tokenRequest(http, side.tokenEndpoint, exchange.client, exchange.form),
      clientCredentials: () => tokenRequest(http, side.tokenEndpoint, ccAuth, ccForm),
    };
    const counts = {} as Awaited<ReturnType<typeof storeRequestsPerOp>>;
    for (const [name, op] of Object.entries(ops) as [AuthOp | "clientCredentials", (i: number) => Promise<unknown>][]) {
      // One first (scripts loaded, caches filled), not counted; the code loop's extra code is for it.
      await op(name === "code" ? K : 0);
      const from = proxy.log().length;
      for (let i = 0; i < K; i++) await op(i);
      const commands: Record<string, number> = {};
      for (const { body } of proxy.log().slice(from))
        commands[commandName(body)] = (commands[commandName(body)] ?? 0) + 1;
      counts[name] = { perRequest: (proxy.log().length - from) / K, commands };
    }
    return counts;
  } finally {
    await own.worker.dispose();
    await proxy.close();
  }
}

export interface PeersOptions {
  /**
   * Records a CPU profile of this project's auth worker (its own workerd) across each of its
   * code, refresh and exchange loops, into `<dir>/<stamp>-auth-<op>-….cpuprofile`, and logs the
   * heaviest functions. Sampling slows the worker: CPU figures of a profiled run are not comparable.
   */
  profileDir?: string;
}

export async function benchPeers(
  stack: BenchStack,
  log: (line: string) => void = console.log,
  options: PeersOptions = {},
): Promise<ScenarioResult> {
  // The stack's own workerd (gateway, auth tier, bench worker), started before any peer.
  const stackPid = childPids("workerd")[0];
  if (stackPid === undefined) throw new Error("the bench's workerd process was not found");
  await buildPeers(BENCH_BUILD_DIR);
  const http = httpClient(64);
  const rows: Row[] = [];
  const data: Record<string, unknown> = {};
  const started: PeerProcess[] = [];
  try {
    // ---- auth tier: this project alone, and the peer with each store, all started first; then each
    // loop in rounds, the sides taking turns.
    const { verifier, challenge } = pkcePair();
    const inspectorPort = options.profileDir ? await freePort() : undefined;
    const own = await ownAuth(stack, log, http, { verifier, challenge }, stack.redis.url, inspectorPort);
    const ownSide = own.side;
    started.push(own.worker);
    const ownLoops = await prepareAuth(http, ownSide);

    // The peer with each store, alive beside ours (an idle workerd costs no CPU), so that each
    // loop runs for every side back to back, at nearly the same moment of a shared machine.
    const peerLoops = {} as Record<"kv" | "memory", Record<AuthOp, (round: number) => Promise<Measured>>>;
    for (const kind of ["kv", "memory"] as const) {
      const peer = await startOAuthProviderPeer(BENCH_BUILD_DIR, kind, log);
      started.push(peer);
      const client = (await (await fetch(`${peer.url}/bench/client`, { method: "POST" })).json()) as {
        clientId: string;
        clientSecret: string;
      };
      const auth = basic(client.clientId, client.clientSecret);
      const peerCodes = async (n: number) => {
        const codes: string[] = [];
        // In batches, each issued through the provider's own completeAuthorization. A batch whose
        // connection fails is asked for again once (the codes it may have issued are never used).
        const batch = async (size: number, retry = true): Promise<string[]> => {
          try {
            const res = await fetch(`${peer.url}/bench/codes`, {
              method: "POST",
              body: JSON.stringify({ clientId: client.clientId, n: size, codeChallenge: challenge }),
            });
            if (!res.ok) throw new Error(`${res.status} ${await res.text()}`);
            return ((await res.json()) as { codes: string[] }).codes;
          } catch (err) {
            if (retry) return batch(size, false);
            const cause = (err as Error & { cause?: unknown }).cause;
            throw new Error(`workers-oauth-provider issued no codes: ${String(err)} ${cause ? String(cause) : ""}`);
          }
        };
        while (codes.length < n) codes.push(...(await batch(Math.min(50, n - codes.length))));
        return codes;
      };
      peerLoops[kind] = await prepareAuth(http, {
        process: peer,
        tokenEndpoint: `${peer.url}/token`,
        client: auth,
        verifier,
        codes: peerCodes,
        async subject() {
          const [code] = await peerCodes(1);
          return (await tokenRequest(http, `${peer.url}/token`, auth, codeForm(code!, REDIRECT_URI, verifier)))
            .access_token!;
        },
        // Its exchange narrows the scope of a token its own grant issued; the audience cannot change.
        exchange: (subject) => ({ client: auth, form: exchangeForm(subject) }),
      });
    }
    const rounds = { ours: {}, kv: {}, memory: {} } as Record<"ours" | "kv" | "memory", Record<AuthOp, Measured[]>>;
    for (const op of ["code", "refresh", "exchange"] as const) {
      for (const side of ["ours", "kv", "memory"] as const) rounds[side][op] = [];
      const profiler = inspectorPort ? await startWorkerdProfiler(inspectorPort, ["auth-alone"]) : undefined;
      for (let round = 0; round < AUTH_ROUNDS; round++) {
        rounds.ours[op].push(await ownLoops[op](round));
        rounds.kv[op].push(await peerLoops.kv[op](round));
        rounds.memory[op].push(await peerLoops.memory[op](round));
      }
      if (profiler && options.profileDir) {
        const stamp = new Date().toISOString().replace(/[:.]/g, "-");
        const summaries = await profiler.stop(join(options.profileDir, `${stamp}-${op}`));
        log(`\nCPU profile of the auth worker, ${op} (scenario 8):\n${summaries.join("\n")}`);
      }
    }
    const medians = (side: "ours" | "kv" | "memory") =>
      Object.fromEntries(Object.entries(rounds[side]).map(([op, r]) => [op, medianRound(r)])) as Record<
        AuthOp,
        Measured
      >;
    const ours = medians("ours");
    const peerResults = { kv: medians("kv"), memory: medians("memory") };

    // ---- the platform floor: a worker that reads the same token request and answers, with and
    // without one store request, in a workerd of its own; rounds alternate, as above.
    const floor = await startFloor(BENCH_BUILD_DIR, stack.redis, log);
    started.push(floor);
    const floorForm = new URLSearchParams(ownSide.exchange(await ownSide.subject()).form).toString();
    const floorOp = (path: string) => async () => {
      const answer = await http.send(
        "POST",
        `${floor.url}${path}`,
        { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
        floorForm,
      );
      return answer.status === 200 ? undefined : `HTTP ${answer.status}: ${answer.body.slice(0, 200)}`;
    };
    const floorRounds = { answer: [] as Measured[], fetch: [] as Measured[] };
    for (const path of ["answer", "fetch"] as const) await closedLoop(CONCURRENCY, WARMUP, floorOp(`/${path}`));
    for (let round = 0; round < AUTH_ROUNDS; round++)
      for (const path of ["answer", "fetch"] as const)
        floorRounds[path].push(await measure(http, floor.pid, AUTH_N.exchange, floorOp(`/${path}`)));
    const floorResult = { answer: medianRound(floorRounds.answer), fetch: medianRound(floorRounds.fetch) };

    // ---- client credentials: the same auth worker beside oidc-provider in its own Node process.
    const oidc = await startOidcProviderPeer(log);
    started.push(oidc);
    const ccAuth = basic(own.agent.client.clientId, own.agent.client.secret);
    const ccForm = { grant_type: "client_credentials", resource: GATEWAY_RESOURCE, scope: SCOPE };
    const oidcAuth = basic(oidc.clientId, oidc.clientSecret);
    const oidcForm = { grant_type: "client_credentials", resource: GATEWAY_RESOURCE, scope: SCOPE };
    const ownCc = () => asError(tokenRequest(http, ownSide.tokenEndpoint, ccAuth, ccForm));
    const oidcCc = () => asError(tokenRequest(http, `${oidc.url}/token`, oidcAuth, oidcForm));
    await closedLoop(CONCURRENCY, WARMUP, ownCc);
    await closedLoop(CONCURRENCY, WARMUP, oidcCc);
    const ccRounds = { ours: [] as Measured[], oidc: [] as Measured[] };
    for (let round = 0; round < AUTH_ROUNDS; round++) {
      ccRounds.ours.push(await measure(http, own.worker.pid, AUTH_N.clientCredentials, ownCc));
      ccRounds.oidc.push(await measure(http, oidc.pid, AUTH_N.clientCredentials, oidcCc));
    }
    const oursCc = medianRound(ccRounds.ours);
    const oidcResult = medianRound(ccRounds.oidc);
    for (const p of started.splice(0)) await p.dispose();
    const storeRequests = await storeRequestsPerOp(stack, log, http, { verifier, challenge });

    // ---- gateway warm tools/call beside an McpAgent serving the same tool.
    const agentPeer = await startMcpAgentPeer(BENCH_BUILD_DIR, log);
    started.push(agentPeer);
    const token = await stack.agentToken();
    const gatewaySessions = await Promise.all(
      Array.from({ length: CONCURRENCY }, () => openMcpSession(http, `${stack.gatewayUrl}/mcp`, token)),
    );
    const agentSessions = await Promise.all(
      Array.from({ length: CONCURRENCY }, () => openMcpSession(http, `${agentPeer.url}/mcp`)),
    );
    const gatewayCall = (sessions: McpSession[]) => (i: number) =>
      echoCall(http, sessions[i % sessions.length]!, TOOLS.warm, `call ${i}`);
    const agentCall = (sessions: McpSession[]) => (i: number) =>
      echoCall(http, sessions[i % sessions.length]!, "echo", `call ${i}`);
    await closedLoop(CONCURRENCY, 400, gatewayCall(gatewaySessions));
    await closedLoop(CONCURRENCY, 400, agentCall(agentSessions));
    // Rounds alternate, so that both sides see the same moments of a shared machine.
    const gatewayRounds: Measured[] = [];
    const agentRounds: Measured[] = [];
    for (let round = 0; round < MCP_ROUNDS; round++) {
      gatewayRounds.push(await measure(http, stackPid, MCP_CALLS, gatewayCall(gatewaySessions)));
      agentRounds.push(await measure(http, agentPeer.pid, MCP_CALLS, agentCall(agentSessions)));
    }
    const serial = await pairedSerial(
      MCP_SERIAL,
      gatewayCall(gatewaySessions.slice(0, 1)),
      agentCall(agentSessions.slice(0, 1)),
    );
    if (serial.a.errors || serial.b.errors)
      throw new Error(`serial calls failed: ${serial.a.firstError ?? serial.b.firstError}`);

    // ---- rows
    const both = (r: LoadResult) => `${ms(r.p50Ms)} / ${ms(r.p99Ms)}`;
    const figure = (m: Measured) => `${rate(m.load.perSecond)}, ${both(m.load)}; CPU ${ms(m.cpuMsPerRequest)}/req`;
    const x = (value: number) => `${value.toFixed(2)}×`;
    /** Ours against a peer: throughput ratio, p50 latency ratio, CPU per request ratio (ours / peer). */
    const ratios = (o: Measured, p: Measured) =>
      `ours: ${x(o.load.perSecond / p.load.perSecond)} throughput, ${x(o.load.p50Ms / p.load.p50Ms)} p50, ${x(o.cpuMsPerRequest / p.cpuMsPerRequest)} CPU/req`;
    const labels = {
      code: ["authorization code redemption", "code"],
      refresh: ["refresh (rotation)", "refresh"],
      exchange: ["token exchange (RFC 8693)", "exchange"],
    } as const;
    let first = true;
    for (const op of ["code", "refresh", "exchange"] as const) {
      const o = ours[op];
      const memory = peerResults.memory[op];
      const cpuTarget = op === "exchange" ? 0.7 : 1;
      rows.push(
        {
          scenario: first ? "8 peers" : "",
          measure: `${labels[op][0]}, c${CONCURRENCY}, median of ${AUTH_ROUNDS} rounds: this project's auth tier (own workerd)`,
          result: figure(o),
        },
        {
          scenario: "",
          measure: `  ${labels[op][1]}: workers-oauth-provider, Miniflare's local KV`,
          result: figure(peerResults.kv[op]),
          limit: "peer (own workerd)",
          ratio: ratios(o, peerResults.kv[op]),
        },
        {
          scenario: "",
          measure: `  ${labels[op][1]}: workers-oauth-provider, in-memory KV`,
          result: figure(memory),
          limit: "peer (own workerd)",
          ratio: ratios(o, memory),
          target: {
            text: `auth worker's CPU/req ≤ ${cpuTarget === 1 ? "" : "0.7× "}in-memory peer's`,
            verdict: verdict(o.cpuMsPerRequest <= cpuTarget * memory.cpuMsPerRequest),
          },
        },
      );
      first = false;
    }
    const perOp = (op: AuthOp | "clientCredentials") =>
      `${storeRequests[op].perRequest.toFixed(1)} (${Object.entries(storeRequests[op].commands)
        .map(([name, n]) => `${name}×${n}`)
        .join(" ")})`;
    const fetchCost = floorResult.fetch.cpuMsPerRequest - floorResult.answer.cpuMsPerRequest;
    rows.push(
      {
        scenario: "",
        measure: `platform floor, c${CONCURRENCY}: a worker reading the exchange's form and answering (own workerd)`,
        result: figure(floorResult.answer),
        limit: "no OAuth code, no store",
      },
      {
        scenario: "",
        measure: "  the same with one store request (a GET fetched from the bridge, no client library)",
        result: figure(floorResult.fetch),
        ratio: `one store request: +${ms(fetchCost)} CPU/req`,
      },
    );
    rows.push({
      scenario: "",
      measure: "  store requests (a fetch each) per request, ours, one at a time, 20 of each",
      result: `code ${perOp("code")}; refresh ${perOp("refresh")}; exchange ${perOp("exchange")}; client credentials ${perOp("clientCredentials")}`,
      limit: "in-memory peer: none",
    });
    rows.push(
      {
        scenario: "",
        measure: `client credentials, c${CONCURRENCY}, median of ${AUTH_ROUNDS} rounds: this project's auth tier (own workerd)`,
        result: figure(oursCc),
      },
      {
        scenario: "",
        measure: "  client credentials: oidc-provider, JWT access tokens (own Node process)",
        result: figure(oidcResult),
        limit: "peer (own process)",
        ratio: ratios(oursCc, oidcResult),
      },
    );
    const gwM = medianRound(gatewayRounds);
    const agM = medianRound(agentRounds);
    const gw = { perSecond: gwM.load.perSecond, p50: gwM.load.p50Ms, p99: gwM.load.p99Ms, cpu: gwM.cpuMsPerRequest };
    const ag = { perSecond: agM.load.perSecond, p50: agM.load.p50Ms, p99: agM.load.p99Ms, cpu: agM.cpuMsPerRequest };
    const throughputRatio = gw.perSecond / ag.perSecond;
    rows.push(
      {
        scenario: "",
        measure: `gateway warm tools/call, ${CONCURRENCY} sessions (median of ${MCP_ROUNDS} rounds)`,
        result: `${rate(gw.perSecond)}, ${ms(gw.p50)} / ${ms(gw.p99)}; CPU ${ms(gw.cpu)}/call`,
      },
      {
        scenario: "",
        measure: "  tools/call: agents McpAgent, same echo tool, no auth, no policy",
        result: `${rate(ag.perSecond)}, ${ms(ag.p50)} / ${ms(ag.p99)}; CPU ${ms(ag.cpu)}/call`,
        limit: "peer (own workerd)",
        ratio: `gateway: ${x(throughputRatio)} throughput, ${x(gw.p50 / ag.p50)} p50, ${x(gw.cpu / ag.cpu)} CPU/call`,
        target: { text: "gateway ≥ 2× McpAgent's throughput", verdict: verdict(throughputRatio >= 2) },
      },
      {
        scenario: "",
        measure: `  tools/call serial, one session each (${MCP_SERIAL} pairs, one after the other)`,
        result: `gateway ${both(serial.a)}`,
        limit: `McpAgent ${both(serial.b)}`,
        ratio: `gateway: ${x(serial.a.p50Ms / serial.b.p50Ms)} p50`,
      },
    );
    Object.assign(data, {
      concurrency: CONCURRENCY,
      auth: {
        rounds,
        medians: { ours, workersOAuthProvider: peerResults },
        clientCredentials: { rounds: ccRounds, ours: oursCc, oidcProvider: oidcResult },
        floor: { rounds: floorRounds, answer: floorResult.answer, fetch: floorResult.fetch },
        storeRequestsPerRequest: storeRequests,
      },
      mcp: { gatewayRounds, agentRounds, serial },
    });
  } finally {
    http.close();
    await Promise.all(started.map((p) => p.dispose().catch(() => undefined)));
  }
  return {
    rows,
    data,
    notes: [
      `8: each side over HTTP on loopback from the same load generator, ${CONCURRENCY} requests in flight, the sides taking turns (auth and client credentials: ${AUTH_ROUNDS} rounds each; tools/call: ${MCP_ROUNDS}), figures the median of the rounds; CPU/req is the side's own process (utime + stime from /proc across its run, divided by the requests it answered): this project's auth tier alone in a workerd of its own (not the Redis bridge or Redis), each workers-oauth-provider in its own workerd (with local KV, Miniflare's KV simulator runs in that process), oidc-provider in its own Node process, the McpAgent in its own workerd, and the gateway's workerd (the gateway with its auth tier and the idle bench workers; the fast upstream is in the load generator). Ratios are ours / the peer's: above 1× is better for throughput, below 1× for p50 and CPU. The gateway forwards each call to the upstream; the McpAgent answers in its Durable Object. workers-oauth-provider's token exchange narrows the scope of a token its own grant issued (the audience cannot change); ours exchanges a session's token for the upstream's audience and looks its revocation up in Redis every time. The platform floor is a worker with no OAuth code in a workerd of its own, reading the exchange's form and answering, with and without one store request (a GET fetched from the bridge). The store-requests row is counted afterwards on a second copy of the tier behind a proxy in front of the bridge, one request at a time (at c16, exchanges share their MGETs).`,
    ],
  };
}
