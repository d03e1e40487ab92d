// A loopback port that is free now and that the kernel will not hand out on its own.
//
// Asking the kernel for port 0 and closing the listener is a race: the port goes back to the
// ephemeral range, where the next outbound connection or listen(0) anywhere on the machine may take
// it before the runtime we pass it to binds it (CI saw "Address already in use" this way). Ports
// below the ephemeral range are only ever taken by someone naming them, so picking one at random
// there, and checking it binds, leaves only the picks of other callers of this function to collide,
// which the random choice over thousands of ports makes rare.
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";

const LOWEST = 20_000;

/** The first port of the kernel's ephemeral range (Linux default 32768). */
function ephemeralStart(): number {
  try {
    const first = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(first) && first > LOWEST + 1_000 ? first : 32_768;
  } catch {
    return 32_768;
  }
}

const HIGHEST = ephemeralStart() - 1;

async function binds(port: number): Promise<boolean> {
  const server = createServer();
  server.listen(port, "127.0.0.1");
  try {
    await Promise.race([once(server, "listening"), once(server, "error").then(([error]) => Promise.reject(error))]);
  } catch {
    return false;
  }
  await new Promise((resolve) => server.close(resolve));
  return true;
}

/** A free TCP port on 127.0.0.1, outside the ephemeral range. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = LOWEST + Math.floor(Math.random() * (HIGHEST - LOWEST + 1));
    if (await binds(port)) return port;
  }
  throw new Error(`no free loopback port between ${LOWEST} and ${HIGHEST} after 200 tries`);
}
