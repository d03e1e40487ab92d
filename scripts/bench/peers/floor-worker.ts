// Scenario 8's platform floor (docs/performance.md, Peers): what a token request costs a worker
// before any OAuth code runs, in a workerd of its own like the auth tier's. POST /answer reads the
// form body and answers JSON; POST /fetch does the same with one store request in between, a GET
// sent to the Redis bridge as the Upstash REST protocol has it (the request the auth tier's store
// sends, without its client library). Their CPU per request beside the auth tier's says how much
// of its figures is the platform's: a request answered, and each store request a `fetch`.
// Never deployed: the bench bundles it with wrangler and runs it in its own workerd.
interface FloorEnv {
  STORE_URL: string;
  STORE_TOKEN: string;
}

export default {
  async fetch(request: Request, env: FloorEnv): Promise<Response> {
    const { pathname } = new URL(request.url);
    const form = new URLSearchParams(await request.text());
    let stored: unknown = null;
    if (pathname === "/fetch") {
      const answer = await fetch(env.STORE_URL, {
        method: "POST",
        headers: { Authorization: `Bearer ${env.STORE_TOKEN}`, "Content-Type": "application/json" },
        body: JSON.stringify(["GET", "aig:bench:floor"]),
        signal: AbortSignal.timeout(2_000),
      });
      stored = ((await answer.json()) as { result: unknown }).result;
    } else if (pathname !== "/answer") {
      return new Response("not found", { status: 404 });
    }
    return Response.json({ grant_type: form.get("grant_type"), stored }, { headers: { "Cache-Control": "no-store" } });
  },
};
