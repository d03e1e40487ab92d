// Scenario 1, the crypto limit: JWT sign + verify per second inside workerd, through the auth
// tier's own code (bench-worker.ts), and bare crypto.subtle on the same bytes beside it. Timed
// from Node per batch (workerd's clocks do not move inside a loop without I/O); the request that
// carries a batch costs ~0.2 ms against 50-100 ms of work, so it is left in.
import { performance } from "node:perf_hooks";
import type { CryptoRequest } from "./bench-protocol.js";
import { median } from "./load.js";
import { rate, us, type ScenarioResult } from "./report.js";
import type { BenchStack } from "./stack.js";

export type Algorithm = CryptoRequest["alg"];

export interface CryptoLimits {
  /** Auth-tier code, one sign + one verify, per second (median of batches). */
  pair: Record<Algorithm, number>;
  sign: Record<Algorithm, number>;
  verify: Record<Algorithm, number>;
}

const BATCHES = 5;

async function batch(stack: BenchStack, request: CryptoRequest): Promise<number> {
  const send = (body: CryptoRequest) =>
    fetch(`${stack.benchUrl}/crypto`, { method: "POST", body: JSON.stringify(body) });
  if (request.impl === "jose" && request.mode === "verify") await (await send({ ...request, mode: "prepare" })).text();
  const started = performance.now();
  const res = await send(request);
  const body = await res.text();
  const elapsed = performance.now() - started;
  if (!res.ok) throw new Error(`crypto batch failed: ${res.status} ${body}`);
  return (request.n / elapsed) * 1000;
}

/** Per second: median and slowest of BATCHES batches of `n`, after one warm-up batch. */
async function measure(stack: BenchStack, request: CryptoRequest): Promise<{ median: number; slowest: number }> {
  await batch(stack, { ...request, n: Math.ceil(request.n / 4) });
  const rates: number[] = [];
  for (let i = 0; i < BATCHES; i++) rates.push(await batch(stack, request));
  return { median: median(rates), slowest: Math.min(...rates) };
}

export async function benchCrypto(stack: BenchStack): Promise<{ limits: CryptoLimits; result: ScenarioResult }> {
  const limits: CryptoLimits = {
    pair: { ES256: 0, EdDSA: 0 },
    sign: { ES256: 0, EdDSA: 0 },
    verify: { ES256: 0, EdDSA: 0 },
  };
  const rows: ScenarioResult["rows"] = [];
  const data: Record<string, unknown> = {};
  for (const alg of ["ES256", "EdDSA"] as const) {
    const jose = await measure(stack, { alg, impl: "jose", mode: "pair", n: 400 });
    const subtle = await measure(stack, { alg, impl: "subtle", mode: "pair", n: 400 });
    const sign = await measure(stack, { alg, impl: "jose", mode: "sign", n: 800 });
    const verify = await measure(stack, { alg, impl: "jose", mode: "verify", n: 800 });
    limits.pair[alg] = jose.median;
    limits.sign[alg] = sign.median;
    limits.verify[alg] = verify.median;
    data[alg] = {
      authTierPairPerSecond: jose,
      subtlePairPerSecond: subtle,
      signPerSecond: sign,
      verifyPerSecond: verify,
    };
    rows.push(
      {
        scenario: "1 crypto limit",
        measure: `${alg} sign+verify, auth-tier code (jose)`,
        result: `${rate(jose.median, " pairs/s")} (${us(1e6 / jose.median)}/pair; slowest batch ${rate(jose.slowest)})`,
        limit: `crypto.subtle alone ${rate(subtle.median)}`,
        ratio: `${((jose.median / subtle.median) * 100).toFixed(0)} % of subtle`,
      },
      {
        scenario: "",
        measure: `${alg} sign / verify alone (jose)`,
        result: `${us(1e6 / sign.median)} / ${us(1e6 / verify.median)} per token`,
      },
    );
  }
  return {
    limits,
    result: {
      rows,
      data,
      notes: [
        "1: one workerd thread; mintAccessToken + verifyAccessToken from src/auth/tokens/jwt.ts with the revocation lookup answered from memory; every verified token is new (the verifier's cache never hits).",
      ],
    },
  };
}
