import { connect } from "node:net";
import { freePort } from "../../scripts/free-port.js";

export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

/** Fails the run at once, with the fix, when no Redis answers at REDIS_URL. */
export async function requireRedis(): Promise<void> {
  const url = new URL(REDIS_URL);
  const reachable = await new Promise<boolean>((resolve) => {
    const socket = connect({ host: url.hostname, port: Number(url.port || 6379) });
    socket.setTimeout(2_000);
    socket.once("connect", () => {
      socket.end();
      resolve(true);
    });
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(false));
  });
  if (!reachable) {
    throw new Error(`No Redis answers at ${REDIS_URL}. Start one (redis-server --daemonize yes) or set REDIS_URL.`);
  }
}

/**
 * A TCP port on loopback where nothing listens, for "Redis is down" cases: a free one from
 * outside the ephemeral range, where no runtime started by another test can land on it.
 */
export function closedPort(): Promise<number> {
  return freePort();
}
