// A local stand-in for Upstash Redis: an HTTP server speaking the Upstash REST protocol, exactly as
// @upstash/redis 1.39 uses it (its HttpClient and decode(), node_modules/@upstash/redis/chunk-*.mjs),
// in front of a real redis-server reached through ioredis.
//
//   POST /            ["SET","k","v"]             -> {"result": …}     (Redis error -> 400 {"error"})
//   POST /pipeline    [["SET","a","1"],["GET","a"]] -> [{"result"}|{"error"}, …]
//   POST /multi-exec  same body, run in MULTI/EXEC -> [{"result"}|{"error"}, …] (aborted -> 400)
//
// Run directly: UPSTASH_REDIS_REST_TOKEN=… tsx scripts/redis-bridge.ts [--token …]
import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { pathToFileURL } from "node:url";
import { Redis, ReplyError } from "ioredis";

export interface RedisBridgeOptions {
  redisUrl: string;
  token: string;
  port?: number; // 0 = a random free port
  host?: string; // default 127.0.0.1
  maxBodyBytes?: number; // default 10 MiB
}

export interface RedisBridge {
  url: string; // e.g. http://127.0.0.1:54321
  close(): Promise<void>;
}

type RedisCommand = [name: string, ...args: string[]];
type Route = (redis: Redis, body: unknown, base64: boolean) => Promise<unknown>;

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

// These change the state of the one connection every request shares (subscriber mode, selected db,
// an open MULTI, no replies), so they would corrupt other callers' replies.
const REFUSED = new Set(["subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe",
  "sunsubscribe", "monitor", "select", "quit", "reset", "hello", "auth", "multi", "exec",
  "discard", "watch", "unwatch", "client"]);

const OK = Buffer.from("OK");

export async function startRedisBridge(options: RedisBridgeOptions): Promise<RedisBridge> {
  if (!options.token) throw new Error("redis bridge: a non-empty token is required");
  const redis = connectRedis(options.redisUrl);
  await firstConnectionAttempt(redis);
  const tokenDigest = sha256(options.token);
  const maxBodyBytes = options.maxBodyBytes ?? 10 * 1024 * 1024;
  const server = createServer((req, res) => void handle(req, res, { redis, tokenDigest, maxBodyBytes }));
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject).listen(options.port ?? 0, host, resolve);
  }).catch((error: unknown) => {
    redis.disconnect(); // a live connection would keep the process from exiting
    throw error;
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    async close() {
      // close() waits for in-flight requests; idle keep-alive sockets (fetch pools them) would hold it open.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await closed;
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

function connectRedis(url: string): Redis {
  const redis = new Redis(url, {
    // Upstash answers with RESP2 shapes (flat arrays, doubles as strings); ioredis 6 defaults to RESP3.
    protocol: 2,
    // Fail fast while Redis is down instead of queueing, so callers see a 503 within their timeout.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    // A resent write (INCR, …) after a reconnect could run twice; let the caller decide to retry.
    autoResendUnfulfilledCommands: false,
    connectTimeout: 2_000,
    retryStrategy: (times) => Math.min(times * 100, 1_000),
  });
  // Failures reach callers per request (503); without a listener ioredis logs every reconnect attempt.
  redis.on("error", () => {});
  return redis;
}

/** Waits for the first connect to succeed or fail, so a fresh bridge does not answer 503 while connecting. */
function firstConnectionAttempt(redis: Redis): Promise<void> {
  if (redis.status === "ready") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      redis.off("ready", done).off("error", done);
      resolve();
    };
    redis.once("ready", done).once("error", done);
  });
}

interface Context { redis: Redis; tokenDigest: Buffer; maxBodyBytes: number }

const ROUTES = new Map<string, Route>([
  ["/", single],
  ["/pipeline", (redis, body, base64) => batch(redis.pipeline(), toCommands(body), base64)],
  ["/multi-exec", (redis, body, base64) => batch(redis.multi(), toCommands(body), base64)],
]);

async function handle(req: IncomingMessage, res: ServerResponse, ctx: Context): Promise<void> {
  try {
    if (!authorized(req.headers.authorization, ctx.tokenDigest)) throw new HttpError(401, "Unauthorized");
    if (req.method !== "POST") throw new HttpError(405, "Method not allowed: use POST");
    const route = ROUTES.get((req.url ?? "/").split("?", 1)[0]!);
    if (!route) throw new HttpError(404, "Not found: use POST /, /pipeline or /multi-exec");
    const body = parseJson(await readBody(req, ctx.maxBodyBytes));
    // The client asks for base64 by default (HttpClient: responseEncoding ?? "base64").
    const base64 = String(req.headers["upstash-encoding"]).toLowerCase() === "base64";
    send(res, 200, await route(ctx.redis, body, base64));
  } catch (error) {
    const [status, message] = errorReply(error);
    if (res.headersSent) res.end();
    else send(res, status, { error: message });
  }
}

/** Redis's own error replies go back as 400 like Upstash's; our own bugs never leak a stack trace. */
function errorReply(error: unknown): [number, string] {
  if (error instanceof HttpError) return [error.status, error.message];
  if (error instanceof ReplyError) return [400, (error as Error).message];
  console.error("redis bridge: unexpected error", error);
  return [500, "Internal bridge error"];
}

function authorized(header: string | undefined, tokenDigest: Buffer): boolean {
  const given = /^Bearer (.+)$/.exec(header ?? "")?.[1] ?? "";
  // Equal-length digests make timingSafeEqual usable whatever the token length.
  return timingSafeEqual(sha256(given), tokenDigest) && given !== "";
}

const sha256 = (text: string): Buffer => createHash("sha256").update(text).digest();

/** Stops buffering past maxBytes but keeps draining, so the client can still read the 413. */
function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) reject(new HttpError(413, `Request body over ${maxBytes} bytes`));
      else chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", () => reject(new HttpError(400, "Request body aborted")));
  });
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    throw new HttpError(400, "ERR request body is not valid JSON");
  }
}

/** Accepts what the client's serializer emits: strings, numbers, booleans (objects arrive JSON-encoded). */
function toCommand(value: unknown): RedisCommand {
  if (!Array.isArray(value) || value.length === 0) {
    throw new HttpError(400, "ERR a command must be a non-empty JSON array");
  }
  const args = value.map((arg: unknown) => {
    if (typeof arg === "string") return arg;
    if (typeof arg === "number" || typeof arg === "boolean") return String(arg);
    throw new HttpError(400, "ERR command arguments must be strings, numbers or booleans");
  });
  if (REFUSED.has(args[0]!.toLowerCase())) {
    throw new HttpError(400, `ERR command '${args[0]}' is not supported by the bridge`);
  }
  return args as RedisCommand;
}

function toCommands(value: unknown): RedisCommand[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new HttpError(400, "ERR body must be a non-empty JSON array of commands");
  }
  return value.map(toCommand);
}

// ioredis keys its reply transformers by exact command name (Command.transformReply) while its flags
// are case-insensitive: upper-casing skips the transformer that would turn HGETALL into an object.
function asSent([name, ...args]: RedisCommand): [string, ...string[]] {
  return [name.toUpperCase(), ...args];
}

async function single(redis: Redis, body: unknown, base64: boolean): Promise<unknown> {
  const command = asSent(toCommand(body));
  const reply = await viaRedis(() => redis.callBuffer(...command));
  return { result: encodeReply(reply, base64, true) };
}

/** Pipelines and transactions: each slot gets its own {result} or {error}, like Upstash. */
async function batch(chain: ReturnType<Redis["pipeline"]>, commands: RedisCommand[], base64: boolean) {
  for (const command of commands) chain.callBuffer(...asSent(command));
  // A transaction aborted as a whole (EXECABORT) rejects here with a ReplyError -> 400.
  const replies = (await viaRedis(() => chain.exec())) ?? [];
  return replies.map(([error, reply]) => {
    if (!error) return { result: encodeReply(reply, base64, true) };
    if (error instanceof ReplyError) return { error: error.message };
    throw new HttpError(503, `Redis unavailable: ${error.message}`);
  });
}

/** Redis's own error replies pass through; anything else means Redis could not be reached. */
async function viaRedis<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof ReplyError) throw error;
    throw new HttpError(503, `Redis unavailable: ${(error as Error).message}`);
  }
}

/**
 * Mirrors the client's decode(): it base64-decodes every string at any depth except a top-level "OK",
 * and turns a non-array object into null. ioredis's buffer mode cannot tell a +OK status from a bulk
 * "OK"; sending both literally is safe because a base64 encoding never has length 2.
 */
function encodeReply(reply: unknown, base64: boolean, topLevel: boolean): unknown {
  if (reply === null || reply === undefined) return null;
  if (typeof reply === "number") return reply;
  if (Array.isArray(reply)) return reply.map((item) => encodeReply(item, base64, false));
  if (reply instanceof Error) return encodeString(Buffer.from(reply.message), base64, false);
  if (Buffer.isBuffer(reply)) return encodeString(reply, base64, topLevel);
  if (typeof reply === "object") {
    // Defensive: should a transformer ever produce a map, restore Redis's flat [field, value, …].
    return Object.entries(reply).flat().map((item) => encodeReply(item, base64, false));
  }
  return encodeString(Buffer.from(String(reply)), base64, topLevel);
}

function encodeString(bytes: Buffer, base64: boolean, topLevel: boolean): string {
  if (!base64) return bytes.toString("utf8");
  return topLevel && bytes.equals(OK) ? "OK" : bytes.toString("base64");
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(json),
    ...(status === 405 ? { Allow: "POST" } : {}),
  });
  res.end(json);
}

/** The startup line lands in terminals and CI logs; a password in REDIS_URL should not. */
function withoutPassword(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = "***";
  return parsed.href.replace(/\/$/, "");
}

async function main(): Promise<void> {
  const flag = process.argv.indexOf("--token");
  const token = (flag >= 0 ? process.argv[flag + 1] : undefined) ?? process.env.UPSTASH_REDIS_REST_TOKEN;
  if (!token) {
    console.error("redis bridge: set UPSTASH_REDIS_REST_TOKEN or pass --token <token>");
    process.exit(1);
  }
  const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
  const bridge = await startRedisBridge({ redisUrl, token, port: Number(process.env.BRIDGE_PORT ?? 8079) });
  console.log(`redis bridge listening on ${bridge.url} -> ${withoutPassword(redisUrl)}`);
  const stop = () => void bridge.close().then(() => process.exit(0));
  process.once("SIGINT", stop).once("SIGTERM", stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error("redis bridge:", error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
