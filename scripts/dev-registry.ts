// wrangler's dev registry as `npm run dev` meets it (docs/dev-stack.md). Each `wrangler dev`
// writes one file per worker into the registry directory — the worker's name, holding the address
// of its runtime's debug port — and refreshes it every 10 s; a service binding (the gateway's AUTH)
// connects to the address it finds there. A wrangler that dies without unregistering (killed, or
// stopped while its runtime hung) leaves its file behind, and a new `wrangler dev` for the same
// worker declines to register while that file is younger than 90 s: for that long the gateway's
// binding dials a dead port ("Network connection lost") although the restarted auth tier answers
// on its own port. Whoever starts the tier again removes such a file first: one whose debug port
// nothing listens on any more belongs to no running wrangler.
import { readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";

/** The worker name a wrangler configuration declares (its top-level `name = "…"`). */
export function workerName(wranglerToml: string): string {
  const name = /^name\s*=\s*"([^"]+)"/m.exec(wranglerToml)?.[1];
  if (!name) throw new Error("the wrangler configuration declares no name");
  return name;
}

/** Whether something accepts TCP connections at `host:port`. */
function accepts(address: string, timeoutMs = 1_000): Promise<boolean> {
  const at = address.lastIndexOf(":");
  return new Promise((resolve) => {
    const socket = connect({ host: address.slice(0, at).replace(/^\[|\]$/g, ""), port: Number(address.slice(at + 1)) });
    socket.setTimeout(timeoutMs);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("timeout", () => {
      // No answer within the time is not "nothing there" (a busy machine): keep the file.
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/**
 * Removes `worker`'s file from the registry at `registry` when the runtime it names is gone;
 * true when it did. A file of a live runtime (another stack sharing the registry) stays.
 */
export async function forgetDeadRegistration(registry: string, worker: string): Promise<boolean> {
  const file = join(registry, worker);
  let address: unknown;
  try {
    address = (JSON.parse(readFileSync(file, "utf8")) as { debugPortAddress?: unknown }).debugPortAddress;
  } catch {
    return false; // no file, or one being written
  }
  if (typeof address !== "string" || (await accepts(address))) return false;
  rmSync(file, { force: true });
  return true;
}
