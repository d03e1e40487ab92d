// A local stand-in for Upstash Redis: an HTTP server speaking the Upstash REST protocol, exactly as
// @upstash/redis 1.39 uses it (its HttpClient and decode(), node_modules/@upstash/redis/chunk-*.mjs),
// in front of a real redis-server reached through ioredis.
//
//   POST /            ["SET","k","v"]             -> {"result": …}     (Redis error -> 400 {"error"})
//   POST /pipeline    [["SET","a","1"],["GET","a"]] -> [{"result"}|{"error"}, …]
//   POST /multi-exec  same body, run in MULTI/EXEC -> [{"result"}|{"error"}, …] (aborted -> 400)
//
// It runs what Upstash runs and no more: data commands and Lua scripting (EVAL, EVALSHA, SCRIPT
// LOAD/EXISTS), from an allow-list. Blocking commands (BLPOP, XREAD BLOCK, WAIT, …), pub/sub and
// administrative commands (CONFIG, KEYS, DEBUG, SHUTDOWN, REPLICAOF, ACL, MODULE, CLIENT, …) get
// Upstash's error shape, 400 {"error"}, before anything of the request runs. Requests are spread
// over a few Redis connections (the least busy one takes the next request), and a command that
// has no reply within `commandTimeoutMs` is answered 504 {"error"} and its connection replaced, so
// no single command holds up the others (docs/local-development.md, "Local Redis over the Upstash protocol").
//
// Run directly: UPSTASH_REDIS_REST_TOKEN=… tsx scripts/redis-bridge.ts (the token from the
// environment only: a command line is readable by every local user).
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
  /** Redis connections requests are spread over; default 4. */
  connections?: number;
  /** A request whose reply takes longer is answered 504 and its connection replaced; default 10 s. */
  commandTimeoutMs?: number;
}

export interface RedisBridge {
  url: string; // e.g. http://127.0.0.1:54321
  close(): Promise<void>;
}

type RedisCommand = [name: string, ...args: string[]];
type Route = (redis: Redis, body: unknown, base64: boolean) => Promise<unknown>;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

// What the bridge runs: the data commands Upstash serves, by name (lower case). Anything else is
// refused: blocking commands would park a connection (BLPOP, BRPOP, BLMOVE, BLMPOP, BZPOP*,
// BRPOPLPUSH, WAIT, WAITAOF), pub/sub and MONITOR turn a connection into a stream, SELECT, MULTI,
// WATCH, HELLO, AUTH, RESET and QUIT change the state of a connection other requests share, and
// administrative commands (CONFIG, KEYS, DEBUG, SHUTDOWN, SAVE, FLUSHALL, REPLICAOF, SLAVEOF,
// MIGRATE, ACL, MODULE, CLIENT, FUNCTION, …) are not a client's business.
const DATA_COMMANDS = new Set([
  // strings
  "get",
  "set",
  "setnx",
  "setex",
  "psetex",
  "getset",
  "getdel",
  "getex",
  "mget",
  "mset",
  "msetnx",
  "append",
  "strlen",
  "getrange",
  "setrange",
  "incr",
  "incrby",
  "incrbyfloat",
  "decr",
  "decrby",
  "lcs",
  // keys
  "del",
  "unlink",
  "exists",
  "expire",
  "pexpire",
  "expireat",
  "pexpireat",
  "expiretime",
  "pexpiretime",
  "ttl",
  "pttl",
  "persist",
  "type",
  "rename",
  "renamenx",
  "touch",
  "copy",
  "scan",
  "randomkey",
  "dbsize",
  // hashes
  "hget",
  "hset",
  "hsetnx",
  "hmget",
  "hmset",
  "hdel",
  "hexists",
  "hgetall",
  "hincrby",
  "hincrbyfloat",
  "hkeys",
  "hvals",
  "hlen",
  "hstrlen",
  "hscan",
  "hrandfield",
  // lists
  "lpush",
  "rpush",
  "lpushx",
  "rpushx",
  "lpop",
  "rpop",
  "llen",
  "lrange",
  "lindex",
  "lset",
  "lrem",
  "ltrim",
  "linsert",
  "lpos",
  "lmove",
  "lmpop",
  "rpoplpush",
  // sets
  "sadd",
  "srem",
  "smembers",
  "sismember",
  "smismember",
  "scard",
  "spop",
  "srandmember",
  "sinter",
  "sintercard",
  "sunion",
  "sdiff",
  "sinterstore",
  "sunionstore",
  "sdiffstore",
  "smove",
  "sscan",
  // sorted sets
  "zadd",
  "zrem",
  "zscore",
  "zmscore",
  "zincrby",
  "zcard",
  "zcount",
  "zrange",
  "zrangebyscore",
  "zrevrange",
  "zrevrangebyscore",
  "zrangebylex",
  "zrevrangebylex",
  "zlexcount",
  "zrank",
  "zrevrank",
  "zremrangebyrank",
  "zremrangebyscore",
  "zremrangebylex",
  "zpopmin",
  "zpopmax",
  "zmpop",
  "zscan",
  "zrandmember",
  "zunion",
  "zinter",
  "zdiff",
  "zintercard",
  "zunionstore",
  "zinterstore",
  "zdiffstore",
  "zrangestore",
  // bitmaps, HyperLogLog, geo
  "setbit",
  "getbit",
  "bitcount",
  "bitpos",
  "bitop",
  "bitfield",
  "bitfield_ro",
  "pfadd",
  "pfcount",
  "pfmerge",
  "geoadd",
  "geodist",
  "geohash",
  "geopos",
  "geosearch",
  "geosearchstore",
  // streams (XREAD and XREADGROUP without BLOCK, below)
  "xadd",
  "xlen",
  "xrange",
  "xrevrange",
  "xdel",
  "xtrim",
  "xack",
  "xpending",
  "xclaim",
  "xautoclaim",
  "xread",
  "xreadgroup",
  "xgroup",
  "xinfo",
  "xsetid",
  // scripting (SCRIPT only with LOAD or EXISTS, below)
  "eval",
  "evalsha",
  "eval_ro",
  "evalsha_ro",
  "script",
  // connection
  "ping",
  "echo",
  "time",
]);

/** SCRIPT subcommands a client may use: not FLUSH (everyone's scripts) nor KILL. */
const SCRIPT_SUBCOMMANDS = new Set(["load", "exists"]);

const OK = Buffer.from("OK");

export async function startRedisBridge(options: RedisBridgeOptions): Promise<RedisBridge> {
  if (!options.token) throw new Error("redis bridge: a non-empty token is required");
  const pool = new ConnectionPool(options.redisUrl, options.connections ?? 4);
  await pool.ready();
  const tokenDigest = sha256(options.token);
  const maxBodyBytes = options.maxBodyBytes ?? 10 * 1024 * 1024;
  const commandTimeoutMs = options.commandTimeoutMs ?? 10_000;
  const server = createServer(
    (req, res) => void handle(req, res, { pool, tokenDigest, maxBodyBytes, commandTimeoutMs }),
  );
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject).listen(options.port ?? 0, host, resolve);
  }).catch((error: unknown) => {
    pool.disconnect(); // a live connection would keep the process from exiting
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
      await pool.quit();
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

/**
 * A few connections to Redis. Each request takes the one with the fewest requests in flight, so a
 * request waiting on a slow reply holds up at most the requests already queued on its connection.
 */
class ConnectionPool {
  private readonly connections: { redis: Redis; inFlight: number }[];

  constructor(
    private readonly url: string,
    size: number,
  ) {
    if (!Number.isInteger(size) || size < 1) throw new Error("redis bridge: connections must be a positive integer");
    this.connections = Array.from({ length: size }, () => ({ redis: connectRedis(url), inFlight: 0 }));
  }

  ready(): Promise<void> {
    return Promise.all(this.connections.map(({ redis }) => firstConnectionAttempt(redis))).then(() => undefined);
  }

  /**
   * Runs `work` on the least busy connection. Past `timeoutMs` the caller gets a 504 and the
   * connection is replaced: whatever it waits for, the requests behind it must not wait too.
   */
  async run<T>(work: (redis: Redis) => Promise<T>, timeoutMs: number): Promise<T> {
    // A connection still (re)connecting would fail the request at once (no offline queue).
    const usable = this.connections.filter(({ redis }) => redis.status === "ready");
    const slot = (usable.length > 0 ? usable : this.connections).reduce((least, candidate) =>
      candidate.inFlight < least.inFlight ? candidate : least,
    );
    const redis = slot.redis;
    slot.inFlight++;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        if (slot.redis === redis) {
          // A fresh connection takes the slot; the stuck one is dropped (its other requests get 503).
          slot.redis = connectRedis(this.url);
          slot.inFlight = 0;
          redis.disconnect();
        }
        reject(new HttpError(504, `ERR command timed out after ${timeoutMs} ms`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([work(redis), timedOut]);
    } finally {
      clearTimeout(timer);
      if (slot.redis === redis) slot.inFlight--;
    }
  }

  disconnect(): void {
    for (const { redis } of this.connections) redis.disconnect();
  }

  async quit(): Promise<void> {
    await Promise.all(this.connections.map(({ redis }) => redis.quit().catch(() => redis.disconnect())));
  }
}

interface Context {
  pool: ConnectionPool;
  tokenDigest: Buffer;
  maxBodyBytes: number;
  commandTimeoutMs: number;
}

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
    // Base64 when the client asks (@upstash/redis before 1.40 by default); the auth tier's store asks for plain JSON.
    const base64 = String(req.headers["upstash-encoding"]).toLowerCase() === "base64";
    send(res, 200, await ctx.pool.run((redis) => route(redis, body, base64), ctx.commandTimeoutMs));
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
  const problem = commandProblem(args);
  if (problem) throw new HttpError(400, problem);
  return args as RedisCommand;
}

/** Why the bridge will not run `command` (an Upstash-style "ERR …" message), or null when it will. */
export function commandProblem(command: readonly string[]): string | null {
  const name = (command[0] ?? "").toLowerCase();
  const refused = (what: string) =>
    `ERR ${what} is not allowed: the bridge runs data commands and scripts only, as Upstash does`;
  if (!DATA_COMMANDS.has(name)) return refused(`command '${name}'`);
  if (name === "script" && !SCRIPT_SUBCOMMANDS.has((command[1] ?? "").toLowerCase()))
    return refused(`'script ${(command[1] ?? "").toLowerCase()}'`);
  if (name === "xread" || name === "xreadgroup") {
    // Options come before STREAMS; after it, every argument is a key or an id.
    const streams = command.findIndex((arg) => arg.toLowerCase() === "streams");
    const options = command.slice(1, streams < 0 ? command.length : streams);
    if (options.some((arg) => arg.toLowerCase() === "block")) return refused(`'${name}' with BLOCK`);
  }
  return null;
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
    return Object.entries(reply)
      .flat()
      .map((item) => encodeReply(item, base64, false));
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
  const token = process.env.UPSTASH_REDIS_REST_TOKEN;
  if (!token) {
    console.error("redis bridge: set UPSTASH_REDIS_REST_TOKEN (in the environment, never on the command line)");
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
