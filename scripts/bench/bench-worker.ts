// The benchmark's own worker, run in workerd beside the two tiers (scripts/bench/stack.ts):
//
// - POST /crypto: the crypto limit. Loops over the auth tier's own JWT code (mintAccessToken and
//   verifyAccessToken from src/auth/tokens/jwt.ts, keys from src/auth/keys.ts), or over bare
//   crypto.subtle on the same bytes for comparison. The revocation check, the one I/O in
//   verifyAccessToken, is answered from memory: this is the cost of the cryptography and the JWT
//   work around it, nothing else.
// - POST /round-trip: times requests to a URL from inside workerd (e.g. a Redis command, as the
//   auth tier's store makes it).
// - POST /loop: requests through the AUTH service binding (token exchanges, as the gateway makes
//   them), in a closed loop at a given concurrency. Running the loop here rather than in Node keeps
//   Node's HTTP client out of the figure: what is measured is the auth tier behind a binding.
//
// workerd's clocks only advance on I/O (a Spectre mitigation), so this worker cannot time its own
// loops; the Node side times each batch by its request's wall time.
import { DurableObject } from "cloudflare:workers";
import { loadKeyRing, type KeyRing, type PrivateJwk } from "../../src/auth/keys.js";
import type { ProviderContext } from "../../src/auth/provider-context.js";
import { mintAccessToken, verifyAccessToken } from "../../src/auth/tokens/jwt.js";
import type { BindingLoopRequest, BindingLoopResult, CryptoRequest, RoundTripRequest } from "./bench-protocol.js";

/**
 * The platform's floor for a gateway tool call: a Durable Object that answers a small RPC at
 * once, or after forwarding the message to an upstream with fetch (what McpSession does around
 * its own code).
 */
export class FloorSession extends DurableObject {
  async answer(): Promise<unknown> {
    return { jsonrpc: "2.0", id: 1, result: {} };
  }

  /**
   * What a new MCP session stores, without the gateway: one key of about its size and an alarm
   * (its idle timeout). The scale scenario opens thousands to see what an object alone keeps.
   */
  async open(): Promise<unknown> {
    await this.ctx.storage.put("context", { opened: Date.now(), padding: "x".repeat(300) });
    await this.ctx.storage.setAlarm(Date.now() + 3_600_000);
    return { jsonrpc: "2.0", id: 1, result: {} };
  }

  /** What ending a session does to its object, without the gateway: the alarm and every key go. */
  async close(): Promise<unknown> {
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    return { jsonrpc: "2.0", id: 1, result: {} };
  }

  override async alarm(): Promise<void> {
    await this.ctx.storage.deleteAll();
  }

  async forward(url: string, body: string, authorization: string): Promise<unknown> {
    const res = await fetch(url, {
      method: "POST",
      body,
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json, text/event-stream",
        Authorization: authorization,
      },
    });
    return res.json();
  }
}

interface Env {
  FLOOR: DurableObjectNamespace<FloorSession>;
  /** Private JWK sets by algorithm: { "ES256": "{\"keys\":[…]}", "EdDSA": … }, JSON. */
  BENCH_KEYS: string;
  AUTH: { fetch(request: Request): Promise<Response> };
}

const ISSUER = "https://bench.invalid";
const AUDIENCE = "https://gateway.bench.invalid/mcp";
const rings = new Map<string, Promise<KeyRing>>();

/** One key ring per algorithm, imported once per isolate (as the auth tier imports its own). */
function providerFor(env: Env, alg: CryptoRequest["alg"]): Promise<ProviderContext> {
  let ring = rings.get(alg);
  if (!ring) {
    const raw = (JSON.parse(env.BENCH_KEYS) as Record<string, string>)[alg]!;
    ring = loadKeyRing(raw, (JSON.parse(raw) as { keys: PrivateJwk[] }).keys);
    rings.set(alg, ring);
  }
  // Only what mintAccessToken and verifyAccessToken read; revocation answered without I/O.
  return ring.then(
    (keys) =>
      ({
        issuer: ISSUER,
        keys,
        store: { isRevoked: async () => false, currentEpoch: async () => "bench" },
      }) as unknown as ProviderContext,
  );
}

/** An access token of the size the auth tier issues to agents (RFC 9068 claims, two scopes). */
function tokenInput() {
  return {
    sub: "alice",
    clientId: "claude-desktop",
    scope: "tools:read tools:write",
    audience: AUDIENCE,
    ttlSec: 3600,
  };
}

/** Tokens minted by a `prepare` request for the next `verify` loop, which verifies each once. */
let prepared: string[] = [];

async function joseLoop(provider: ProviderContext, mode: CryptoRequest["mode"], n: number): Promise<void> {
  if (mode === "prepare") {
    prepared = [];
    for (let i = 0; i < n; i++) prepared.push((await mintAccessToken(provider, tokenInput())).token);
    return;
  }
  // Every token is new to the verifier: the auth tier remembers tokens it has verified, and
  // this is the limit of verifying, not of remembering.
  const tokens = mode === "verify" ? prepared.splice(0, n) : [];
  if (tokens.length < (mode === "verify" ? n : 0)) throw new Error(`verify needs ${n} prepared tokens`);
  for (let i = 0; i < n; i++) {
    const token = mode === "verify" ? tokens[i]! : (await mintAccessToken(provider, tokenInput())).token;
    if (mode !== "sign") await verifyAccessToken(provider, token, { audience: AUDIENCE });
  }
}

function subtleAlgorithm(alg: CryptoRequest["alg"]): SubtleCryptoSignAlgorithm {
  return alg === "ES256" ? { name: "ECDSA", hash: "SHA-256" } : { name: "Ed25519" };
}

async function subtleLoop(
  provider: ProviderContext,
  alg: CryptoRequest["alg"],
  mode: CryptoRequest["mode"],
  n: number,
): Promise<void> {
  const { signer, verifiers } = provider.keys;
  const publicKey = verifiers.get(signer.kid)!.key;
  const algorithm = subtleAlgorithm(alg);
  // The same bytes a JWS signs: base64url(header).base64url(payload) of a real access token.
  const token = (await mintAccessToken(provider, tokenInput())).token;
  const input = new TextEncoder().encode(token.slice(0, token.lastIndexOf(".")));
  const fixed = await crypto.subtle.sign(algorithm, signer.key, input);
  for (let i = 0; i < n; i++) {
    const signature = mode === "verify" ? fixed : await crypto.subtle.sign(algorithm, signer.key, input);
    if (mode !== "sign" && !(await crypto.subtle.verify(algorithm, publicKey, signature, input)))
      throw new Error("signature did not verify");
  }
}

async function bindingLoop(env: Env, request: BindingLoopRequest): Promise<BindingLoopResult> {
  const result: BindingLoopResult = { ok: 0, errors: 0 };
  let started = 0;
  const one = async (index: number) => {
    const init: RequestInit = { method: request.method, headers: request.headers };
    if (request.bodies?.length) init.body = request.bodies[index % request.bodies.length]!;
    const res = await env.AUTH.fetch(new Request(request.url, init));
    // The gateway reads every answer whole (token-exchange-client.ts); so does this loop.
    const text = await res.text();
    if (res.ok) result.ok++;
    else {
      result.errors++;
      result.firstError ??= `${res.status} ${text}`;
    }
  };
  const lane = async () => {
    while (started < request.n) await one(started++);
  };
  await Promise.all(Array.from({ length: Math.max(1, request.concurrency) }, lane));
  return result;
}

/**
 * Milliseconds each of `n` requests took, one after the other, as a worker's fetch sees them (the
 * clock advances on I/O, so a fetch is timed; in 1 ms steps).
 */
async function roundTrips(request: RoundTripRequest): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < request.n; i++) {
    const started = Date.now();
    const res = await fetch(request.url, { method: "POST", headers: request.headers, body: request.body });
    await res.text();
    if (!res.ok) throw new Error(`round trip answered ${res.status}`);
    times.push(Date.now() - started);
  }
  return times;
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const path = new URL(request.url).pathname;
    try {
      if (path === "/crypto") {
        const body = (await request.json()) as CryptoRequest;
        const provider = await providerFor(env, body.alg);
        if (body.impl === "jose") await joseLoop(provider, body.mode, body.n);
        else await subtleLoop(provider, body.alg, body.mode, body.n);
        return Response.json({ n: body.n });
      }
      if (path.startsWith("/floor/")) {
        // What every gateway request pays before any gateway code runs: the request, a Durable
        // Object hop, the answer. `none` answers here, without the object.
        const kind = path.slice("/floor/".length);
        const body = await request.text();
        if (kind === "none") return Response.json({ jsonrpc: "2.0", id: 1, result: {} });
        const stub = env.FLOOR.get(env.FLOOR.idFromName(request.headers.get("Mcp-Session-Id") ?? "floor"));
        if (kind === "forward")
          return Response.json(
            await stub.forward(request.headers.get("X-Upstream")!, body, request.headers.get("Authorization") ?? ""),
          );
        if (kind === "open") return Response.json(await stub.open());
        if (kind === "close") return Response.json(await stub.close());
        return Response.json(await stub.answer());
      }
      if (path === "/loop") return Response.json(await bindingLoop(env, (await request.json()) as BindingLoopRequest));
      if (path === "/round-trip") return Response.json(await roundTrips((await request.json()) as RoundTripRequest));
      return new Response("not found", { status: 404 });
    } catch (err) {
      return new Response(String((err as Error).stack ?? err), { status: 500 });
    }
  },
};
