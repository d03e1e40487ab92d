// Scenario 6, sessions: how fast the gateway opens MCP sessions (initialize: bearer check, a new
// Durable Object, its first storage write and alarm), and what one session keeps in its storage,
// read from its SQLite file: right after initialize, and after a session's burst of tool calls
// (upstream session, cached token, catalog).
import { readdirSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { closedLoop, httpClient } from "./load.js";
import { ms, rate, type ScenarioResult } from "./report.js";
import type { BenchStack } from "./stack.js";

const CREATE = 600;
const CONCURRENCY = 16;

interface StorageSize {
  keys: number;
  /** Keys plus V8-serialized values, as the object's SQLite holds them. */
  bytes: number;
  /** The object's whole SQLite database (pages, the alarm and indexes included). */
  databaseBytes: number;
}

/**
 * Reads a session's SQLite file beside the running object (read-only; WAL mode lets it): the
 * Durable Object KV API keeps each key with its V8-serialized value in the `_cf_KV` table.
 */
async function storageSize(stack: BenchStack, sessionId: string): Promise<StorageSize> {
  const namespace = await stack.mf.getDurableObjectNamespace("MCP_SESSION", "gateway");
  const file = `${namespace.idFromName(sessionId).toString()}.sqlite`;
  const path = readdirSync(stack.doStorageDir, { recursive: true, encoding: "utf8" }).find((p) => basename(p) === file);
  if (!path) return { keys: 0, bytes: 0, databaseBytes: 0 };
  const full = join(stack.doStorageDir, path);
  const db = new DatabaseSync(full, { readOnly: true });
  try {
    const row = db
      .prepare("SELECT count(*) AS keys, coalesce(sum(length(key) + length(value)), 0) AS bytes FROM _cf_KV")
      .get() as { keys: number; bytes: number };
    return { keys: Number(row.keys), bytes: Number(row.bytes), databaseBytes: statSync(full).size };
  } finally {
    db.close();
  }
}

const bytes = (n: number) => `${Math.round(n).toLocaleString("en-US")} B`;

function average(sizes: StorageSize[]): StorageSize {
  const mean = (pick: (s: StorageSize) => number) => sizes.reduce((a, s) => a + pick(s), 0) / Math.max(1, sizes.length);
  return { keys: mean((s) => s.keys), bytes: mean((s) => s.bytes), databaseBytes: mean((s) => s.databaseBytes) };
}

export async function benchSessions(
  stack: BenchStack,
  verifyLimitPerSecond: number,
  usedSessionIds: string[],
): Promise<ScenarioResult> {
  const http = httpClient(CONCURRENCY);
  const token = await stack.agentToken();
  const created: string[] = [];
  const initialize = JSON.stringify({
    jsonrpc: "2.0",
    id: 0,
    method: "initialize",
    params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "bench", version: "1.0.0" } },
  });
  const headers = {
    "Content-Type": "application/json",
    Accept: "application/json, text/event-stream",
    Authorization: `Bearer ${token}`,
  };
  const open = async () => {
    const answer = await http.send("POST", `${stack.gatewayUrl}/mcp`, headers, initialize);
    const id = answer.headers["mcp-session-id"];
    if (answer.status !== 200 || typeof id !== "string") return `${answer.status} ${answer.body.slice(0, 200)}`;
    created.push(id);
    return undefined;
  };
  await closedLoop(CONCURRENCY, 100, open); // warm-up
  const creation = await closedLoop(CONCURRENCY, CREATE, open);
  http.close();
  if (creation.errors) throw new Error(`session creation failed: ${creation.firstError}`);

  const fresh = average(await Promise.all(created.slice(-10).map((id) => storageSize(stack, id))));
  const used = average(await Promise.all(usedSessionIds.slice(0, 10).map((id) => storageSize(stack, id))));
  return {
    rows: [
      {
        scenario: "6 sessions",
        measure: `session creation (initialize), concurrency ${CONCURRENCY}`,
        result: `${rate(creation.perSecond)}, ${ms(creation.p50Ms)} / ${ms(creation.p99Ms)}`,
        limit: `ES256 verify ${rate(verifyLimitPerSecond)} (1)`,
        ratio: `${((creation.perSecond / verifyLimitPerSecond) * 100).toFixed(0)} %`,
      },
      {
        scenario: "",
        measure: "storage per session: new / after 50 calls",
        result: `${bytes(fresh.bytes)} (${fresh.keys} keys) / ${used.keys ? `${bytes(used.bytes)} (${used.keys} keys)` : "not run (4)"}`,
        limit: `SQLite file ${bytes(fresh.databaseBytes)} / ${used.keys ? bytes(used.databaseBytes) : "-"}`,
      },
    ],
    data: { creation, storageNew: fresh, storageAfterBurst: used },
    notes: [
      "6: storage = keys plus V8-serialized values as the Durable Object stores them, read from the object's SQLite file; the file's size (pages, alarm, indexes, WAL not included) beside it.",
    ],
  };
}
