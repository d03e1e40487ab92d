// Scenario 2, token exchange (RFC 8693) against the auth tier, compared with the crypto limit:
//
// - through the service binding: the bench worker runs the closed loop inside workerd and calls
//   the auth tier through its AUTH binding, as the gateway does; Node times each batch. workerd's
//   clocks only advance on I/O in 1 ms steps, so there is no per-request timing in there: the
//   latency shown is the mean, concurrency / throughput (Little's law, exact for a closed loop).
// - over HTTP: Node's load generator POSTs /token on loopback, timing every request.
//
// The subject token is the one an agent's session presents on every call: its signature is verified
// once and remembered, so each exchange signs one token and is compared with the sign rate. One
// extra row uses a new subject token for every exchange, so that the auth tier verifies every
// signature too: it is compared with the sign + verify rate.
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { Redis } from "@upstash/redis/cloudflare";
import { importJWK, SignJWT, type JWK } from "jose";
import { Store } from "../../src/auth/store/store.js";
import { GATEWAY_RESOURCE } from "../../test/helpers/auth-config.js";
import type { BindingLoopRequest, BindingLoopResult } from "./bench-protocol.js";
import type { CryptoLimits } from "./crypto.js";
import { closedLoop, httpClient, median } from "./load.js";
import { ms, percent, rate, verdict, type Row, type ScenarioResult } from "./report.js";
import { UPSTREAM_AUDIENCE, type BenchStack } from "./stack.js";

const CONCURRENCY = [1, 16, 64] as const;
const EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token";

export function exchangeBody(subjectToken: string): string {
  return new URLSearchParams({
    grant_type: EXCHANGE,
    subject_token: subjectToken,
    subject_token_type: ACCESS_TOKEN,
    requested_token_type: ACCESS_TOKEN,
    audience: UPSTREAM_AUDIENCE,
    scope: "tools:read",
    expires_in: "5",
  }).toString();
}

/** Subject tokens as the auth tier (at `issuer`) issues them to the agent, signed here with its own key. */
export async function freshSubjectTokens(stack: BenchStack, n: number, issuer = stack.authUrl): Promise<string[]> {
  const { keys } = JSON.parse(stack.benchKeys.ES256) as { keys: (JWK & { kid: string; activeFrom?: number })[] };
  const { activeFrom: _unused, ...jwk } = keys[0]!;
  const key = await importJWK(jwk, "ES256");
  const iat = Math.floor(Date.now() / 1000);
  // Under the store's epoch, as the tier stamps what it issues (a token without one is refused).
  const ep = await new Store(
    new Redis({ ...stack.redis, automaticDeserialization: false, enableTelemetry: false }),
  ).currentEpoch();
  return Promise.all(
    Array.from({ length: n }, () =>
      new SignJWT({
        client_id: "bench-agent",
        scope: "tools:read tools:write",
        jti: randomBytes(16).toString("base64url"),
        ep,
      })
        .setProtectedHeader({ alg: "ES256", kid: jwk.kid, typ: "at+jwt" })
        .setIssuer(issuer)
        .setSubject("bench-agent")
        .setAudience(GATEWAY_RESOURCE)
        .setIssuedAt(iat)
        .setNotBefore(iat)
        .setExpirationTime(iat + 600)
        .sign(key),
    ),
  );
}

/** Median per-second of `batches` closed-loop batches through the binding. */
async function throughBinding(
  stack: BenchStack,
  concurrency: number,
  n: number,
  bodies: string[],
  batches = 3,
): Promise<number> {
  const rates: number[] = [];
  for (let i = 0; i < batches; i++) {
    const request: BindingLoopRequest = {
      concurrency,
      n,
      url: stack.tokenEndpoint,
      method: "POST",
      headers: {
        "Content-Type": "application/x-www-form-urlencoded",
        Accept: "application/json",
        Authorization: stack.exchangeClient.authorization,
      },
      bodies,
    };
    const started = performance.now();
    const res = await fetch(`${stack.benchUrl}/loop`, { method: "POST", body: JSON.stringify(request) });
    const result = (await res.json()) as BindingLoopResult;
    const elapsed = performance.now() - started;
    if (result.errors) throw new Error(`token exchange through the binding failed: ${result.firstError}`);
    rates.push((n / elapsed) * 1000);
  }
  return median(rates);
}

export async function benchTokenExchange(stack: BenchStack, limits: CryptoLimits): Promise<ScenarioResult> {
  const subject = await stack.agentToken();
  const body = exchangeBody(subject);
  // What really bounds each figure: an exchange whose subject token the tier has verified before
  // signs one token and verifies none (its verification is remembered); a new subject costs a
  // verification and a signature.
  const limit = limits.sign.ES256;
  const limitText = `sign limit ${rate(limit)} (one ES256 signature)`;
  const pairLimit = limits.pair.ES256;
  const pairLimitText = `sign + verify limit ${rate(pairLimit)} (ES256)`;
  const rows: Row[] = [];
  const data: Record<string, unknown> = { signLimitPerSecond: limit, signVerifyLimitPerSecond: pairLimit };
  const http = httpClient(64);
  const headers = {
    "Content-Type": "application/x-www-form-urlencoded",
    Accept: "application/json",
    Authorization: stack.exchangeClient.authorization,
  };
  // Warm-up: JIT, key import, connection pools on both paths.
  await throughBinding(stack, 16, 300, [body], 1);
  await closedLoop(16, 300, async () => {
    await http.send("POST", stack.tokenEndpoint, headers, body);
    return undefined;
  });

  for (const concurrency of CONCURRENCY) {
    const n = concurrency === 1 ? 400 : 1500;
    const perSecond = await throughBinding(stack, concurrency, n, [body]);
    const ratio = perSecond / limit;
    rows.push({
      scenario: concurrency === 1 ? "2 token exchange" : "",
      measure: `service binding, concurrency ${concurrency}`,
      result: `${rate(perSecond)}, mean ${ms((concurrency / perSecond) * 1000)}`,
      limit: limitText,
      ratio: percent(ratio),
    });
    const overHttp = await closedLoop(concurrency, n, async () => {
      const answer = await http.send("POST", stack.tokenEndpoint, headers, body);
      return answer.status === 200 ? undefined : `${answer.status} ${answer.body}`;
    });
    if (overHttp.errors) throw new Error(`token exchange over HTTP failed: ${overHttp.firstError}`);
    rows.push({
      scenario: "",
      measure: `HTTP POST /token, concurrency ${concurrency}`,
      result: `${rate(overHttp.perSecond)}, ${ms(overHttp.p50Ms)} / ${ms(overHttp.p99Ms)}`,
      limit: limitText,
      ratio: percent(overHttp.perSecond / limit),
    });
    data[`c${concurrency}`] = { bindingPerSecond: perSecond, http: overHttp };
  }
  http.close();

  // Every exchange with a subject token the auth tier has not seen: one verify and one sign each.
  const perBatch = 1500;
  const fresh = (await freshSubjectTokens(stack, 3 * perBatch)).map(exchangeBody);
  const freshRates: number[] = [];
  for (let i = 0; i < 3; i++)
    freshRates.push(await throughBinding(stack, 16, perBatch, fresh.slice(i * perBatch, (i + 1) * perBatch), 1));
  const freshMedian = median(freshRates);
  rows.push({
    scenario: "",
    measure: "service binding, c16, new subject token each time",
    result: rate(freshMedian),
    limit: pairLimitText,
    ratio: percent(freshMedian / pairLimit),
    target: { text: "≥ 50 % of the sign + verify limit", verdict: verdict(freshMedian / pairLimit >= 0.5) },
  });
  data.c16NewSubjectEachTimePerSecond = freshMedian;
  return {
    rows,
    data,
    notes: [
      "2: binding = the bench worker's closed loop inside workerd through its AUTH service binding (mean latency = concurrency / throughput); HTTP = Node on loopback, per-request median / p99. One subject token (an agent session's), as the gateway presents it on every call; its signature is verified once, its revocation checked in Redis on every exchange, so the limit beside it is the sign rate. With a new subject token each time, the limit is the sign + verify rate.",
    ],
  };
}
