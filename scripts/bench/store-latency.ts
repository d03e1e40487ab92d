// Scenario 7, token exchange with the store a round trip away: the same auth tier, its Redis behind
// a proxy that adds STORE_LATENCY_MS to every command (stack.ts, auth-far). An exchange needs one
// store round trip, its revocation lookup; concurrent exchanges share MGETs
// (src/auth/store/batched-lookups.ts), and one that arrives while another's MGET is on its way must
// not wait for that round trip before its own. Target: at concurrency 16, p50 ≤ round trip + 5 ms.
// The round trip beside it is measured in the same run: a Redis command fetched from inside workerd
// through the proxy and the bridge, as the tier's store makes it; a lone exchange (concurrency 1)
// is printed too, since it is one round trip plus the exchange's own work.
import type { RoundTripRequest } from "./bench-protocol.js";
import { closedLoop, httpClient, median, type LoadResult } from "./load.js";
import { ms, verdict, type Row, type ScenarioResult } from "./report.js";
import { STORE_LATENCY_MS, type BenchStack } from "./stack.js";
import { exchangeBody, freshSubjectTokens } from "./token-exchange.js";

const CONCURRENCY = 16;
const EXCHANGES = 480;

export async function benchStoreLatency(stack: BenchStack): Promise<ScenarioResult> {
  const http = httpClient(CONCURRENCY);
  const store = stack.farAuth.store;
  // The round trip as the tier sees it: a Redis command fetched from inside workerd.
  const request: RoundTripRequest = {
    url: store.url,
    headers: { Authorization: `Bearer ${stack.redis.token}`, "Content-Type": "application/json" },
    body: JSON.stringify(["get", "aig:bench:round-trip"]),
    n: 40,
  };
  const timing = await fetch(`${stack.benchUrl}/round-trip`, { method: "POST", body: JSON.stringify(request) });
  if (!timing.ok) throw new Error(`timing the far store failed: ${timing.status} ${await timing.text()}`);
  const roundTrips = (await timing.json()) as number[];
  const roundTrip = median(roundTrips);

  const [subject] = await freshSubjectTokens(stack, 1, stack.farAuth.url);
  const body = exchangeBody(subject!);
  const headers = {
    "Content-Type": "application/x-www-form-urlencoded",
    Accept: "application/json",
    Authorization: stack.exchangeClient.authorization,
  };
  const exchange = async () => {
    const answer = await http.send("POST", stack.farAuth.tokenEndpoint, headers, body);
    return answer.status === 200 ? undefined : `${answer.status} ${answer.body}`;
  };
  const check = (result: LoadResult, what: string) => {
    if (result.errors) throw new Error(`${what}: ${result.errors} failed, first: ${result.firstError}`);
    return result;
  };
  await closedLoop(CONCURRENCY, 160, exchange); // warm-up: JIT, connections, the subject's verification
  const lone = check(await closedLoop(1, 60, exchange), "exchanges, concurrency 1, far store");
  const seen = store.log().length;
  const concurrent = check(await closedLoop(CONCURRENCY, EXCHANGES, exchange), "exchanges, concurrency 16, far store");
  const mgets = store
    .log()
    .slice(seen)
    .filter((command) => command.body.toLowerCase().startsWith('["mget"')).length;
  http.close();

  const bound = roundTrip + 5;
  const rows: Row[] = [
    {
      scenario: "7 store latency",
      measure: `exchange under +${STORE_LATENCY_MS} ms Redis RTT, HTTP, concurrency 1`,
      result: `${ms(lone.p50Ms)} / ${ms(lone.p99Ms)}`,
      limit: `one store round trip ${ms(roundTrip)} (measured)`,
      ratio: `p50 ${(lone.p50Ms / roundTrip).toFixed(2)}× the round trip`,
    },
    {
      scenario: "",
      measure: `exchange under +${STORE_LATENCY_MS} ms Redis RTT: p50 vs RTT + 5 ms (concurrency ${CONCURRENCY})`,
      result: `${ms(concurrent.p50Ms)} / ${ms(concurrent.p99Ms)}`,
      limit: `round trip + 5 ms = ${ms(bound)}`,
      ratio: `p50 ${(concurrent.p50Ms / lone.p50Ms).toFixed(2)}× a lone exchange's; ${(EXCHANGES / Math.max(1, mgets)).toFixed(1)} exchanges per MGET`,
      target: { text: "p50 ≤ round trip + 5 ms", verdict: verdict(concurrent.p50Ms <= bound) },
    },
  ];
  return {
    rows,
    data: { addedLatencyMs: STORE_LATENCY_MS, roundTripMs: roundTrip, roundTrips, lone, concurrent, mgets },
    notes: [
      `7: the auth tier with its Redis behind a proxy adding ${STORE_LATENCY_MS} ms to every command; one subject token (verified once, revocation looked up on every exchange), Node's HTTP load on loopback. The round trip is a GET fetched from inside workerd through that proxy and the bridge, median of 40 (workerd's clock moves in 1 ms steps).`,
    ],
  };
}
